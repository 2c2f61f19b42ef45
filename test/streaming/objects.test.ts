// The Kubernetes objects of the streaming platform, under strict Pulumi mocks: kinds and API
// versions that current Kubernetes serves, probes, resources that fit a Pi 3B+, pinned images,
// the recordings volume, the way in from outside, and the provider built from the kubeconfig.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment,
   @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument --
   these tests walk the untyped object trees the SDK hands the engine. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parseStreamingSettings, quantity, StreamingSettings } from "../../inventory/streaming";
import { StreamingPlatform } from "../../components/streaming/platform";
import {
    ingressArgs, namespaceArgs, playerDeploymentArgs, playerDisruptionBudgetArgs, playerFilesArgs, playerServiceArgs,
    recordingsClaimArgs, retentionCronJobArgs, rtmpServiceArgs, Scope, serverConfigArgs, serverDeploymentArgs,
    serverNginxConf, serverServiceArgs, streamingUrls, publishKeysSecretArgs, PUBLISH_KEYS_FILE,
} from "../../components/streaming/objects";
import { recordingGuard, retentionSweep } from "../../components/streaming/scripts";
import { renderPublishKeys } from "../../components/streaming/nginxConfig";
import { renderPlayerPage } from "../../components/streaming/player";
import { checkObjects, K8sObject, SERVED_API_VERSIONS } from "./objects";

interface Registered { type: string; name: string; inputs: Record<string, unknown>; provider?: string; parent?: string }

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\n";

function installMocks(): Registered[] {
    const registered: Registered[] = [];
    void pulumi.runtime.setMocks({
        newResource(args: pulumi.runtime.MockResourceArgs) {
            registered.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown>, provider: args.provider });
            if (args.type === "picluster:streaming:Platform") return { id: undefined, state: {} };
            if (args.type === "pulumi:providers:kubernetes") return { id: `${args.name}-id`, state: args.inputs as Record<string, unknown> };
            // A key per resource, like the provider's: what each stream's key is can be traced.
            if (args.type === "random:index/randomPassword:RandomPassword") {
                const rotation = (args.inputs as { keepers?: { rotation?: string } }).keepers?.rotation ?? "none";
                return { id: `${args.name}-id`, state: { ...args.inputs, result: mockKey(args.name, rotation) } };
            }
            if (!args.type.startsWith("kubernetes:")) throw new Error(`unexpected resource type ${args.type} (${args.name})`);
            const inputs = args.inputs as { metadata?: { name?: string } };
            // Pulumi auto-names objects without a name: <resource name>-<random suffix>.
            const metadata = { ...(inputs.metadata ?? {}), name: inputs.metadata?.name ?? `${args.name}-abcd1234` };
            return { id: `${args.name}-id`, state: { ...args.inputs, metadata } };
        },
        call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
            throw new Error(`unexpected provider function call ${args.token}`);
        },
    }, "picluster", "streaming", false);
    return registered;
}

/** The mock's publish key for a RandomPassword: 32 letters and digits, from its name and rotation. */
function mockKey(resourceName: string, rotation: string): string {
    return `K${Buffer.from(`${resourceName}r${rotation}`).toString("hex")}`.replace(/[^A-Za-z0-9]/g, "").padEnd(32, "x").slice(-32);
}

const settle = async () => { for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r)); };
const resolve = <T>(o: pulumi.Output<T>) => new Promise<T>((r) => o.apply((v) => { r(v); return v; }));

async function build(raw: unknown = {}) {
    const registered = installMocks();
    const settings = parseStreamingSettings(raw);
    const platform = new StreamingPlatform("stream", {
        kubeconfig: pulumi.secret(KUBECONFIG), settings, defaultAddress: "10.10.50.198",
    });
    const urls = { ingest: await resolve(platform.ingestUrl), player: await resolve(platform.playerUrl) };
    await resolve(platform.publishUrls);
    await resolve(platform.namespace);
    await settle();
    const objects: K8sObject[] = registered.filter((r) => r.type.startsWith("kubernetes:"))
        .map((r) => ({ ...(r.inputs as unknown as K8sObject), __name: r.name, __provider: r.provider }));
    const keys = Object.fromEntries(registered.filter((r) => r.type === "random:index/randomPassword:RandomPassword")
        .map((r) => [r.name, mockKey(r.name, (r.inputs.keepers as { rotation: string }).rotation)]));
    return { registered, objects, urls, settings, platform, keys };
}

