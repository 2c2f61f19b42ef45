// The reboot wait runs on the operator's machine: here it watches a real loopback listener
// that goes away (the Pi shutting down) and comes back (the Pi booted), as a real Pi's sshd does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, Server } from "node:net";
import { renderAwaitRebootScript, REBOOT_MARKER } from "../../components/pi/scripts";
import { sleep } from "../kit";

function listen(port = 0): Promise<Server> {
    return new Promise((resolve, reject) => {
        const s = createServer((c) => c.destroy());
        s.once("error", reject);
        s.listen(port, "127.0.0.1", () => resolve(s));
    });
}
const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

function runWait(port: number, prepareOutput: string, timeoutSeconds: number, downWindowSeconds?: number): Promise<{ code: number | null; stdout: string; stderr: string; endedAt: number }> {
    const script = renderAwaitRebootScript({ host: "127.0.0.1", port, timeoutSeconds, downWindowSeconds });
    return new Promise((resolve) => {
        const p = spawn("/bin/bash", ["-c", script], { env: { ...process.env, PREPARE_OUTPUT: prepareOutput }, timeout: (timeoutSeconds + 20) * 1000 });
        let stdout = "";
        let stderr = "";
        p.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
        p.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
        p.on("close", (code) => resolve({ code, stdout, stderr, endedAt: Date.now() }));
    });
}

test("without a scheduled reboot the wait returns at once", async () => {
    const t0 = Date.now();
    const r = await runWait(1, "picluster: prepared", 5);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.endedAt - t0 < 2000);
});

test("the wait returns only after the port went down and came back, soon after it came back", async () => {
    let server = await listen();
    const port = (server.address() as { port: number }).port;
    const waiting = runWait(port, `picluster: hostname set\n${REBOOT_MARKER}\npicluster: prepared`, 30);
    await sleep(2500); // the old system still answers for a while
    await close(server);
    await sleep(3000); // dark, as a rebooting Pi is
    server = await listen(port);
    const backAt = Date.now();
    try {
        const r = await waiting;
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /127\.0\.0\.1 is back/);
        const late = r.endedAt - backAt;
        assert.ok(late >= 0 && late < 3000, `returned ${late} ms after the port came back`);
    } finally {
        await close(server);
    }
});

test("a wait that begins after the Pi came back (the engine queued it) goes on after the down window", async () => {
    const server = await listen();
    const port = (server.address() as { port: number }).port;
    try {
        const t0 = Date.now();
        const r = await runWait(port, REBOOT_MARKER, 30, 3);
        const took = Date.now() - t0;
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /did not go down within 3s of this wait: it rebooted before the wait began/);
        assert.match(r.stdout, /127\.0\.0\.1 is back/);
        // bash's SECONDS counts whole seconds of the clock, so a 3 s window lasts 2-3 s.
        assert.ok(took >= 2000 && took < 8000, `took ${took} ms`);
    } finally {
        await close(server);
    }
});

test("a Pi that never comes back fails in bounded time, naming the host", async () => {
    const server = await listen();
    const port = (server.address() as { port: number }).port;
    await close(server);
    const t0 = Date.now();
    const r = await runWait(port, REBOOT_MARKER, 4);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /127\.0\.0\.1 did not answer on port \d+ within 4s after its reboot/);
    assert.ok(Date.now() - t0 < 12_000);
});
