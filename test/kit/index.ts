// The test kit every suite uses: waiting (bounded), ports on loopback, running a program and
// showing what it said. One definition each; suite-specific helpers (the lab, the LB stand,
// the streaming server) live beside their suites and build on these.
import { spawnSync, SpawnSyncReturns } from "node:child_process";
import { connect, createServer } from "node:net";
import { resolve } from "node:path";
import assert from "node:assert/strict";

/** The checkout's root. */
export const REPO = resolve(__dirname, "..", "..");

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `probe` every `everyMs` until it returns a value other than undefined, null or false,
 * and returns that value; throws naming `what` (and the probe's last error) after `timeoutMs`.
 */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, everyMs = 50): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
        try {
            const v = await probe();
            if (v !== undefined && v !== null && v !== false) return v;
        } catch (e) {
            last = e;
        }
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ""}`);
        await sleep(everyMs);
    }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
    return new Promise((res, rej) => {
        const srv = createServer();
        srv.once("error", rej);
        srv.listen(0, "127.0.0.1", () => {
            const addr = srv.address();
            const port = typeof addr === "object" && addr ? addr.port : 0;
            srv.close(() => res(port));
        });
    });
}

/** True once something accepts a TCP connection on host:port. */
export function portAnswers(port: number, host = "127.0.0.1"): Promise<boolean> {
    return new Promise((res) => {
        const s = connect(port, host);
        s.on("connect", () => { s.destroy(); res(true); });
        s.on("error", () => res(false));
    });
}

/** Runs a program to its end (bounded), capturing its output as text. */
export function run(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): SpawnSyncReturns<string> {
    return spawnSync(cmd, args, { input: opts.input, encoding: "utf8", timeout: opts.timeoutMs ?? 20_000, env: opts.env, cwd: opts.cwd, killSignal: "SIGKILL" });
}

/** What a finished program said, for an assertion's message. */
export function show(r: SpawnSyncReturns<string>): string {
    return `exit ${r.status}${r.signal ? ` signal ${r.signal}` : ""}${r.error ? ` (${r.error.message})` : ""}\n--- stdout\n${r.stdout ?? ""}\n--- stderr\n${r.stderr ?? ""}`;
}

/** A program the test needs: a missing one fails the test with the install command, never skips it. */
export function requireProgram(name: string, debianPackage: string): void {
    const r = spawnSync("sh", ["-c", `command -v ${name}`]);
    assert.equal(r.status, 0, `${name} is not installed: run \`apt-get install -y ${debianPackage}\` (tools/install-deps.sh does)`);
}