const find = (objects: K8sObject[], kind: string, nameSuffix: string) => {
    const o = objects.find((x) => x.kind === kind && String(x.__name).endsWith(nameSuffix));
    assert.ok(o, `no ${kind} ${nameSuffix}; have ${objects.map((x) => `${x.kind}/${String(x.__name)}`).join(", ")}`);
    return o;
};

test("every object is a kind and API version that current Kubernetes serves, and all pass the checks", async () => {
    const { objects } = await build();
    const kinds = objects.map((o) => `${o.apiVersion}/${o.kind}`).sort();
    assert.deepEqual(kinds, [
        "apps/v1/Deployment", "apps/v1/Deployment", "batch/v1/CronJob", "networking.k8s.io/v1/Ingress",
        "policy/v1/PodDisruptionBudget", "v1/ConfigMap", "v1/ConfigMap", "v1/Namespace",
        "v1/PersistentVolumeClaim", "v1/Secret", "v1/Service", "v1/Service", "v1/Service",
    ]);
    for (const o of objects) assert.ok(SERVED_API_VERSIONS[o.kind]?.includes(o.apiVersion), `${o.kind} ${o.apiVersion}`);
    assert.deepEqual(checkObjects(objects), []);
});

test("all objects go through the provider built from the kubeconfig, which stays a secret", async () => {
    const { registered, objects } = await build();
    const provider = registered.find((r) => r.type === "pulumi:providers:kubernetes");
    assert.ok(provider);
    const kc = provider.inputs.kubeconfig as Record<string, unknown>;
    assert.equal(kc[SECRET_SIG_KEY], "1b47061264138c4ac30d75fd1eb44270", "the kubeconfig input is a secret");
    assert.equal(kc.value, KUBECONFIG);
    assert.equal(provider.inputs.deleteUnreachable, "true");
    for (const o of objects) assert.match(String(o.__provider), /::stream-k8s::stream-k8s-id$/, `${String(o.__name)} uses the component's provider`);
    assert.ok(registered.some((r) => r.type === "picluster:streaming:Platform" && r.name === "stream"));
});

test("the server: one pod, nginx.conf from the ConfigMap, probes, Pi-sized resources, volumes", async () => {
    const { objects, settings } = await build();
    const dep = find(objects, "Deployment", "-server");
    const spec = dep.spec as any;
    assert.equal(spec.replicas, 1);
    assert.equal(spec.strategy.type, "Recreate");
    const c = spec.template.spec.containers[0];
    assert.equal(c.image, "tiangolo/nginx-rtmp:latest-2024-12-02");
    assert.deepEqual(c.command, ["nginx", "-c", "/etc/picluster-streaming/nginx.conf"]);
    assert.deepEqual(c.readinessProbe.httpGet, { path: "/healthz", port: "http" });
    assert.deepEqual(c.livenessProbe.tcpSocket, { port: "rtmp" });
    assert.deepEqual(c.resources, { requests: { cpu: "100m", memory: "96Mi" }, limits: { cpu: "1", memory: "256Mi" } });
    assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"], add: ["CHOWN", "SETUID", "SETGID"] });
    const vols = Object.fromEntries((spec.template.spec.volumes as any[]).map((v) => [v.name, v]));
    assert.equal(vols.config.configMap.name, "stream-server-config-abcd1234");
    assert.deepEqual(vols.hls.emptyDir, { medium: "Memory", sizeLimit: "64Mi" });
    assert.equal(vols.recordings.persistentVolumeClaim.claimName, "stream-recordings");
    const cm = find(objects, "ConfigMap", "-server-config");
    assert.equal((cm.data as Record<string, string>)["nginx.conf"], serverNginxConf(settings));
    assert.match((cm.data as Record<string, string>)["nginx.conf"], /hls_path \/var\/lib\/streaming\/hls;/);
    assert.doesNotMatch((cm.data as Record<string, string>)["nginx.conf"], /load_module/, "the image has the module built in");
});

