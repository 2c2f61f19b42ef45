// `picluster:streaming`: defaults, and a clear answer naming the key for each malformed value.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_PLAYER_IMAGE, DEFAULT_SERVER_IMAGE, parseStreamingSettings } from "../../inventory/streaming";

const problems = (raw: unknown): string[] => {
    try {
        parseStreamingSettings(raw);
    } catch (e) {
        const msg = (e as Error).message;
        assert.match(msg, /^invalid stack configuration:\n/);
        return msg.split("\n").slice(1).map((l) => l.replace(/^ {2}- /, ""));
    }
    assert.fail(`accepted ${JSON.stringify(raw)}`);
};

test("no setting at all, or {}, gives the Pi-sized defaults", () => {
    for (const raw of [undefined, {}]) {
        const s = parseStreamingSettings(raw);
        assert.deepEqual(s, {
            enabled: true, namespace: "streaming", title: "picluster streams", rtmpPort: 1935, application: "live",
            streams: [{ name: "studio", rotation: 0 }],
            hls: { fragmentSeconds: 1, playlistSeconds: 10, inMemory: true, sizeLimit: "64Mi" },
            player: { replicas: 2, liveSyncSeconds: 1.5 },
            recording: { enabled: true, size: "8Gi", storageClass: "local-path", fragmentSeconds: 4, maxHours: 12, retentionDays: 14 },
            images: { server: DEFAULT_SERVER_IMAGE, player: DEFAULT_PLAYER_IMAGE },
            resources: {
                server: { cpuRequest: "100m", memoryRequest: "96Mi", cpuLimit: "1", memoryLimit: "256Mi" },
                player: { cpuRequest: "10m", memoryRequest: "16Mi", cpuLimit: "200m", memoryLimit: "64Mi" },
            },
        });
    }
});

test("partial settings keep the other defaults", () => {
    const s = parseStreamingSettings({ host: "stream.pi.lan", recording: { size: "32Gi" }, resources: { server: { cpuLimit: "2" } } });
    assert.equal(s.host, "stream.pi.lan");
    assert.equal(s.recording.size, "32Gi");
    assert.equal(s.recording.storageClass, "local-path");
    assert.deepEqual(s.resources.server, { cpuRequest: "100m", memoryRequest: "96Mi", cpuLimit: "2", memoryLimit: "256Mi" });
    const pinned = parseStreamingSettings({ images: { server: "registry.lan:5000/nginx-rtmp@sha256:" + "a".repeat(64) } });
    assert.equal(pinned.images.server, "registry.lan:5000/nginx-rtmp@sha256:" + "a".repeat(64));
});

