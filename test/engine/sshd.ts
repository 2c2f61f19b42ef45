// A throwaway OpenSSH server on loopback for engine tests: its own host key, one
// authorized key, root login by key only. Stopped by the test that started it.
import { spawn, spawnSync, ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { freePort, portAnswers, waitFor } from "../kit";

export interface Sshd {
    readonly port: number;
    readonly privateKey: string;
    /** "<type> <base64>" of the server's host key, for hostKey pinning. */
    readonly hostKey: string;
    stop(): void;
}

async function waitForPort(port: number, deadlineMs: number): Promise<void> {
    await waitFor(`sshd listening on ${port}`, deadlineMs, () => portAnswers(port), 100);
}

/** `hostKeyType` "rsa" gives the server only an RSA host key (as older Raspberry Pi images pin). */
export async function startSshd(opts: { hostKeyType?: "ed25519" | "rsa" } = {}): Promise<Sshd> {
    const sshdPath = "/usr/sbin/sshd";
    assert.equal(spawnSync("test", ["-x", sshdPath]).status, 0, "sshd missing: apt-get install -y openssh-server");
    const dir = mkdtempSync(join(tmpdir(), "picluster-sshd-"));
    const keygen = (file: string, type = "ed25519") => {
        const r = spawnSync("ssh-keygen", ["-q", "-t", type, ...(type === "rsa" ? ["-b", "3072"] : []), "-N", "", "-f", file]);
        assert.equal(r.status, 0, String(r.stderr));
    };
    keygen(join(dir, "host_key"), opts.hostKeyType ?? "ed25519");
    keygen(join(dir, "client_key"));
    writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client_key.pub")), { mode: 0o600 });
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const port = await freePort();
    writeFileSync(join(dir, "sshd_config"), [
        `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${join(dir, "host_key")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`, "PermitRootLogin prohibit-password",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
        `PidFile ${join(dir, "sshd.pid")}`, "LogLevel ERROR", "",
    ].join("\n"));
    const proc: ChildProcess = spawn(sshdPath, ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: "ignore" });
    await waitForPort(port, 5000);
    const pub = readFileSync(join(dir, "host_key.pub"), "utf8").trim().split(" ");
    return {
        port,
        privateKey: readFileSync(join(dir, "client_key"), "utf8"),
        hostKey: `${pub[0]} ${pub[1]}`,
        stop() {
            proc.kill("SIGTERM");
            rmSync(dir, { recursive: true, force: true });
        },
    };
}