test("recordings: a local-path PVC, and a retention sweep on it", async () => {
    const { objects } = await build({ recording: { size: "20Gi", retentionDays: 30 } });
    const pvc = find(objects, "PersistentVolumeClaim", "-recordings");
    assert.deepEqual(pvc.spec, { accessModes: ["ReadWriteOnce"], storageClassName: "local-path", resources: { requests: { storage: "20Gi" } } });
    const cron = find(objects, "CronJob", "-retention");
    const job = (cron.spec as any).jobTemplate.spec.template.spec;
    assert.match(job.containers[0].command[2], /-mtime \+30 /);
    assert.equal(job.volumes[0].persistentVolumeClaim.claimName, "stream-recordings");
    assert.equal(job.containers[0].securityContext.runAsUser, 65534);
});

test("RTMP from outside through ServiceLB; HTTP through Traefik, routed by path", async () => {
    const { objects, urls } = await build({ host: "stream.pi.lan", rtmpPort: 1936 });
    const rtmp = find(objects, "Service", "-rtmp");
    assert.equal((rtmp.spec as any).type, "LoadBalancer");
    assert.deepEqual((rtmp.spec as any).ports, [{ name: "rtmp", port: 1936, targetPort: "rtmp", protocol: "TCP" }]);
    const ing = find(objects, "Ingress", "stream");
    const spec = ing.spec as any;
    assert.equal(spec.ingressClassName, "traefik");
    assert.equal(spec.rules[0].host, "stream.pi.lan");
    assert.deepEqual(spec.rules[0].http.paths.map((p: any) => [p.path, p.pathType, p.backend.service.name, p.backend.service.port.number]), [
        ["/hls", "Prefix", "stream-server", 8080],
        ["/recordings", "Prefix", "stream-server", 8080],
        ["/", "Prefix", "stream-player", 80],
    ]);
    assert.deepEqual(urls, { ingest: "rtmp://stream.pi.lan:1936/live", player: "http://stream.pi.lan/" });
});

test("the player: replicas spread over nodes with a disruption budget, the page and hls.js from a ConfigMap", async () => {
    const { objects, settings } = await build({ player: { replicas: 3 } });
    const dep = find(objects, "Deployment", "-player");
    const spec = dep.spec as any;
    assert.equal(spec.replicas, 3);
    assert.equal(spec.template.spec.topologySpreadConstraints[0].topologyKey, "kubernetes.io/hostname");
    assert.equal(spec.template.spec.containers[0].image, "nginx:1.28.0-alpine");
    const pdb = find(objects, "PodDisruptionBudget", "-player");
    assert.equal((pdb.spec as any).minAvailable, 1);
    const files = find(objects, "ConfigMap", "-player-files").data as Record<string, string>;
    assert.deepEqual(Object.keys(files).sort(), ["hls.light.min.js", "index.html"]);
    const { ingestUrl } = streamingUrls(settings, "10.10.50.198");
    assert.equal(files["index.html"], renderPlayerPage({
        title: "picluster streams", ingestUrl, hlsPath: "/hls/", recordingsPath: "/recordings/", fragmentSeconds: 1, liveSyncSeconds: 1.5,
    }));
    assert.match(files["index.html"], /rtmp:\/\/10\.10\.50\.198:1935\/live/);
    const size = Object.values(files).reduce((a, v) => a + Buffer.byteLength(v), 0);
    assert.ok(size < 1024 * 1024 - 64 * 1024, `ConfigMap data is ${size} bytes; Kubernetes caps a ConfigMap at 1 MiB`);
});

