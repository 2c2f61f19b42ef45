// Given the rendered agent-check served by a real xinetd next to each API stand-in, and
// the real haproxy with the rendered config: a server whose agent reports high load gets
// a smaller share of new connections; at exactly the limit it keeps its full weight; with
// every server at high load none is taken out; a server whose own API says "not ready"
// is taken out, and if every one says so, the backup entries keep the API reachable; a
// server under a rolling upgrade is drained and then given back.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { AGENT_INTERVAL_MS, FALLBACK_BACKEND } from "../../components/loadBalancer/haproxyConfig";
import { rmSync, writeFileSync } from "node:fs";
import { pollUntil, showStat } from "./haproxy";
import { measureLoadedServers, measureShares, describe as describeStats } from "./scenarios";
import { BACKEND, BUSY_PERCENT, OVERLOAD_PERCENT, Stand } from "./stand";

let stand: Stand;
before(async () => { stand = await Stand.open({ balancers: 1, agents: true }); });
after(async () => { await stand?.close(); });

const fmt = (r: Awaited<ReturnType<typeof measureLoadedServers>>): string =>
    r.servers.map((s) => `${s.name}:${s.status}/w${s.weight}/${s.answered}`).join(" ");

test("a server whose agent reports high load gets a smaller share of new connections", async () => {
    const half = BUSY_PERCENT + (OVERLOAD_PERCENT - BUSY_PERCENT) / 2; // 95 %: weight about 50 %
    const r = await measureLoadedServers(stand, "ours", { s3: half });
    assert.equal(r.status, "UP", fmt(r));
    assert.ok(r.weight > 1 && r.weight < 100, `weight ${r.weight}: ${fmt(r)}`);
    assert.ok(r.sharePercent < 20 / 2, `share ${r.sharePercent.toFixed(1)} % (even share: 20 %): ${fmt(r)}`);
    assert.equal(r.failed, 0, fmt(r));

    const over = await measureLoadedServers(stand, "ours", { s3: OVERLOAD_PERCENT + 50 });
    assert.equal(over.status, "UP", `overloaded, but never taken out for load alone: ${fmt(over)}`);
    assert.equal(over.weight, 1, fmt(over));
    assert.ok(over.sharePercent < 5, `share ${over.sharePercent.toFixed(1)} %: ${fmt(over)}`);
});

test("at exactly the limit a server stays UP with its full weight", async () => {
    const r = await measureLoadedServers(stand, "ours", { s3: BUSY_PERCENT });
    assert.equal(r.status, "UP", fmt(r));
    assert.equal(r.weight, 100, fmt(r));
    assert.ok(r.sharePercent > 10, `share ${r.sharePercent.toFixed(1)} %: ${fmt(r)}`);
});

test("with every server at high load, none is taken out and no request fails", async () => {
    const all = Object.fromEntries(stand.backends.map((b) => [b.name, OVERLOAD_PERCENT * 2]));
    const r = await measureLoadedServers(stand, "ours", all);
    assert.ok(r.servers.length === 5 && r.servers.every((s) => s.status === "UP" && s.weight === 1), fmt(r));
    assert.ok(r.servers.every((s) => s.answered > 0), `every server still gets requests: ${fmt(r)}`);
    assert.equal(r.failed, 0, fmt(r));
});

