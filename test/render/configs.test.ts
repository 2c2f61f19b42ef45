// Given rendered haproxy.cfg and keepalived.conf, the real programs accept them (and
// reject a broken one, so these checks can fail).
import { test } from "node:test";
import { readdirSync } from "node:fs";
import assert from "node:assert/strict";
import { FALLBACK_BACKEND, PRIMARY_BACKEND, fallbackTimeoutMs, renderHaproxyConfig } from "../../components/loadBalancer/haproxyConfig";
import { DEFAULT_HEALTH_CHECK } from "../../inventory/wellKnown";
import { HEALTH_PORT } from "../../inventory/wellKnown";
import { renderKeepalivedConfig, vrrpPriority } from "../../components/loadBalancer/keepalivedConfig";
import { output, requireProgram, run, tempDir, writeTemp } from "./helpers";

const seedServers = [
    { name: "rasp04", address: "10.10.50.198" }, { name: "rasp09", address: "10.10.50.203" },
    { name: "rasp14", address: "10.10.50.208" }, { name: "rasp20", address: "10.10.50.214" },
    { name: "rasp25", address: "10.10.50.219" },
];

function haproxyCheck(cfg: string) {
    requireProgram("haproxy", "haproxy");
    const path = writeTemp(tempDir("haproxy-"), "haproxy.cfg", cfg);
    return run("haproxy", ["-c", "-f", path]);
}

test("haproxy -c accepts the rendered config for the seed's five servers", () => {
    const cfg = renderHaproxyConfig({
        servers: seedServers, apiPort: 6443, agentCheckPort: 9707,
        statsBindAddress: "10.10.50.204", statsUser: "admin", statsPassword: "s3cretPassw0rd",
    });
    const r = haproxyCheck(cfg);
    assert.equal(r.status, 0, output(r));
    assert.match(r.stdout + r.stderr, /Configuration file is valid/);
    assert.doesNotMatch(r.stdout + r.stderr, /WARNING|ALERT/, output(r));
    // Exactly the five servers, each with the API port, in each of the two backends.
    assert.deepEqual([...cfg.matchAll(/^\s+server (\S+) (\S+)$/gm)].map((m) => `${m[1]}=${m[2]}`),
        [...seedServers, ...seedServers].map((s) => `${s.name}=${s.address}:6443`));
});

test("haproxy -c rejects a config with a broken address, so the check can fail", () => {
    const cfg = renderHaproxyConfig({
        servers: [{ name: "bad", address: "10.10.50.999" }], apiPort: 6443, agentCheckPort: 9707,
        statsBindAddress: "10.10.50.204", statsUser: "admin", statsPassword: "pw",
    });
    const r = haproxyCheck(cfg);
    assert.notEqual(r.status, 0, output(r));
});

test("the rendered haproxy.cfg fixes the seed's blind spots", () => {
    const cfg = renderHaproxyConfig({
        servers: seedServers, apiPort: 6443, agentCheckPort: 9707,
        statsBindAddress: "10.10.50.204", statsUser: "admin", statsPassword: "pw",
    });
    assert.match(cfg, /check-ssl verify none/, "a TLS check catches a hung apiserver");
    assert.match(cfg, /http-check send meth GET uri \/readyz/);
    const t = DEFAULT_HEALTH_CHECK;
    assert.match(backendSection(cfg, PRIMARY_BACKEND), new RegExp(`timeout check ${t.timeoutMs}ms`));
    assert.match(backendSection(cfg, PRIMARY_BACKEND), new RegExp(`inter ${t.intervalMs}ms fastinter ${t.intervalMs / 2}ms downinter 1000ms fall ${t.fall} rise ${t.rise}`));
    // Worst case from a hang to DOWN: (fall - 1) x fastinter + inter + fall x timeout, within the 1.5 s goal,
    // while a Pi that answers in 800 ms stays well inside the timeout.
    assert.ok((t.fall - 1) * (t.intervalMs / 2) + t.intervalMs + t.fall * t.timeoutMs <= 1500);
    assert.ok(t.timeoutMs >= 800 * 1.25);
    assert.match(cfg, /agent-check agent-port 9707/);
    assert.match(cfg, /on-marked-down shutdown-sessions/);
    // A live-traffic mark-down would cut the session whose error tripped it (see the header).
    assert.doesNotMatch(cfg, /observe layer4|on-error/);
    assert.match(cfg, /^ {4}option redispatch 1$/m, "a refused new connection goes to another server at once");
    assert.match(cfg, /^ {4}balance leastconn$/m);
    assert.match(cfg, /stats socket \S+ mode 600 level admin/);
    assert.match(cfg, /stats auth admin:pw/);
    assert.match(cfg, new RegExp(`bind 127\\.0\\.0\\.1:${HEALTH_PORT}\n {4}mode http`), "keepalived's probe target, loopback only");
    assert.throws(() => renderHaproxyConfig({
        servers: seedServers, apiPort: 6443, agentCheckPort: 9707, statsBindAddress: "1.2.3.4", statsUser: "admin", statsPassword: "has space",
    }), /stats password/);
});

function backendSection(cfg: string, name: string): string {
    const m = new RegExp(`^backend ${name}\n((?: {4}.*\n)+)`, "m").exec(cfg);
    assert.ok(m, `no backend ${name} in:\n${cfg}`);
    return m[1];
}