test("recording off: no volume, no sweep, no /recordings route; settings change what is rendered", async () => {
    const { objects } = await build({ recording: { enabled: false }, player: { replicas: 1 }, hls: { inMemory: false, fragmentSeconds: 2, playlistSeconds: 12 } });
    assert.ok(!objects.some((o) => o.kind === "PersistentVolumeClaim" || o.kind === "CronJob" || o.kind === "PodDisruptionBudget"));
    const paths = ((find(objects, "Ingress", "stream").spec as any).rules[0].http.paths as any[]).map((p) => p.path);
    assert.deepEqual(paths, ["/hls", "/"]);
    const conf = (find(objects, "ConfigMap", "-server-config").data as Record<string, string>)["nginx.conf"];
    assert.match(conf, /hls_fragment 2s;/);
    assert.doesNotMatch(conf, /application rec/);
    const vols = (find(objects, "Deployment", "-server").spec as any).template.spec.volumes as any[];
    assert.deepEqual(vols.find((v) => v.name === "hls").emptyDir, { sizeLimit: "64Mi" });
    assert.deepEqual(checkObjects(objects), []);
});

test("the object builders are plain data: built without the Pulumi runtime, from the settings and the names passed in", () => {
    const scope: Scope = { name: "stream", namespace: "streaming" };
    const s = parseStreamingSettings({ host: "stream.pi.lan" });
    const objects: K8sObject[] = [
        { apiVersion: "v1", kind: "Namespace", ...namespaceArgs(s) },
        { apiVersion: "v1", kind: "ConfigMap", ...serverConfigArgs(scope, s) },
        { apiVersion: "v1", kind: "PersistentVolumeClaim", ...recordingsClaimArgs(scope, s) },
        { apiVersion: "apps/v1", kind: "Deployment", ...serverDeploymentArgs(scope, s, { config: "cfg", publishKeys: "keys", recordingsClaim: "rec" }) },
        { apiVersion: "v1", kind: "Service", ...serverServiceArgs(scope) },
        { apiVersion: "v1", kind: "Service", ...rtmpServiceArgs(scope, s) },
        { apiVersion: "v1", kind: "ConfigMap", ...playerFilesArgs(scope, s, "rtmp://stream.pi.lan:1935/live") },
        { apiVersion: "apps/v1", kind: "Deployment", ...playerDeploymentArgs(scope, s, { files: "files" }) },
        { apiVersion: "v1", kind: "Service", ...playerServiceArgs(scope) },
        { apiVersion: "policy/v1", kind: "PodDisruptionBudget", ...playerDisruptionBudgetArgs(scope, s) },
        { apiVersion: "networking.k8s.io/v1", kind: "Ingress", ...ingressArgs(scope, s, { serverService: "srv", playerService: "ply" }) },
        { apiVersion: "batch/v1", kind: "CronJob", ...retentionCronJobArgs(scope, s, "rec") },
    ] as K8sObject[];
    assert.deepEqual(checkObjects(objects), []);
    for (const o of objects.slice(1)) assert.equal(o.metadata?.namespace, "streaming", `${o.kind} in the namespace passed in`);
    // The names passed in are where the objects point.
    const serverPod = (objects[3].spec as any).template.spec;
    assert.deepEqual(serverPod.volumes.map((v: any) => v.configMap?.name ?? v.secret?.secretName ?? v.persistentVolumeClaim?.claimName ?? v.name),
        ["cfg", "keys", "hls", "run", "rec"]);
    assert.equal((objects[7].spec as any).template.spec.volumes[0].configMap.name, "files");
    assert.deepEqual((objects[10].spec as any).rules[0].http.paths.map((p: any) => p.backend.service.name), ["srv", "srv", "ply"]);
    assert.equal((objects[11].spec as any).jobTemplate.spec.template.spec.volumes[0].persistentVolumeClaim.claimName, "rec");
    // What is left out, and when.
    const off = parseStreamingSettings({ recording: { enabled: false }, player: { replicas: 1 } });
    assert.equal(recordingsClaimArgs(scope, off), undefined);
    assert.equal(playerDisruptionBudgetArgs(scope, off), undefined, "a budget of 1 of 1 pod would block every drain");
    assert.equal(retentionCronJobArgs(scope, s, undefined), undefined, "no volume, nothing to sweep");
    assert.equal(retentionCronJobArgs(scope, parseStreamingSettings({ recording: { retentionDays: 0 } }), "rec"), undefined, "0 keeps everything");
    const noRec = serverDeploymentArgs(scope, off, { config: "cfg", publishKeys: "keys", recordingsClaim: undefined }).spec as any;
    assert.deepEqual(noRec.template.spec.volumes.map((v: any) => v.name), ["config", "publish-keys", "hls", "run"]);
    assert.deepEqual(noRec.template.spec.containers.map((c: any) => c.name), ["nginx-rtmp"], "no recordings, no guard");
});

