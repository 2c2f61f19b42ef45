// Runs the real programs that read our rendered files (with the test kit's runner). A missing program is a test
// failure with the install command, never a skip.
import { SpawnSyncReturns } from "node:child_process";
import { mkdtempSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run as kitRun } from "../kit";

export { requireProgram } from "../kit";

export function run(cmd: string, args: string[], input?: string, timeoutMs = 20000): SpawnSyncReturns<string> {
    return kitRun(cmd, args, { input, timeoutMs });
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
