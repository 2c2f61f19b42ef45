// The wiring as data, under strict mocks: which output feeds which input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rewriteKubeconfig } from "../../components/cluster";
import { goodRawConfig } from "./fixtures";
import { buildClusterUnderMocks, FAKE_TOKEN, Registered, resolve, unwrapInput } from "./mocks";

const build = buildClusterUnderMocks;

const byName = (rs: Registered[], name: string) => {
    const r = rs.find((x) => x.name === name);
    assert.ok(r, `no resource named ${name}; have ${rs.map((x) => x.name).join(", ")}`);
    return r;
};

test("each agent joins with the server group's token output, and it is a secret", async () => {
    const { cluster, registered } = await build();
    const token = await resolve(cluster.servers.token);
    assert.equal(token.value, FAKE_TOKEN);
    assert.ok(token.secret, "the token output must be secret");
    assert.equal(cluster.agents.joins.length, 2);
    for (const join of cluster.agents.joins) {
        const t = await resolve(join.token);
        assert.equal(t.value, token.value);
        assert.ok(t.secret, `${join.agent}'s join token must be secret`);
        const install = byName(registered, `agents-${join.agent}-k3s`);
        const stdin = unwrapInput(install.inputs.stdin);
        const [tokenLine, ...kubeconfig] = String(stdin.value).split("\n");
        assert.equal(tokenLine, FAKE_TOKEN, "the token travels on stdin, on its first line");
        // The admin kubeconfig follows, for a rolling upgrade's drain and upgrade slot.
        assert.equal(kubeconfig.join("\n"), await resolve(cluster.kubeconfig).then((k) => k.value), "then the admin kubeconfig at the VIP");
        assert.ok(stdin.secret, "and it is a secret input of the install command");
        for (const script of [install.inputs.create, install.inputs.update]) {
            assert.ok(!String(script).includes(FAKE_TOKEN), "the token is never in the script text");
            assert.ok(!String(script).includes("apiVersion: v1"), "nor the kubeconfig");
        }
    }
});

test("with S3 snapshots, every server's install gets the S3 keys on stdin (after the token on joiners), as a secret, never in its script", async () => {
    const raw = goodRawConfig();
    raw.k3s = { version: "v1.33.5+k3s1", etcdSnapshots: { s3: { bucket: "pi-etcd", endpoint: "nas.lan:9000" } } };
    raw.etcdS3AccessKey = "<secret>";
    raw.etcdS3SecretKey = "<secret>";
    const keys = { accessKey: "AKIATESTACCESS", secretKey: "TESTSECRET/with+chars=" };
    const { cluster, registered } = await build(raw, keys);
    const servers = cluster.servers.joinPlan.map((s) => s.server);
    assert.equal(servers.length, 3);
    for (const [i, server] of servers.entries()) {
        const install = byName(registered, `control-plane-${server}-k3s`);
        const stdin = unwrapInput(install.inputs.stdin);
        const expected = [...(i === 0 ? [] : [FAKE_TOKEN]), keys.accessKey, keys.secretKey, ""].join("\n");
        assert.equal(stdin.value, expected, `${server}: ${i === 0 ? "the keys" : "the token, then the keys"} on stdin`);
        assert.ok(stdin.secret, `${server}'s stdin is a secret input`);
        for (const script of [install.inputs.create, install.inputs.update]) {
            const text = String(script);
            assert.ok(!text.includes(keys.accessKey) && !text.includes(keys.secretKey), "the keys are never in the script text");
            assert.match(text, /IFS= read -r s3_secret_key/);
        }
    }
    for (const a of ["a1", "a2"]) {
        assert.doesNotMatch(String(byName(registered, `agents-${a}-k3s`).inputs.create), /s3_/, "agents take no S3 keys");
    }
});

test("agents join through the VIP, never a named server", async () => {
    const { cluster, registered } = await build();
    for (const join of cluster.agents.joins) {
        assert.equal((await resolve(join.serverUrl)).value, "https://198.18.0.100:6443");
    }
    const create = String(byName(registered, "agents-a1-k3s").inputs.create);
    assert.match(create, /198\.18\.0\.100:6443/);
    for (const server of ["198.18.0.31", "198.18.0.32", "198.18.0.33"]) assert.doesNotMatch(create, new RegExp(server.replace(/\./g, "\\.")));
});