test("the retention sweep deletes recordings untouched for longer than the retention, and their emptied folders, nothing else", () => {
    const dir = mkdtempSync(join(tmpdir(), "picluster-retention-"));
    try {
        const day = 24 * 3600;
        const now = Date.now() / 1000;
        const file = (rel: string, ageDays: number) => {
            const p = join(dir, rel);
            mkdirSync(join(p, ".."), { recursive: true });
            writeFileSync(p, "x");
            utimesSync(p, now - ageDays * day, now - ageDays * day);
        };
        file("old/index.m3u8", 40); file("old/old-1.ts", 40); file("old/old-2.ts", 35);
        file("mixed/index.m3u8", 1); file("mixed/mixed-1.ts", 40); file("mixed/mixed-2.ts", 2);
        file("new/index.m3u8", 0); file("new/new-1.ts", 29);
        // Not in a stream's folder: left alone.
        file("stray.ts", 40);
        // A folder name with a space and a quote, to prove the folder is passed as one shell word.
        file("it's here/k/index.m3u8", 40); file("it's here/k/k-1.ts", 40); file("it's here/n/index.m3u8", 0);
        const r = spawnSync("/bin/sh", ["-c", retentionSweep(join(dir, "it's here"), 30)], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(readdirSync(join(dir, "it's here")), ["n"], "the quoted folder's old recording is gone, the new one kept");
        rmSync(join(dir, "it's here"), { recursive: true });

        const r2 = spawnSync("/bin/sh", ["-c", retentionSweep(dir, 30)], { encoding: "utf8" });
        assert.equal(r2.status, 0, r2.stderr);
        const left = spawnSync("find", [dir, "-type", "f", "-printf", "%P\n"], { encoding: "utf8" }).stdout.trim().split("\n").sort();
        assert.deepEqual(left, ["mixed/index.m3u8", "mixed/mixed-2.ts", "new/index.m3u8", "new/new-1.ts", "stray.ts"]);
        assert.deepEqual(readdirSync(dir).sort(), ["mixed", "new", "stray.ts"], "the emptied folder is removed");
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});

test("the checks catch what they are for", () => {
    const bad: K8sObject[] = [
        { apiVersion: "extensions/v1beta1", kind: "Ingress", metadata: { name: "old" }, spec: {} },
        {
            apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "d" },
            spec: { template: { spec: { containers: [{ name: "c", image: "nginx:latest", resources: { limits: { memory: "2Gi" } } }] } } },
        },
        { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "p" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: {} } } },
    ];
    assert.deepEqual(checkObjects(bad), [
        "Ingress old: extensions/v1beta1 is not served by current Kubernetes (use networking.k8s.io/v1)",
        "Deployment d container c: image nginx:latest is not pinned to a version",
        "Deployment d container c: no readinessProbe",
        "Deployment d container c: no livenessProbe",
        "Deployment d container c: resources.requests.cpu missing",
        "Deployment d container c: resources.requests.memory missing",
        "Deployment d container c: resources.limits.cpu missing",
        "Deployment d container c: memory limit 2Gi does not fit a Pi 3B+ (at most 768Mi)",
        "PersistentVolumeClaim p: no storageClassName (want local-path)",
        "PersistentVolumeClaim p: no storage size requested",
    ]);
});

test("settings are typed and limits are real quantities", () => {
    const s: StreamingSettings = parseStreamingSettings({});
    assert.equal(quantity(s.resources.server.memoryLimit), 256 * 2 ** 20);
    assert.equal(quantity(s.resources.server.cpuRequest), 0.1);
});

const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const isSecret = (v: unknown) => typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;

