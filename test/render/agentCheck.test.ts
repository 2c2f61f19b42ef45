// Given fed 5-minute load figures on both sides of each threshold, the rendered
// agent-check answers what HAProxy should do; and through the real xinetd it is served
// as nobody on its port.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, connect } from "node:net";
import { renderAgentCheck, renderXinetdService } from "../../render/agentCheck";
import { output, requireProgram, run, tempDir, writeTemp } from "./helpers";

function answerFor(load5: string, cpus: number, opts: { busy?: number; overload?: number; apiReadyUrl?: string } = {}): string {
    const dir = tempDir("agent-");
    const loadavg = writeTemp(dir, "loadavg", `0.10 ${load5} 0.30 1/123 4567\n`);
    const script = writeTemp(dir, "check", renderAgentCheck({
        busyPercent: opts.busy ?? 90, overloadPercent: opts.overload ?? 100, loadavgPath: loadavg, cpuCount: cpus, apiReadyUrl: opts.apiReadyUrl,
    }), 0o755);
    const r = run("bash", [script]);
    assert.equal(r.status, 0, output(r));
    return r.stdout.trim();
}

const cases: [string, number, string][] = [
    ["0.00", 4, "up 100%"],
    ["1.00", 4, "up 100%"],
    ["3.56", 4, "up 100%"], // 89 %
    ["3.60", 4, "up 100%"], // exactly 90 %: the seed said "down" here
    ["0.90", 1, "up 100%"], // exactly 90 % on one CPU
    ["3.64", 4, "up 91%"], // 91 %: weight starts to fall
    ["3.80", 4, "up 51%"], // 95 %
    ["3.96", 4, "up 11%"], // 99 %
    ["4.00", 4, "up 1%"], // at the overload limit: lowest weight, still up
    ["12.50", 4, "up 1%"], // far past it: never taken out for load alone
    ["2", 1, "up 1%"], // a load written without decimals
    ["0.5", 1, "up 100%"], // one decimal digit
];

for (const [load, cpus, expected] of cases) {
    test(`given load ${load} on ${cpus} CPU(s), the agent answers "${expected}"`, () => {
        assert.equal(answerFor(load, cpus), expected);
    });
}

test("thresholds come from the renderer's input (stack config)", () => {
    assert.equal(answerFor("0.60", 1, { busy: 50, overload: 70 }), "up 51%");
    assert.equal(answerFor("0.50", 1, { busy: 50, overload: 70 }), "up 100%");
});

test("a local API that does not answer makes the agent say down, with the space HAProxy needs", async () => {
    // A port that accepts nothing: take a free port and close it.
    const port = await new Promise<number>((res) => {
        const s = createServer().listen(0, "127.0.0.1", () => {
            const p = (s.address() as { port: number }).port;
            s.close(() => res(p));
        });
    });
    const answer = answerFor("0.10", 4, { apiReadyUrl: `https://127.0.0.1:${port}/readyz` });
    assert.match(answer, /^down #k3s API not ready/);
});

async function freePort(): Promise<number> {
    return new Promise((res) => {
        const s = createServer().listen(0, "127.0.0.1", () => {
            const p = (s.address() as { port: number }).port;
            s.close(() => res(p));
        });
    });
}

async function ask(port: number, deadlineMs = 5000): Promise<string> {
    const start = Date.now();
    for (;;) {
        try {
            return await new Promise<string>((res, rej) => {
                const sock = connect(port, "127.0.0.1");
                let data = "";
                sock.on("data", (d) => { data += d.toString(); });
                sock.on("end", () => res(data.trim()));
                sock.on("error", rej);
            });
        } catch (e) {
            if (Date.now() - start > deadlineMs) throw e;
            await new Promise((r) => setTimeout(r, 100));
        }
    }
}

test("xinetd serves the rendered agent-check on its port as nobody", async () => {
    requireProgram("xinetd", "xinetd");
    const dir = tempDir("xinetd-");
    const loadavg = writeTemp(dir, "loadavg", "0.10 3.60 0.30 1/123 4567\n");
    const check = writeTemp(dir, "agent-check", renderAgentCheck({ busyPercent: 90, overloadPercent: 100, loadavgPath: loadavg, cpuCount: 4 }), 0o755);
    const whoami = writeTemp(dir, "whoami", "#!/bin/bash\nid -un\n", 0o755);
    const [checkPort, whoPort] = [await freePort(), await freePort()];
    const conf = [
        "defaults\n{\n    instances = 20\n}\n",
        renderXinetdService({ port: checkPort, serverPath: check, bindAddress: "127.0.0.1" }),
        renderXinetdService({ port: whoPort, serverPath: whoami, bindAddress: "127.0.0.1" }).replace("service haproxy-agent-check", "service picluster-whoami"),
    ].join("\n");
    const confPath = writeTemp(dir, "xinetd.conf", conf);
    const xinetd = spawn("xinetd", ["-dontfork", "-f", confPath, "-pidfile", `${dir}/xinetd.pid`], { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    xinetd.stderr.on("data", (d: Buffer) => { log += d.toString(); });
    try {
        assert.equal(await ask(checkPort), "up 100%", `xinetd log:\n${log}`);
        assert.equal(await ask(whoPort), "nobody", `xinetd log:\n${log}`);
    } finally {
        xinetd.kill("SIGTERM");
    }
});