test("the LB config lists exactly the server addresses", async () => {
    const { cluster } = await build();
    assert.deepEqual(cluster.loadBalancer.backends.map((b) => b.address), ["198.18.0.31", "198.18.0.32", "198.18.0.33"]);
    for (const [lb, cfg] of cluster.loadBalancer.haproxyConfigs) {
        const text = await resolve(cfg);
        assert.ok(text.secret, `${lb}'s haproxy.cfg holds the stats password and must be secret`);
        const servers = [...text.value.matchAll(/^\s+server (\S+) (\S+)$/gm)].map((m) => m[2]);
        const expected = ["198.18.0.31:6443", "198.18.0.32:6443", "198.18.0.33:6443"];
        assert.deepEqual(servers, [...expected, ...expected], "each server in the primary and in the fallback backend");
    }
});

test("the first server initialises the cluster and the others join after it, one at a time, through the VIP", async () => {
    const { cluster, registered } = await build();
    assert.deepEqual(cluster.servers.joinPlan, [
        { server: "s1", joins: undefined, after: undefined },
        { server: "s2", joins: "https://198.18.0.100:6443", after: "s1" },
        { server: "s3", joins: "https://198.18.0.100:6443", after: "s2" },
    ]);
    assert.match(decodeEmbeddedConfig(String(byName(registered, "control-plane-s1-k3s").inputs.create)), /^cluster-init: true$/m);
    const joining = String(byName(registered, "control-plane-s2-k3s").inputs.create);
    assert.doesNotMatch(decodeEmbeddedConfig(joining), /cluster-init/);
    // The registration address (k3s's HA docs), never the first server: a join works while it is down.
    assert.match(decodeEmbeddedConfig(joining), /^server: "https:\/\/198\.18\.0\.100:6443"$/m);
    assert.match(joining, /198\.18\.0\.100:6443\/ping/, "the install waits for the registration address to answer");
    assert.equal(byName(registered, "control-plane-s1-k3s").inputs.stdin, undefined, "the first server takes no token");
    assert.deepEqual(unwrapInput(byName(registered, "control-plane-s2-k3s").inputs.stdin), { value: FAKE_TOKEN, secret: true });
});

test("tls-san lists every LB address and the VIP on every server", async () => {
    const { registered } = await build();
    for (const s of ["s1", "s2", "s3"]) {
        const script = String(byName(registered, `control-plane-${s}-k3s`).inputs.create);
        const config = decodeEmbeddedConfig(script);
        assert.match(config, /tls-san:\n {2}- "198\.18\.0\.11"\n {2}- "198\.18\.0\.12"\n {2}- "198\.18\.0\.100"\n/);
    }
});

test("the kubeconfig output points at the load-balanced endpoint and is secret", async () => {
    const { cluster } = await build();
    const k = await resolve(cluster.kubeconfig);
    assert.ok(k.secret);
    assert.match(k.value, /server: https:\/\/198\.18\.0\.100:6443/);
    assert.doesNotMatch(k.value, /127\.0\.0\.1/);
    assert.equal(rewriteKubeconfig("server: https://localhost:6443", "https://x:6443"), "server: https://x:6443");
});