test("a publish key per listed stream: RandomPassword without special characters, its rotation the keeper", async () => {
    const { registered } = await build({ streams: ["studio", { name: "garden_cam", rotation: 3 }] });
    const pw = registered.filter((r) => r.type === "random:index/randomPassword:RandomPassword");
    assert.deepEqual(pw.map((r) => [r.name, r.inputs.length, r.inputs.special, r.inputs.keepers]), [
        ["stream-publish-key-studio", 32, false, { rotation: "0" }],
        ["stream-publish-key-garden_cam", 32, false, { rotation: "3" }],
    ]);
    for (const r of pw) assert.doesNotMatch(String(r.provider ?? ""), /stream-k8s/, `${r.name} is not sent to the kubernetes provider`);
});

test("the keys reach the server only through the Secret: a secret input, never in a ConfigMap, a pod spec or the page", async () => {
    const { registered, objects, keys } = await build({ streams: ["studio", "garden_cam"] });
    const values = Object.values(keys);
    assert.equal(values.length, 2);
    const secrets = registered.filter((r) => r.type === "kubernetes:core/v1:Secret");
    assert.deepEqual(secrets.map((r) => r.name), ["stream-publish-keys"]);
    // The SDK marks the whole stringData secret, since a secret Output is inside it.
    const wrapped = secrets[0].inputs.stringData;
    assert.ok(isSecret(wrapped), "the keys file is a secret input, so the engine encrypts it in the state");
    const data = (wrapped as { value: Record<string, string> }).value;
    assert.deepEqual(Object.keys(data), [PUBLISH_KEYS_FILE]);
    const file = data[PUBLISH_KEYS_FILE];
    assert.equal(file, renderPublishKeys([{ name: "studio", key: keys["stream-publish-key-studio"] }, { name: "garden_cam", key: keys["stream-publish-key-garden_cam"] }]));
    // Everything else the engine is handed, the Secret left out, holds no key.
    for (const r of registered) {
        if (r.type === "kubernetes:core/v1:Secret") continue;
        const text = JSON.stringify(r.inputs);
        for (const k of values) assert.ok(!text.includes(k), `${r.type} ${r.name} holds a publish key`);
    }
    // The server mounts it by the Secret's (auto-generated) name: a new key is a new name, and the pod rolls.
    const pod = (find(objects, "Deployment", "-server").spec as any).template.spec;
    assert.deepEqual(pod.volumes.find((v: any) => v.name === "publish-keys").secret, { secretName: "stream-publish-keys-abcd1234", defaultMode: 0o400 });
    assert.ok(pod.containers[0].volumeMounts.some((m: any) => m.name === "publish-keys" && m.readOnly));
    assert.doesNotMatch(JSON.stringify(pod), /stringData|publish_key_ok/);
    const conf = (find(objects, "ConfigMap", "-server-config").data as Record<string, string>)["nginx.conf"];
    assert.match(conf, /include \/etc\/picluster-streaming-keys\/publish-keys\.conf;/);
    assert.match(conf, /"~\^studio\$" 1;\n {8}"~\^garden_cam\$" 1;/, "the names (not secret) are listed in the ConfigMap");
});

test("outputs: per stream the publish URL with its key (secret) and the watch URL", async () => {
    const { platform, keys } = await build({ streams: ["studio", "garden_cam"], host: "stream.pi.lan" });
    assert.equal(await pulumi.isSecret(platform.publishUrls), true);
    assert.deepEqual(await resolve(platform.publishUrls), {
        studio: `rtmp://stream.pi.lan:1935/live/studio?key=${keys["stream-publish-key-studio"]}`,
        garden_cam: `rtmp://stream.pi.lan:1935/live/garden_cam?key=${keys["stream-publish-key-garden_cam"]}`,
    });
    assert.equal(await pulumi.isSecret(platform.watchUrls), false);
    assert.deepEqual(await resolve(platform.watchUrls), { studio: "http://stream.pi.lan/?live=studio", garden_cam: "http://stream.pi.lan/?live=garden_cam" });
});