test("a server whose own API is not ready is taken out by its agent; if all are, the fallback backend keeps serving", async () => {
    const lb = stand.balancers[0];
    try {
        const h = await stand.startHaproxy("ours", lb);
        const notReady = stand.backend("s3");
        process.kill(notReady.proc?.pid ?? 0, "SIGUSR1");
        const down = await pollUntil(async () => {
            const st = (await showStat(h.socket)).find((s) => s.backend === BACKEND && s.server === notReady.name);
            return st?.status.startsWith("DOWN") ? st : undefined;
        }, AGENT_INTERVAL_MS * 2 + 1000, 50);
        assert.ok(down, `s3 not taken out:\n${await describeStats(h)}`);
        assert.match(down.lastAgent, /down \(k3s API not ready \(HTTP 500\)\)/, "HAProxy read the agent's reason");
        const one = await measureShares(lb, 50);
        assert.equal(one.failed, 0);
        assert.equal(one.byServer.get(notReady.name) ?? 0, 0, "no new connections to the server that is not ready");

        // Every API says "not ready" (an etcd election does this): all agents say down.
        for (const b of stand.backends) process.kill(b.proc?.pid ?? 0, "SIGUSR1");
        const allDown = await pollUntil(async () => {
            const st = (await showStat(h.socket)).filter((s) => s.backend === BACKEND);
            return st.length === 5 && st.every((s) => s.status.startsWith("DOWN")) ? true : undefined;
        }, AGENT_INTERVAL_MS * 2 + 1000, 50);
        assert.ok(allDown, `not all primaries down:\n${await describeStats(h)}`);
        const fallbackUp = (await showStat(h.socket)).filter((s) => s.backend === FALLBACK_BACKEND && s.status.startsWith("UP"));
        assert.equal(fallbackUp.length, 5, `the fallback's servers have no agent and stay up:\n${await describeStats(h)}`);
        const fallback = await measureShares(lb, 50);
        assert.equal(fallback.failed, 0, `the fallback must keep the API reachable:\n${await describeStats(h)}`);
        assert.equal([...fallback.byServer.values()].reduce((a, b) => a + b, 0), 50);
    } finally {
        for (const b of stand.backends) if (b.proc && !b.proc.exited()) process.kill(b.proc.pid, "SIGUSR2");
        await stand.stopHaproxy(lb);
    }
});

test("a server under a rolling upgrade: its agent says drain, HAProxy sends it no new connection; ready gives it back", async () => {
    const lb = stand.balancers[0];
    const upgraded = stand.backend("s2");
    const drain = stand.upgradeFlag(upgraded, "drain");
    const ready = stand.upgradeFlag(upgraded, "ready");
    try {
        const h = await stand.startHaproxy("ours", lb);
        const before = await measureShares(lb, 50);
        assert.ok((before.byServer.get(upgraded.name) ?? 0) > 0, "it took requests before (so this can fail)");
        writeFileSync(drain, "");
        const drained = await pollUntil(async () => {
            const st = (await showStat(h.socket)).find((s) => s.backend === BACKEND && s.server === upgraded.name);
            return st?.status.startsWith("DRAIN") ? st : undefined;
        }, AGENT_INTERVAL_MS * 2 + 1000, 50);
        assert.ok(drained, `not drained:\n${await describeStats(h)}`);
        const during = await measureShares(lb, 50);
        assert.equal(during.failed, 0);
        assert.equal(during.byServer.get(upgraded.name) ?? 0, 0, "no new connection while it is upgraded");
        // The upgrade's end: ready first, then the drain flag goes (an agent's "up" alone keeps DRAIN).
        writeFileSync(ready, "");
        rmSync(drain);
        const back = await pollUntil(async () => {
            const st = (await showStat(h.socket)).find((s) => s.backend === BACKEND && s.server === upgraded.name);
            return st?.status === "UP" ? st : undefined;
        }, AGENT_INTERVAL_MS * 2 + 1000, 50);
        assert.ok(back, `not back:\n${await describeStats(h)}`);
        rmSync(ready);
        await new Promise((r) => setTimeout(r, AGENT_INTERVAL_MS * 2));
        const st = (await showStat(h.socket)).find((s) => s.backend === BACKEND && s.server === upgraded.name);
        assert.equal(st?.status, "UP", "it stays in service once the ready flag is gone");
    } finally {
        rmSync(drain, { force: true });
        rmSync(ready, { force: true });
        await stand.stopHaproxy(lb);
    }
});
