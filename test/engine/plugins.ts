// Starts a provider plugin that tools/toolchain.sh built and talks to it over gRPC the way the
// engine does, with the engine's own generated messages (@pulumi/pulumi/proto). Requests and
// responses are written as protobuf JSON (the form of upstream's recorded grpc.json files).
import { spawn, ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { ResourceProviderService } from "@pulumi/pulumi/proto/provider_grpc_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { REPO } from "./harness";

/** tools/versions.env as a map. */
export function pins(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of readFileSync(join(REPO, "tools", "versions.env"), "utf8").split("\n")) {
        const m = /^([A-Z_]+)=(\S+)$/.exec(line.trim());
        if (m) out[m[1]] = m[2];
    }
    return out;
}

/** The installed provider binary, where the engine looks for the pinned version. */
export function providerBinary(name: "command" | "random"): { path: string; version: string } {
    const version = pins()[`${name.toUpperCase()}_PLUGIN_VERSION`];
    assert.ok(version, `${name.toUpperCase()}_PLUGIN_VERSION missing in tools/versions.env`);
    const path = join(REPO, ".toolchain", "pulumi-home", "plugins", `resource-${name}-v${version}`, `pulumi-resource-${name}`);
    assert.ok(existsSync(path), `${path} is missing: run tools/toolchain.sh (tools/test.sh does)`);
    return { path, version };
}

/** The folder of upstream sources and recordings (see ../shared/upstream/README.md). */
export function upstreamDir(): string {
    const dir = process.env.PICLUSTER_UPSTREAM ?? join(REPO, "..", "shared", "upstream");
    assert.ok(existsSync(dir), `${dir} is missing: the upstream sources and recordings (../shared/upstream) are needed`);
    return dir;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

interface MethodDef {
    path: string;
    requestType: new () => Record<string, unknown>;
    responseDeserialize: (this: void, b: Buffer) => unknown;
    requestSerialize: (this: void, m: unknown) => Buffer;
}

const METHODS: Map<string, MethodDef> = new Map(
    Object.values(ResourceProviderService as unknown as Record<string, MethodDef>).map((d) => [d.path, d]),
);

function isPlainObject(v: unknown): v is JsonObject {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Protobuf JSON -> message: each key goes to the setter of that field; objects are Structs. */
function toMessage(def: MethodDef, json: JsonObject): unknown {
    const msg = new def.requestType();
    const proto = Object.getPrototypeOf(msg) as Record<string, unknown>;
    const setters = new Map(Object.getOwnPropertyNames(proto).filter((n) => n.startsWith("set")).map((n) => [n.toLowerCase(), n]));
    for (const [key, value] of Object.entries(json)) {
        const setter = setters.get(`set${key}`.toLowerCase());
        assert.ok(setter, `${def.path}: the request field "${key}" is not in the engine's ${def.requestType.name}`);
        const set = msg[setter] as (v: unknown) => void;
        set.call(msg, isPlainObject(value) ? Struct.fromJavaScript(value as never) : value);
    }
    return msg;
}

/** Message -> protobuf JSON as recorded: default values left out, Structs as plain objects. */
function toJson(msg: unknown): JsonObject {
    const m = msg as Record<string, unknown> & { toObject(): Record<string, unknown> };
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(m.toObject())) {
        const getter = m[`get${key[0].toUpperCase()}${key.slice(1)}`] as (() => unknown) | undefined;
        const got = getter ? getter.call(m) : value;
        let v: Json;
        if (got && typeof (got as { toJavaScript?: unknown }).toJavaScript === "function") {
            v = (got as { toJavaScript(): Json }).toJavaScript();
        } else if (Array.isArray(got)) {
            if (got.length === 0) continue;
            v = got.map((e) => (e && typeof (e as { toObject?: unknown }).toObject === "function" ? toJson(e) : e as Json));
        } else {
            v = value as Json;
        }
        if (v === false || v === "" || v === 0 || v === undefined || v === null) continue;
        out[key.replace(/List$/, "")] = v;
    }
    return out;
}

/** Response field names of protobuf JSON, lower-cased: the generated toObject() lower-cases some. */
export function normalizeKeys(o: JsonObject): JsonObject {
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
}

export interface Plugin {
    readonly port: number;
    readonly stderr: () => string;
    /** Calls e.g. "/pulumirpc.ResourceProvider/Check" with a protobuf JSON request. */
    call(method: string, request: JsonObject, timeoutMs?: number): Promise<JsonObject>;
    stop(): Promise<void>;
}

/** Starts the plugin with no arguments (no engine to log to); it prints its port first. */
export async function startPlugin(binary: string, env: NodeJS.ProcessEnv = process.env): Promise<Plugin> {
    const proc: ChildProcess = spawn(binary, [], { stdio: ["ignore", "pipe", "pipe"], env });
    let stderr = "";
    proc.stderr!.on("data", (d: Buffer) => { stderr += d.toString(); });
    const port = await new Promise<number>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error(`${binary} printed no port within 30 s; stderr:\n${stderr}`)), 30_000);
        proc.stdout!.on("data", (d: Buffer) => {
            out += d.toString();
            const m = /^(\d+)\s*\n/.exec(out);
            if (m) { clearTimeout(timer); resolve(Number(m[1])); }
        });
        proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`${binary} exited ${code} before printing its port; stderr:\n${stderr}`)); });
    });
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return {
        port,
        stderr: () => stderr,
        call(method, request, timeoutMs = 60_000) {
            const def = METHODS.get(method);
            assert.ok(def, `${method} is not a method of the engine's ResourceProvider service`);
            const msg = toMessage(def, request);
            return new Promise((resolve, reject) => {
                client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize,
                    msg, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(toJson(res))));
            });
        },
        async stop() {
            client.close();
            if (proc.exitCode === null) {
                const exited = new Promise((r) => proc.once("exit", r));
                proc.kill("SIGTERM");
                await exited;
            }
        },
    };
}
