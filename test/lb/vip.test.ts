// Given two load-balancer namespaces running the rendered haproxy.cfg and keepalived.conf
// (VRRP unicast peers, tracking haproxy) and sharing the VIP, with new connections to the
// VIP every 50 ms: when the active LB's haproxy stops, or its link is cut, the VIP moves
// to the other LB and new connections fail for at most 3 s.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { VIP_MODE_LABEL, VipMode, measureVipFailover } from "./scenarios";
import { Stand } from "./stand";

const FAILOVER_GOAL_MS = 3000;

let stand: Stand;
before(async () => { stand = await Stand.open({ balancers: 2, agents: false }); });
after(async () => { await stand?.close(); });

for (const mode of ["haproxy-stopped", "link-cut"] as VipMode[]) {
    test(`${VIP_MODE_LABEL[mode]}: the VIP moves and new connections fail for at most ${FAILOVER_GOAL_MS} ms`, async () => {
        const r = await measureVipFailover(stand, mode);
        const detail = `gap ${r.gapMs} ms, ${r.failedProbes}/${r.probes} probes failed, VIP ${r.from} -> ${r.to}\n${r.log}`;
        assert.notEqual(r.to, r.from, `the VIP did not move: ${detail}`);
        assert.equal(r.to.split(",").length, 1, `more than one holder: ${detail}`);
        assert.ok(r.failedProbes > 0, `no probe failed: the failure was not injected? ${detail}`);
        assert.ok(r.gapMs <= FAILOVER_GOAL_MS, detail);
    });
}
