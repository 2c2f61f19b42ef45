// Given fed 5-minute load figures on both sides of each threshold, the rendered
// agent-check answers what HAProxy should do; and through the real xinetd it is served
// as nobody on its port.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, connect } from "node:net";
import { createServer as createHttpsServer } from "node:https";
import { TLSSocket } from "node:tls";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { AgentCheckInput, renderAgentCheck, renderAgentClientCertScript, renderXinetdService } from "../../components/loadBalancer/agentCheck";
import { output, requireProgram, run, tempDir, writeTemp } from "./helpers";
import { freePort } from "../kit";

const execFileAsync = promisify(execFile);

function answerFor(load5: string, cpus: number, opts: { busy?: number; overload?: number; apiReadyUrl?: string; flags?: ("drain" | "ready")[] } = {}): string {
    const dir = tempDir("agent-");
    const loadavg = writeTemp(dir, "loadavg", `0.10 ${load5} 0.30 1/123 4567\n`);
    for (const f of opts.flags ?? []) writeTemp(dir, f, "");
    const script = writeTemp(dir, "check", renderAgentCheck({
        busyPercent: opts.busy ?? 90, overloadPercent: opts.overload ?? 100, loadavgPath: loadavg, cpuCount: cpus, apiReadyUrl: opts.apiReadyUrl,
        drainFlagPath: join(dir, "drain"), readyFlagPath: join(dir, "ready"),
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

test("a rolling upgrade's flags: drain while the server is upgraded (whatever its load), then ready to end HAProxy's drain state", () => {
    assert.equal(answerFor("0.10", 4, { flags: ["drain"] }), "drain #picluster: this server is being upgraded");
    assert.equal(answerFor("0.10", 4, { flags: ["drain", "ready"] }), "drain #picluster: this server is being upgraded", "drain wins until it is removed");
    assert.equal(answerFor("0.10", 4, { flags: ["ready"] }), "ready up 100%");
    assert.equal(answerFor("3.80", 4, { flags: ["ready"] }), "ready up 51%");
    assert.equal(answerFor("0.10", 4), "up 100%", "no flag: no admin state word, so an operator's MAINT is never undone");
});

test("thresholds come from the renderer's input (stack config)", () => {
    assert.equal(answerFor("0.60", 1, { busy: 50, overload: 70 }), "up 51%");
    assert.equal(answerFor("0.50", 1, { busy: 50, overload: 70 }), "up 100%");
});

test("a local API that refuses connections makes the agent say down, with the space HAProxy needs", async () => {
    // A port that accepts nothing: take a free port and close it.
    const port = await new Promise<number>((res) => {
        const s = createServer().listen(0, "127.0.0.1", () => {
            const p = (s.address() as { port: number }).port;
            s.close(() => res(p));
        });
    });
    const answer = answerFor("0.10", 4, { apiReadyUrl: `https://127.0.0.1:${port}/readyz` });
    assert.match(answer, /^down #k3s API not listening$/);
});

// A TLS stand-in for the local apiserver: anonymous requests get 401 (k3s), requests with a
// client certificate from the test CA get `status`; `delayMs` holds every answer.
const FIXTURES = join(__dirname, "..", "lb", "fixtures");

async function withApi<T>(opts: { status: number; delayMs?: number }, fn: (url: string) => Promise<T>): Promise<T> {
    const server = createHttpsServer({
        key: readFileSync(join(FIXTURES, "server.key")), cert: readFileSync(join(FIXTURES, "server.crt")),
        ca: readFileSync(join(FIXTURES, "ca.crt")), requestCert: true, rejectUnauthorized: false,
    }, (req, res) => {
        const cert = (req.socket as TLSSocket).getPeerCertificate();
        const authed = (req.socket as TLSSocket).authorized && Object.keys(cert).length > 0;
        setTimeout(() => { res.writeHead(authed ? opts.status : 401); res.end(); }, opts.delayMs ?? 0);
    });
    const port = await new Promise<number>((res) => server.listen(0, "127.0.0.1", () => res((server.address() as { port: number }).port)));
    try {
        return await fn(`https://127.0.0.1:${port}/readyz`);
    } finally {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
    }
}

/** Like answerFor, but without blocking the event loop (the stand-in API lives in this process). */
async function answerAsync(input: Omit<AgentCheckInput, "busyPercent" | "overloadPercent" | "loadavgPath" | "cpuCount">): Promise<string> {
    const dir = tempDir("agent-");
    const loadavg = writeTemp(dir, "loadavg", "0.10 0.50 0.30 1/123 4567\n");
    const script = writeTemp(dir, "check", renderAgentCheck({ busyPercent: 90, overloadPercent: 100, loadavgPath: loadavg, cpuCount: 4, ...input }), 0o755);
    const { stdout } = await execFileAsync("bash", [script], { timeout: 5000 });
    return stdout.trim();
}

/** A client certificate issued from the test CA by the project's own script. */
function issueClientCert(): { cert: string; key: string } {
    requireProgram("openssl", "openssl");
    const dir = join(tempDir("agent-client-"), "client");
    const r = run("bash", ["-c", renderAgentClientCertScript({ dir, caCertPath: join(FIXTURES, "ca.crt"), caKeyPath: join(FIXTURES, "ca.key") })]);
    assert.equal(r.status, 0, output(r));
    return { cert: join(dir, "client.crt"), key: join(dir, "client.key") };
}

test("without credentials, k3s's 401 proves the API answers: no verdict, the load decides", async () => {
    assert.equal(await withApi({ status: 500 }, (url) => answerAsync({ apiReadyUrl: url })), "up 100%");
});

test("with the agent's client certificate, an API that is not ready (5xx) makes the agent say down", async () => {
    const c = issueClientCert();
    const creds = { apiClientCertPath: c.cert, apiClientKeyPath: c.key };
    assert.equal(await withApi({ status: 500 }, (url) => answerAsync({ apiReadyUrl: url, ...creds })), "down #k3s API not ready (HTTP 500)");
    assert.equal(await withApi({ status: 200 }, (url) => answerAsync({ apiReadyUrl: url, ...creds })), "up 100%");
});

test("an API that does not answer in time is no verdict: the health check catches hangs", async () => {
    const c = issueClientCert();
    const start = Date.now();
    const answer = await withApi({ status: 500, delayMs: 2000 }, (url) => answerAsync({ apiReadyUrl: url, apiClientCertPath: c.cert, apiClientKeyPath: c.key }));
    assert.equal(answer, "up 100%");
    assert.ok(Date.now() - start < 1500, "the agent answers within HAProxy's check timeout, not after the API");
});

test("the agent's client certificate: issued once from the CA, kept while current, readable by nobody only via its group", () => {
    requireProgram("openssl", "openssl");
    const dir = join(tempDir("agent-client-"), "client");
    const issue = () => run("bash", ["-c", renderAgentClientCertScript({ dir, caCertPath: join(FIXTURES, "ca.crt"), caKeyPath: join(FIXTURES, "ca.key") })]);
    const first = issue();
    assert.equal(first.status, 0, output(first));
    assert.match(first.stdout, /issued/);
    const verify = run("openssl", ["verify", "-CAfile", join(FIXTURES, "ca.crt"), join(dir, "client.crt")]);
    assert.equal(verify.status, 0, output(verify));
    const subject = run("openssl", ["x509", "-in", join(dir, "client.crt"), "-noout", "-subject"]).stdout;
    assert.match(subject, /CN\s*=\s*picluster-agent-check/);
    assert.doesNotMatch(subject, /O\s*=/, "no organisation: the identity is in no group but system:authenticated");
    const key = statSync(join(dir, "client.key"));
    assert.equal(key.mode & 0o777, 0o640);
    assert.equal(key.uid, 0);
    const before = readFileSync(join(dir, "client.crt"), "utf8");
    const second = issue();
    assert.equal(second.status, 0, output(second));
    assert.match(second.stdout, /current/);
    assert.equal(readFileSync(join(dir, "client.crt"), "utf8"), before, "a current certificate is kept");
    const missingCa = run("bash", ["-c", renderAgentClientCertScript({ dir, caCertPath: join(dir, "nope.crt"), caKeyPath: join(dir, "nope.key") })]);
    assert.notEqual(missingCa.status, 0, "without k3s's client CA the script fails loudly");
});

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
