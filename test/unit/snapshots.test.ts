// The etcd snapshot before destroy, in the whole stack under the strict mocks: one local
// command, whose delete tries every server in inventory order, gets the SSH key only on stdin
// (a secret), copies into the configured folder, and is deleted before any k3s install.
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolve as resolvePath } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parseInventory } from "../../inventory/schema";
import { buildStack } from "../../components/stack";
import { goodRawConfig } from "./fixtures";
import { installStrictMocks, settle, unwrapInput } from "./mocks";

test("one local command saves and copies an etcd snapshot on delete; the key travels only on its stdin, as a secret", async () => {
    const registered = installStrictMocks();
    const cfg = goodRawConfig();
    cfg.k3s = { version: "v1.33.5+k3s1", etcdSnapshots: { copyTo: "backups/etcd" } };
    const inv = parseInventory(cfg);
    buildStack({ inventory: inv, sshPrivateKey: pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-key\n") });
    await settle();
    const snaps = registered.filter((r) => r.name === "etcd-snapshot");
    assert.equal(snaps.length, 1);
    const snap = snaps[0];
    assert.equal(snap.type, "command:local:Command");
    const del = String(snap.inputs.delete);
    assert.match(del, new RegExp(`dest='${resolvePath("backups/etcd").replace(/[/.]/g, "\\$&")}'`), "the folder, resolved against the project folder");
    const tried = [...del.matchAll(/^if on '(\S+)' '(\S+)' (\d+) /gm)].map((m) => `${m[1]}@${m[2]}:${m[3]}`);
    assert.deepEqual(tried, inv.servers.map((h) => `${inv.ssh.user}@${h.address}:${inv.ssh.port}`), "every server, in inventory order");
    assert.match(del, /k3s etcd-snapshot save --name picluster-before-destroy/);
    assert.deepEqual(snap.inputs.triggers, inv.servers.map((h) => `${h.name}@${h.address}:${inv.ssh.port}`),
        "a change of the server set replaces it, so the old one's delete saves a snapshot first");
    const stdin = unwrapInput(snap.inputs.stdin);
    assert.ok(stdin.secret, "the key is a secret input");
    assert.match(String(stdin.value), /secret-key/);
    for (const text of [del, String(snap.inputs.create)]) assert.doesNotMatch(text, /secret-key/, "the key is in no script");
});
