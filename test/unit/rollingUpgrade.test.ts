// The rolling upgrade's wiring, under strict mocks: a change of a live node runs the install's
// `update` (the gated, drained path), its first install stays the plain `create`, and the
// snapshot before an upgrade follows the k3s settings. The behaviour itself is proven in the lab
// (test/lab/e2e.test.ts, "rolling upgrade").
import { test } from "node:test";
import assert from "node:assert/strict";
import { InventoryError, parseInventory } from "../../inventory/schema";
import { SLOT_LEASE_PREFIX, STOP_LEASE } from "../../components/k3s/rollingUpgrade";
import { goodRawConfig, RawConfig } from "./fixtures";
import { buildClusterUnderMocks, unwrapInput } from "./mocks";

async function build(raw: RawConfig = goodRawConfig()) {
    const { registered } = await buildClusterUnderMocks(raw);
    const text = (name: string, key: "create" | "update") => {
        const r = registered.find((x) => x.name === name);
        assert.ok(r, `no resource ${name}`);
        const v = unwrapInput(r.inputs[key]).value;
        assert.equal(typeof v, "string", `${name}: ${key} is a script`);
        return v as string;
    };
    return { registered, text };
}

test("every k3s install has a rolling update beside its plain create: drain and gates only on a live node's change", async () => {
    const { text } = await build();
    for (const n of ["control-plane-s1-k3s", "control-plane-s2-k3s", "control-plane-s3-k3s", "agents-a1-k3s", "agents-a2-k3s"]) {
        const create = text(n, "create");
        const update = text(n, "update");
        assert.doesNotMatch(create, /drain|cordon|picluster-upgrade/, `${n}: a first install drains nothing`);
        assert.match(update, /"\$\{kubectl_cmd\[@\]\}" drain "\$node" --ignore-daemonsets --delete-emptydir-data --force --timeout=120s/, n);
        assert.match(update, /kc uncordon "\$node"/, n);
        assert.match(update, new RegExp(STOP_LEASE), `${n}: a failure stops the rollout`);
        // The same install underneath: the update runs k3s's installer with the same version.
        assert.match(update, /export INSTALL_K3S_VERSION="\$want"/, n);
        assert.equal(create.match(/^want=.*$/m)?.[0], update.match(/^want=.*$/m)?.[0], n);
    }
    for (const n of ["control-plane-s1-k3s", "control-plane-s2-k3s"]) {
        const update = text(n, "update");
        // Its own kubectl would fail while its k3s is down (restarting, or after a failed upgrade
        // when the next up resumes): the drain, the Leases and the Node go through the VIP.
        assert.match(update, /^ *kubectl_cmd=\(\/usr\/local\/bin\/k3s kubectl --server \S*https:\/\/198\.18\.0\.100:6443\S*\)$/m, `${n}: its kubectl goes through the VIP`);
        assert.match(update, /\/usr\/local\/bin\/k3s kubectl --request-timeout=20s get --raw=\/readyz\/etcd/, `${n}: its own etcd answers (through its own apiserver) before the next server goes`);
        assert.match(update, /kc get --raw=\/readyz 2/, `${n}: the API answers through the VIP`);
        assert.doesNotMatch(update, new RegExp(SLOT_LEASE_PREFIX + "0"), "servers go one at a time by their dependencies, not by slots");
    }
    const agent = text("agents-a1-k3s", "update");
    assert.match(agent, /node-role\.kubernetes\.io\/control-plane=true/, "agents wait for every server's version first");
    assert.match(agent, /for s in picluster-upgrade-0; do/, "one agent at a time by default");
});

test("k3s.upgrade.maxUnavailable sets the number of agent upgrade slots", async () => {
    const raw = goodRawConfig();
    raw.k3s = { version: "v1.33.5+k3s1", upgrade: { maxUnavailable: 3 } };
    const { text } = await build(raw);
    assert.match(text("agents-a2-k3s", "update"), /for s in picluster-upgrade-0 picluster-upgrade-1 picluster-upgrade-2; do/);
});

test("the snapshot before an upgrade follows the k3s settings: a new version replaces it, so it runs again first", async () => {
    const triggersOf = async (version: string) => {
        const raw = goodRawConfig();
        raw.k3s = { version };
        const { registered } = await build(raw);
        const snap = registered.find((r) => r.name === "etcd-snapshot-before-upgrade");
        assert.ok(snap, "the snapshot command is registered");
        assert.match(String(unwrapInput(snap.inputs.create).value), /etcd-snapshot save --name picluster-before-upgrade/);
        assert.ok(unwrapInput(snap.inputs.stdin).secret, "the SSH key on its stdin is a secret");
        return JSON.stringify(unwrapInput(snap.inputs.triggers).value);
    };
    assert.notEqual(await triggersOf("v1.33.5+k3s1"), await triggersOf("v1.34.1+k3s1"));
});

test("a bad k3s.upgrade is refused naming the key and its range", () => {
    for (const [upgrade, message] of [
        [{ maxUnavailable: 0 }, /picluster:k3s\.upgrade\.maxUnavailable: must be a whole number from 1 to 100: agents upgraded at the same time/],
        [{ drainTimeoutSeconds: 1.5 }, /picluster:k3s\.upgrade\.drainTimeoutSeconds: must be a whole number from 10 to 3600/],
        [{ maxUnavailable: 1, surge: 2 }, /picluster:k3s\.upgrade/],
    ] as const) {
        const raw = goodRawConfig();
        raw.k3s = { version: "v1.33.5+k3s1", upgrade };
        assert.throws(() => parseInventory(raw), (e: unknown) => e instanceof InventoryError && message.test(e.message));
    }
});