test("the SSH connection is a secret input and pins the host key when given", async () => {
    const raw = goodRawConfig();
    raw.hosts[0].hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7s";
    const { registered } = await build(raw);
    const wrapped = unwrapInput(byName(registered, "a1-prepare").inputs.connection);
    assert.ok(wrapped.secret, "the connection (holding the private key) is secret");
    const conn = wrapped.value as Record<string, unknown>;
    assert.match(String(conn.privateKey), /BEGIN OPENSSH/);
    assert.equal(conn.hostKey, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7s");
    assert.equal(conn.dialErrorLimit, 6, "dead hosts fail after a bounded number of dials");
    const other = unwrapInput(byName(registered, "a2-prepare").inputs.connection).value as Record<string, unknown>;
    assert.equal(other.hostKey, undefined);
});

test("changing one agent's config touches only that agent's resources", async () => {
    const before = (await build()).registered;
    const raw = goodRawConfig();
    raw.hosts[1].address = "198.18.0.29"; // a2 moves
    const after = (await build(raw)).registered;
    const key = (r: Registered) => `${r.type}::${r.name}`;
    const beforeMap = new Map(before.map((r) => [key(r), JSON.stringify(r.inputs)]));
    const changed = after.filter((r) => beforeMap.get(key(r)) !== JSON.stringify(r.inputs)).map((r) => r.name).sort();
    assert.deepEqual(changed, ["a2-await-reboot", "a2-prepare", "a2-presence", "agents-a2-drain", "agents-a2-forget", "agents-a2-k3s"]);
    assert.equal(after.length, before.length);
});

test("adding an agent adds only its own resources", async () => {
    const before = (await build()).registered;
    const raw = goodRawConfig();
    raw.hosts.push({ name: "a3", address: "198.18.0.23", role: "agent" });
    const after = (await build(raw)).registered;
    const key = (r: Registered) => `${r.type}::${r.name}`;
    const beforeMap = new Map(before.map((r) => [key(r), JSON.stringify(r.inputs)]));
    const changed = after.filter((r) => beforeMap.get(key(r)) !== JSON.stringify(r.inputs)).map((r) => r.name).sort();
    // node-list is re-read because the node set changed; nothing else that exists changes.
    assert.deepEqual(changed, ["a3", "a3-await-reboot", "a3-prepare", "a3-presence", "agents-a3-drain", "agents-a3-forget", "agents-a3-k3s", "node-list"]);
});

/** Pulls the base64-embedded config.yaml back out of an install script. */
function decodeEmbeddedConfig(script: string): string {
    const blobs = [...script.matchAll(/[A-Za-z0-9+/]{40,}={0,2}/g)].map((m) => Buffer.from(m[0], "base64").toString());
    const cfg = blobs.find((b) => b.includes("node-name:"));
    assert.ok(cfg, "no embedded config.yaml found");
    return cfg;
}

test("no command asks for its previous output in the environment (Debian's sshd refuses the env request)", async () => {
    const { registered } = await build();
    const commands = registered.filter((r) => r.type === "command:remote:Command" || r.type === "command:local:Command");
    assert.ok(commands.length > 10, `expected the cluster's commands, got ${commands.length}`);
    for (const c of commands) assert.equal(c.inputs.addPreviousOutputInEnv, false, `${c.name} must set addPreviousOutputInEnv: false`);
});

test("every Pi has a presence with a secret key and its pinned host key; only the first server's refuses a rebuild", async () => {
    const raw = goodRawConfig();
    raw.hosts[0].hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7s";
    const { registered } = await build(raw);
    const presences = registered.filter((r) => r.type === "pulumi-nodejs:dynamic/picluster:PiPresence");
    assert.deepEqual(presences.map((r) => r.name).sort(), ["a1-presence", "a2-presence", "lb1-presence", "lb2-presence", "s1-presence", "s2-presence", "s3-presence"]);
    for (const p of presences) {
        const key = unwrapInput(p.inputs.privateKey);
        assert.ok(key.secret, `${p.name}: the SSH key is a secret input`);
        assert.equal(p.inputs.address, undefined);
        assert.match(String(p.inputs.claimScript), /read -r marker/, `${p.name}: the claim script reads the marker from stdin`);
    }
    assert.equal(byName(registered, "a1-presence").inputs.hostKey, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7s");
    assert.equal(byName(registered, "a2-presence").inputs.hostKey, "");
    assert.match(String(byName(registered, "s1-presence").inputs.refuseRebuild), /s1 is the first server.*new, empty cluster/);
    for (const n of ["s2-presence", "s3-presence", "a1-presence", "lb1-presence"]) assert.equal(byName(registered, n).inputs.refuseRebuild, undefined, n);
});

test("a reflashed agent's and joined server's old Node is forgotten from the first server before they join again", async () => {
    const { registered } = await build();
    for (const [name, member] of [["agents-a1-forget", false], ["control-plane-s2-forget", true], ["control-plane-s3-forget", true]] as const) {
        const r = byName(registered, name);
        const conn = unwrapInput(r.inputs.connection).value as Record<string, unknown>;
        assert.equal(conn.host, "198.18.0.31", `${name} runs on the first server`);
        const create = String(r.inputs.create);
        assert.match(create, /delete node/, name);
        assert[member ? "match" : "doesNotMatch"](create, /etcd\.k3s\.cattle\.io\/remove=true/, name);
    }
    assert.equal(registered.filter((r) => r.name === "control-plane-s1-forget").length, 0, "the first server has none (it refuses a rebuild)");
});
