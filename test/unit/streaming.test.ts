// The streaming platform's publish keys in the whole stack, under the strict mocks: bad stream
// lists are refused with the rest of the inventory (before any resource, so before any SSH), and
// buildStack exports each stream's publish URL as a secret and its watch URL in clear.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { InventoryError, parseInventory } from "../../inventory/schema";
import { buildStack } from "../../components/stack";
import { goodRawConfig } from "./fixtures";
import { installStrictMocks, mockPublishKey, resolve, settle } from "./mocks";

const BAD: readonly [string, unknown, string][] = [
    ["duplicate names", { streams: ["studio", "studio"] }, "picluster:streaming.streams[1].name: studio is listed twice (also at streams[0]): list each stream once"],
    ["a name outside the pattern", { streams: ["my stream"] }, "picluster:streaming.streams[0].name: must be a stream name such as studio (1-64 characters from A-Z a-z 0-9 _ -)"],
    ["no stream (N < 1)", { streams: [] }, "picluster:streaming.streams: must list at least one stream (to publish nothing, set streaming.enabled: false)"],
];

for (const [what, streaming, line] of BAD) {
    test(`given streaming streams with ${what}, the stack is refused before any resource, naming the key`, () => {
        const registered = installStrictMocks();
        const cfg = { ...goodRawConfig(), streaming };
        assert.throws(() => buildStack({ inventory: parseInventory(cfg), sshPrivateKey: pulumi.secret("k") }), (e: unknown) => {
            assert.ok(e instanceof InventoryError);
            assert.ok(e.problems.includes(line), e.message);
            return true;
        });
        assert.deepEqual(registered, [], "nothing registered, so no SSH connection was opened");
    });
}

test("the stack exports per stream the publish URL (secret) and the watch URL", async () => {
    const registered = installStrictMocks();
    const cfg = { ...goodRawConfig(), streaming: { streams: ["studio", { name: "garden_cam", rotation: 1 }] } };
    const inv = parseInventory(cfg);
    const stack = buildStack({ inventory: inv, sshPrivateKey: pulumi.secret("k") });
    assert.ok(stack.streamingPublishUrls && stack.streamingWatchUrls);
    const publish = await resolve(stack.streamingPublishUrls);
    const watch = await resolve(stack.streamingWatchUrls);
    await settle();
    const addr = inv.servers[0].address;
    const key = (name: string, rotation: string) => mockPublishKey(`streaming-publish-key-${name}`, { rotation });
    assert.deepEqual(publish, { secret: true, value: {
        studio: `rtmp://${addr}:1935/live/studio?key=${key("studio", "0")}`,
        garden_cam: `rtmp://${addr}:1935/live/garden_cam?key=${key("garden_cam", "1")}`,
    } });
    assert.deepEqual(watch, { secret: false, value: { studio: `http://${addr}/?live=studio`, garden_cam: `http://${addr}/?live=garden_cam` } });
    assert.deepEqual(registered.filter((r) => r.type === "random:index/randomPassword:RandomPassword").map((r) => [r.name, r.inputs.keepers]), [
        ["haproxy-stats-password", undefined], ["vrrp-password", undefined],
        ["streaming-publish-key-studio", { rotation: "0" }], ["streaming-publish-key-garden_cam", { rotation: "1" }],
    ]);
});