const CASES: readonly [string, unknown, string[]][] = [
    ["not an object", "yes", ["picluster:streaming: must be an object (a YAML mapping), e.g. { host: stream.pi.lan, recording: { size: 8Gi } }"]],
    ["a number written as text", { hls: { fragmentSeconds: "1" } }, ["picluster:streaming.hls.fragmentSeconds: must be a number of seconds"]],
    ["an unpinned image", { images: { server: "tiangolo/nginx-rtmp" } },
        ["picluster:streaming.images.server: tiangolo/nginx-rtmp has no tag: pin a version, e.g. tiangolo/nginx-rtmp:latest-2024-12-02 (or add @sha256:<digest>)"]],
    ["the latest tag", { images: { player: "nginx:latest" } },
        ["picluster:streaming.images.player: nginx:latest uses the moving tag \"latest\": pin a version, e.g. nginx:1.28.0-alpine"]],
    ["not an image", { images: { player: "Not An Image" } },
        ["picluster:streaming.images.player: is not an image reference: write [registry/]name:tag, e.g. nginx:1.28.0-alpine"]],
    ["a playlist shorter than 3 fragments", { hls: { fragmentSeconds: 4 } },
        ["picluster:streaming.hls.playlistSeconds: 10 is less than 3 fragments (3 x fragmentSeconds = 12); players need at least 3 segments"]],
    ["more memory than a Pi 3B+ has", { resources: { server: { memoryLimit: "2Gi" } } },
        ["picluster:streaming.resources.server.memoryLimit: 2Gi does not fit a Raspberry Pi 3B+ (1 GiB, of which k3s and the OS use ~250 MiB): use at most 768Mi"]],
    ["a request above its limit", { resources: { player: { cpuRequest: "500m" } } },
        ["picluster:streaming.resources.player.cpuRequest: 500m is more than cpuLimit 200m"]],
    ["a malformed quantity", { resources: { player: { memoryLimit: "64MB" } } },
        ["picluster:streaming.resources.player.memoryLimit: must be a memory quantity such as \"128Mi\" or \"1Gi\" (Ki, Mi or Gi)"]],
    ["in-memory segments larger than the memory limit", { hls: { sizeLimit: "256Mi" } },
        ["picluster:streaming.hls.sizeLimit: 256Mi of in-memory segments needs resources.server.memoryLimit of at least sizeLimit + 32Mi (now 256Mi); raise it or set hls.inMemory: false"]],
    ["a port the nodes use", { rtmpPort: 443 },
        ["picluster:streaming.rtmpPort: is already used on the nodes (80, 443, 2379, 2380, 6443, 8404, 8472, 10250 are taken): keep 1935"]],
    ["a port out of range", { rtmpPort: 70000 }, ["picluster:streaming.rtmpPort: must be 1-65535"]],
    ["a host with a scheme", { host: "http://stream.pi.lan" },
        ["picluster:streaming.host: must be a lowercase DNS name such as stream.pi.lan (no scheme, no port, no path)"]],
    ["Kubernetes' own namespace", { namespace: "kube-system" },
        ["picluster:streaming.namespace: must not be one of Kubernetes' own namespaces (default, kube-system, kube-public, kube-node-lease)"]],
    ["the reserved application", { application: "rec" },
        ["picluster:streaming.application: \"rec\" is reserved for the recordings; use another name such as live"]],
    ["a retention shorter than a recording", { recording: { retentionDays: 1, maxHours: 24 } },
        ["picluster:streaming.recording.retentionDays: 1 day(s) would delete segments that a playlist still lists (recording.maxHours is 24): keep more than 1 day(s), or 0 to keep everything"]],
    ["a misspelt key", { recording: { sise: "8Gi" }, hsl: {} }, [
        "picluster:streaming.recording.sise: unknown key; remove it or check its spelling against Pulumi.yaml",
        "picluster:streaming.hsl: unknown key; remove it or check its spelling against Pulumi.yaml",
    ]],
    ["a yes/no written as text", { enabled: "yes" }, ["picluster:streaming.enabled: must be true or false"]],
    ["no stream at all", { streams: [] },
        ["picluster:streaming.streams: must list at least one stream (to publish nothing, set streaming.enabled: false)"]],
    ["a stream listed twice", { streams: ["studio", "cam", { name: "studio", rotation: 2 }] },
        ["picluster:streaming.streams[2].name: studio is listed twice (also at streams[0]): list each stream once"]],
    ["a stream name with path characters", { streams: ["../etc", "dot.ted", ""] }, [
        "picluster:streaming.streams[0].name: must be a stream name such as studio (1-64 characters from A-Z a-z 0-9 _ -)",
        "picluster:streaming.streams[1].name: must be a stream name such as studio (1-64 characters from A-Z a-z 0-9 _ -)",
        "picluster:streaming.streams[2].name: must be a stream name such as studio (1-64 characters from A-Z a-z 0-9 _ -)",
    ]],
    ["a stream name with a query", { streams: ["studio?key=x"] },
        ["picluster:streaming.streams[0].name: must be a stream name such as studio (1-64 characters from A-Z a-z 0-9 _ -)"]],
    ["streams not a list", { streams: "studio" }, ["picluster:streaming.streams: must be a list of stream names, e.g. [studio, garden_cam]"]],
    ["a stream that is neither a name nor a mapping", { streams: [7] },
        ["picluster:streaming.streams[0]: must be a stream name such as studio, or a mapping such as { name: studio, rotation: 1 }"]],
    ["a negative or fractional rotation", { streams: [{ name: "a", rotation: -1 }, { name: "b", rotation: 1.5 }] }, [
        "picluster:streaming.streams[0].rotation: must be 0 or more",
        "picluster:streaming.streams[1].rotation: must be a whole number",
    ]],
    ["a misspelt stream key", { streams: [{ name: "a", rotate: 1 }] },
        ["picluster:streaming.streams[0].rotate: unknown key; remove it or check its spelling against Pulumi.yaml"]],
    ["more streams than the limit", { streams: Array.from({ length: 33 }, (_, i) => `s${i}`), recording: { size: "64Gi" } },
        ["picluster:streaming.streams: must list at most 32 streams"]],
    ["a recordings volume too small for its streams", { streams: ["a", "b", "c", "d", "e", "f", "g", "h"], recording: { size: "1Gi" } },
        ["picluster:streaming.recording.size: 1Gi split over 8 streams leaves 115Mi of recordings each (90 % of the volume, shared equally): raise recording.size or list fewer streams"]],
];

test("streams: a name is short for { name, rotation: 0 }; order and rotations are kept", () => {
    const s = parseStreamingSettings({ streams: ["studio", { name: "garden_cam", rotation: 2 }, { name: "Hall-1" }] });
    assert.deepEqual(s.streams, [{ name: "studio", rotation: 0 }, { name: "garden_cam", rotation: 2 }, { name: "Hall-1", rotation: 0 }]);
    // Recording off: no share to check, so a small volume with many streams is fine.
    assert.equal(parseStreamingSettings({ streams: ["a", "b", "c", "d", "e", "f", "g", "h"], recording: { enabled: false, size: "1Gi" } }).streams.length, 8);
});

for (const [what, raw, want] of CASES) {
    test(`refused with a clear message: ${what}`, () => {
        assert.deepEqual(problems(raw).sort(), [...want].sort());
    });
}
