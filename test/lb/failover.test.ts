// Given a steady load of new TLS connections through the real haproxy running the
// project's rendered config, when one API server fails (killed, stopped, or cut off the
// network), HAProxy marks it down within 1.5 s and at most rate x detection / servers
// requests fail. A slow but alive server is not taken out; a fleet too slow for the check
// still serves through the fallback backend; and the seed's config misses a hung server
// (so this measurement can fail).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fallbackTimeoutMs } from "../../components/loadBalancer/haproxyConfig";
import { DEFAULT_HEALTH_CHECK } from "../../inventory/wellKnown";
import { serverStat, showStat } from "./haproxy";
import { sleep } from "./lab";
import { Load } from "./load";
import { FAILURE_MODES, MODE_LABEL, RATE, REQUEST_TIMEOUT_MS, SLOW_PI_MS, failedRequestBudget, measureDetection, measureSlowFleet } from "./scenarios";
import { API_PORT, BACKEND, Stand } from "./stand";

const DETECTION_GOAL_MS = 1500;

let stand: Stand;
before(async () => { stand = await Stand.open({ balancers: 1, agents: true }); });
after(async () => { await stand?.close(); });

for (const mode of FAILURE_MODES) {
    test(`${MODE_LABEL[mode]}: marked down within ${DETECTION_GOAL_MS} ms, failed requests within rate x detection / servers`, async () => {
        const r = await measureDetection(stand, "ours", mode);
        const detail = `detection ${r.detectionMs} ms, ${r.failed}/${r.load.sent} failed; status trail: ${r.statusTrail.join(" | ")}`;
        assert.ok(r.detectionMs !== null, `never marked down: ${detail}`);
        assert.ok(r.detectionMs <= DETECTION_GOAL_MS, detail);
        assert.equal(r.failedBefore, 0, `requests failed before the failure: ${detail}`);
        const budget = failedRequestBudget(r.detectionMs, stand.backends.length);
        assert.ok(r.failed <= budget, `${r.failed} failed, budget ${budget.toFixed(1)}: ${detail}`);
        assert.ok(r.load.sent >= RATE * 4, `the load did not run: ${detail}`);
    });
}

test(`a slow but alive server (/readyz in ${SLOW_PI_MS} ms, a loaded Pi) stays UP under load: no flapping`, async () => {
    const slow = stand.backend("s2");
    await stand.setReadyzDelay(slow, SLOW_PI_MS);
    const lb = stand.balancers[0];
    try {
        const h = await stand.startHaproxy("ours", lb);
        const load = new Load({ host: lb.address, port: API_PORT, ratePerSecond: RATE, timeoutMs: REQUEST_TIMEOUT_MS, maxRequests: RATE * 4, maxDurationMs: 4000 }).start();
        const seen = new Set<string>();
        const until = Date.now() + 4000;
        while (Date.now() < until) {
            const st = (await showStat(h.socket)).find((s) => s.backend === BACKEND && s.server === slow.name);
            if (st) seen.add(st.status);
            await sleep(50);
        }
        const summary = await load.stop();
        assert.deepEqual([...seen], ["UP"], `the slow server's status went through ${[...seen].join(", ")}`);
        assert.equal((await serverStat(h, BACKEND, slow.name))?.downs, 0, "HAProxy counted a down");
        assert.equal(summary.failed, 0);
    } finally {
        await stand.stopHaproxy(lb);
        await stand.setReadyzDelay(slow, 0);
    }
});

test("every server slower than the check timeout: the primaries go down, the fallback backend keeps the API reachable", async () => {
    const tooSlow = DEFAULT_HEALTH_CHECK.timeoutMs + 500;
    assert.ok(tooSlow < fallbackTimeoutMs(DEFAULT_HEALTH_CHECK), "the fallback's timeout must cover this latency");
    const r = await measureSlowFleet(stand, tooSlow);
    assert.ok(r.primariesDown, `the primaries did not all go down at ${tooSlow} ms (so this test could not fail):\n${r.stats}`);
    assert.equal(r.fallbackUp, stand.backends.length, r.stats);
    assert.equal(r.failed, 0, `the fallback must serve:\n${r.stats}`);
    assert.equal(r.sent, 50);
});

test("the seed's config does not mark a hung server down (the measurement can fail)", async () => {
    const r = await measureDetection(stand, "seed", "hung");
    assert.equal(r.detectionMs, null, `the seed caught the hang in ${r.detectionMs} ms?`);
    assert.ok(r.failed > failedRequestBudget(1500, stand.backends.length), `only ${r.failed} failed`);
});
