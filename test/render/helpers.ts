// Runs the real programs that read our rendered files. A missing program is a test
// failure with the install command, never a skip.
import { spawnSync, SpawnSyncReturns } from "node:child_process";
import { mkdtempSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

export function requireProgram(name: string, debianPackage: string): void {
    const r = spawnSync("sh", ["-c", `command -v ${name}`]);
    assert.equal(r.status, 0, `${name} is not installed: run \`apt-get install -y ${debianPackage}\` (tools/setup.sh does)`);
}

export function run(cmd: string, args: string[], input?: string, timeoutMs = 20000): SpawnSyncReturns<string> {
    return spawnSync(cmd, args, { input, encoding: "utf8", timeout: timeoutMs });
}

/** A fresh directory that the `nobody` user can read (xinetd runs services as nobody). */
export function tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    chmodSync(dir, 0o755);
    return dir;
}

export function writeTemp(dir: string, name: string, content: string, mode = 0o644): string {
    const path = join(dir, name);
    writeFileSync(path, content, { mode });
    chmodSync(path, mode);
    return path;
}

export function output(r: SpawnSyncReturns<string>): string {
    return `exit ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}
