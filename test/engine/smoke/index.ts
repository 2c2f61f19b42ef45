// Smoke-test program for the project-local toolchain (run by run.sh): no resources, only
// stack outputs computed from plain and secret config, and a config-driven failure.
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();

if (config.get("x") === "bad") {
  throw new Error("config key x is bad");
}

export const greeting = `hello, ${config.require("name")}`;
export const token = config.requireSecret("token");
export const tokenLength = token.apply((t) => t.length);
