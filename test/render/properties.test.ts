// Property tests: any valid inventory is accepted and renders a haproxy.cfg that the real
// haproxy accepts, listing exactly its servers; any inventory with an even server count
// is refused naming picluster:hosts.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { InventoryError, parseInventory } from "../../inventory/schema";
import { renderHaproxyConfig } from "../../components/loadBalancer/haproxyConfig";
import { output, requireProgram, run, tempDir, writeTemp } from "./helpers";

/** A valid raw inventory: odd servers, 1-3 LBs (VIP when 2+), 0-6 agents, distinct addresses. */
const validInventory = fc.record({
    servers: fc.integer({ min: 0, max: 3 }).map((k) => 2 * k + 1),
    lbs: fc.integer({ min: 1, max: 3 }),
    agents: fc.integer({ min: 0, max: 6 }),
    base: fc.integer({ min: 1, max: 150 }),
}).map(({ servers, lbs, agents, base }) => {
    const hosts: { name: string; address: string; role: string }[] = [];
    let n = 0;
    const add = (role: string, count: number) => {
        for (let i = 0; i < count; i++, n++) hosts.push({ name: `pi${n}`, address: `198.18.0.${base + n}`, role });
    };
    add("server", servers);
    add("loadbalancer", lbs);
    add("agent", agents);
    return {
        hosts,
        ...(lbs >= 2 ? { vip: `198.18.0.${base + n}` } : {}),
        ssh: { user: "pirate" },
        k3s: { version: "v1.33.5+k3s1" },
        sshPrivateKey: "<secret>",
    };
});

test("any valid inventory is accepted and haproxy -c accepts its rendered config", () => {
    requireProgram("haproxy", "haproxy");
    fc.assert(fc.property(validInventory, (raw) => {
        const inv = parseInventory(raw);
        const cfg = renderHaproxyConfig({
            servers: inv.servers, apiPort: 6443, agentCheckPort: inv.loadBalancer.agentCheckPort,
            statsBindAddress: inv.loadBalancers[0].address, statsUser: "admin", statsPassword: "pw123456",
            healthCheck: inv.loadBalancer.healthCheck,
        });
        const listed = [...cfg.matchAll(/^\s+server \S+ (\S+):6443$/gm)].map((m) => m[1]);
        const addresses = inv.servers.map((s) => s.address);
        assert.deepEqual(listed, [...addresses, ...addresses], "every server in the primary and in the fallback backend");
        const r = run("haproxy", ["-c", "-f", writeTemp(tempDir("prop-"), "haproxy.cfg", cfg)]);
        assert.equal(r.status, 0, output(r));
    }), { numRuns: 25 });
});

test("any inventory with an even number of servers is refused naming picluster:hosts", () => {
    fc.assert(fc.property(validInventory, (raw) => {
        const hosts = [...raw.hosts, { name: "extra", address: "198.18.0.250", role: "server" }];
        assert.throws(() => parseInventory({ ...raw, hosts }), (e: unknown) =>
            e instanceof InventoryError && /picluster:hosts: \d+ servers is an even number/.test(e.message));
    }), { numRuns: 100 });
});