test("the servers are listed again in a fallback backend without the agent and with a lenient check, used only when the primary has none", () => {
    const cfg = renderHaproxyConfig({
        servers: seedServers, apiPort: 6443, agentCheckPort: 9707,
        statsBindAddress: "10.10.50.204", statsUser: "admin", statsPassword: "pw",
    });
    assert.match(cfg, new RegExp(`^ {4}use_backend ${FALLBACK_BACKEND} if \\{ nbsrv\\(${PRIMARY_BACKEND}\\) eq 0 \\}\n {4}default_backend ${PRIMARY_BACKEND}$`, "m"));
    const servers = (section: string): string[] => [...section.matchAll(/^\s+server (\S+) (\S+)$/gm)].map((m) => `${m[1]}=${m[2]}`);
    const primary = backendSection(cfg, PRIMARY_BACKEND);
    const fallback = backendSection(cfg, FALLBACK_BACKEND);
    assert.deepEqual(servers(fallback), servers(primary));
    assert.deepEqual(servers(primary), seedServers.map((s) => `${s.name}=${s.address}:6443`));
    assert.match(primary, /agent-check agent-port 9707/);
    assert.doesNotMatch(fallback, /agent-check/);
    assert.match(fallback, new RegExp(`timeout check ${fallbackTimeoutMs(DEFAULT_HEALTH_CHECK)}ms`));
    assert.match(fallback, /fall 3 rise 1/);
});

test("the health-check timing comes from loadBalancer.healthCheck, and the fallback stays three timeouts lenient", () => {
    const healthCheck = { intervalMs: 1000, timeoutMs: 2500, fall: 2, rise: 3 };
    const cfg = renderHaproxyConfig({
        servers: seedServers, apiPort: 6443, agentCheckPort: 9707,
        statsBindAddress: "10.10.50.204", statsUser: "admin", statsPassword: "pw", healthCheck,
    });
    assert.match(backendSection(cfg, PRIMARY_BACKEND), /timeout check 2500ms/);
    assert.match(backendSection(cfg, PRIMARY_BACKEND), /inter 1000ms fastinter 500ms downinter 1000ms fall 2 rise 3/);
    assert.match(backendSection(cfg, FALLBACK_BACKEND), /timeout check 7500ms/);
    assert.equal(haproxyCheck(cfg).status, 0, output(haproxyCheck(cfg)));
});

function keepalivedCheck(cfg: string) {
    requireProgram("keepalived", "keepalived");
    const path = writeTemp(tempDir("keepalived-"), "keepalived.conf", cfg, 0o600);
    return run("keepalived", ["-t", "-f", path, "-l"]);
}

/** keepalived -t checks that the interface exists and is not loopback. */
function lanInterface(): string {
    const names = readdirSync("/sys/class/net").filter((n) => n !== "lo");
    assert.ok(names.length > 0, "no non-loopback network interface to check keepalived.conf against");
    return names.sort()[0];
}

test("keepalived -t accepts the rendered config for each load balancer", () => {
    const ifname = lanInterface();
    const lbs = ["10.10.50.204", "10.10.50.209"];
    lbs.forEach((self, i) => {
        const cfg = renderKeepalivedConfig({
            vip: "10.10.50.220", interface: ifname, routerId: 51, priority: vrrpPriority(i), authPass: "abcd1234",
            unicastSourceIp: self, unicastPeers: lbs.filter((p) => p !== self),
        });
        const r = keepalivedCheck(cfg);
        assert.equal(r.status, 0, output(r));
        assert.equal(r.stdout + r.stderr, "", `keepalived -t found problems:\n${output(r)}`);
        assert.match(cfg, /virtual_ipaddress \{\n\s+10\.10\.50\.220\/32 dev \S+/);
        assert.match(cfg, /track_script \{\n\s+chk_haproxy/);
    });
});

test("keepalived fails over fast: VRRPv2 with PASS auth, 2 missed adverts, haproxy probed on loopback", () => {
    const cfg = renderKeepalivedConfig({
        vip: "10.10.50.220", interface: "eth0", routerId: 51, priority: vrrpPriority(1), authPass: "abcd1234",
        unicastSourceIp: "10.10.50.209", unicastPeers: ["10.10.50.204"],
    });
    assert.match(cfg, /^ {4}version 2$/m);
    assert.match(cfg, /^ {4}advert_int 1$/m);
    assert.match(cfg, /^ {4}down_timer_adverts 2$/m);
    assert.match(cfg, /^ {4}nopreempt$/m);
    assert.match(cfg, /^ {4}check_unicast_src$/m);
    assert.match(cfg, /auth_type PASS\n\s+auth_pass abcd1234/);
    assert.match(cfg, new RegExp(`script "/bin/bash -c '</dev/tcp/127\\.0\\.0\\.1/${HEALTH_PORT}'"\n {4}interval 1\n {4}timeout 1\n {4}fall 1\n {4}rise 2`));
    // A backup takes over after 2 adverts plus its skew time, (256 - priority) / 256 s: within 3 s.
    assert.deepEqual([0, 1, 2].map(vrrpPriority), [250, 240, 230]);
    assert.ok(2 + (256 - vrrpPriority(1)) / 256 < 2.1);
    assert.throws(() => vrrpPriority(25), /index/);
});

test("keepalived -t rejects a broken config, so the check can fail", () => {
    const cfg = renderKeepalivedConfig({
        vip: "10.10.50.220", interface: "lo", routerId: 51, priority: 150, authPass: "abcd1234",
        unicastSourceIp: "10.10.50.204", unicastPeers: ["10.10.50.209"],
    }).replace("vrrp_instance k3s_api {", "vrrp_instance k3s_api {\n    virtual_router_id 999");
    const r = keepalivedCheck(cfg);
    assert.notEqual(r.status, 0, output(r));
});

test("keepalived's auth_pass is refused when it is longer than VRRP allows", () => {
    assert.throws(() => renderKeepalivedConfig({
        vip: "1.2.3.4", interface: "eth0", routerId: 51, priority: 150, authPass: "123456789",
        unicastSourceIp: "1.2.3.5", unicastPeers: [],
    }), /1-8 characters/);
});