test("the existing objects keep their names (URNs); new ones get new names", async () => {
    const { registered } = await build();
    assert.deepEqual(registered.map((r) => `${r.type}::${r.name}`).sort(), [
        "kubernetes:apps/v1:Deployment::stream-player", "kubernetes:apps/v1:Deployment::stream-server",
        "kubernetes:batch/v1:CronJob::stream-retention", "kubernetes:core/v1:ConfigMap::stream-player-files",
        "kubernetes:core/v1:ConfigMap::stream-server-config", "kubernetes:core/v1:Namespace::stream-ns",
        "kubernetes:core/v1:PersistentVolumeClaim::stream-recordings", "kubernetes:core/v1:Secret::stream-publish-keys",
        "kubernetes:core/v1:Service::stream-player", "kubernetes:core/v1:Service::stream-rtmp", "kubernetes:core/v1:Service::stream-server",
        "kubernetes:networking.k8s.io/v1:Ingress::stream", "kubernetes:policy/v1:PodDisruptionBudget::stream-player",
        "picluster:streaming:Platform::stream", "pulumi:providers:kubernetes::stream-k8s",
        "random:index/randomPassword:RandomPassword::stream-publish-key-studio",
    ]);
});

test("a rotation changes only that stream's key; the recordings claim is untouched", async () => {
    const before = await build({ streams: ["studio", "garden_cam"] });
    const after = await build({ streams: [{ name: "studio", rotation: 1 }, "garden_cam"] });
    assert.notEqual(after.keys["stream-publish-key-studio"], before.keys["stream-publish-key-studio"]);
    assert.equal(after.keys["stream-publish-key-garden_cam"], before.keys["stream-publish-key-garden_cam"]);
    const pvc = (b: typeof before) => b.registered.find((r) => r.type === "kubernetes:core/v1:PersistentVolumeClaim")?.inputs;
    assert.deepEqual(pvc(after), pvc(before));
    const conf = (b: typeof before) => (find(b.objects, "ConfigMap", "-server-config").data as Record<string, string>)["nginx.conf"];
    assert.equal(conf(after), conf(before), "nginx.conf holds no key: only the Secret changes");
});

test("the recording guard beside the server: its share of the volume, the drop URL, probes, as nobody", async () => {
    const { objects, settings } = await build({ streams: ["a", "b", "c", "d"], recording: { size: "8Gi" } });
    const pod = (find(objects, "Deployment", "-server").spec as any).template.spec;
    assert.deepEqual(pod.containers.map((c: any) => c.name), ["nginx-rtmp", "recording-guard"]);
    const g = pod.containers[1];
    // 90 % of 8 GiB over 4 streams.
    const share = Math.floor((8 * 2 ** 30 * 0.9) / 4 / 1024);
    assert.equal(g.command[2], recordingGuard({
        recordingsDir: "/var/lib/streaming/recordings", stopDir: "/var/lib/streaming/run/recording-full", streams: ["a", "b", "c", "d"],
        shareKiB: share, dropUrl: "http://127.0.0.1:8080/rtmp/control/drop/publisher?app=rec&name=", intervalSeconds: 5,
        aliveFile: "/var/lib/streaming/run/recording-guard.alive",
    }));
    assert.equal(g.image, settings.images.player);
    assert.equal(g.securityContext.runAsUser, 65534);
    assert.deepEqual(g.volumeMounts, [
        { name: "run", mountPath: "/var/lib/streaming/run" },
        { name: "recordings", mountPath: "/var/lib/streaming/recordings", readOnly: true },
    ]);
    assert.match(serverNginxConf(settings), /if \(-e \/var\/lib\/streaming\/run\/recording-full\/\$arg_name\)/, "rec checks the guard's flags");
});

test("the Secret builder is plain data and keeps what it is handed as it is", () => {
    const args = publishKeysSecretArgs({ name: "stream", namespace: "streaming" }, "file text");
    assert.deepEqual(args, {
        metadata: { namespace: "streaming", labels: { "app.kubernetes.io/part-of": "picluster-streaming", "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/name": "nginx-rtmp", "app.kubernetes.io/instance": "stream" } },
        type: "Opaque", stringData: { [PUBLISH_KEYS_FILE]: "file text" },
    });
});
