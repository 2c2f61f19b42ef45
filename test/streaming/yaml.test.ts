// The real engine and the real kubernetes provider render the streaming platform to YAML
// (renderYamlToDirectory: no cluster), inside a network namespace with only loopback; the
// files are what `kubectl apply` would get and pass the same checks as the mocks test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, show, workspace } from "../engine/harness";
import { checkObjects, K8sObject } from "./objects";

// js-yaml ships with @pulumi/pulumi (a dependency of it), without types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require("js-yaml") as { loadAll(text: string): unknown[] };

const K8S_SDK = JSON.parse(readFileSync(join(REPO, "node_modules", "@pulumi", "kubernetes", "package.json"), "utf8")) as { pulumi: { version: string } };
const PLUGIN = join(REPO, ".toolchain", "pulumi-home", "plugins", `resource-kubernetes-v${K8S_SDK.pulumi.version}`, "pulumi-resource-kubernetes");
const FIXTURE = join(__dirname, "fixtures", "render");

function readObjects(dir: string): K8sObject[] {
    const out: K8sObject[] = [];
    const walk = (d: string) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
            const p = join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (/\.ya?ml$/.test(e.name)) for (const doc of yaml.loadAll(readFileSync(p, "utf8"))) if (doc) out.push(doc as K8sObject);
        }
    };
    walk(dir);
    return out;
}

test("the provider renders the platform to YAML offline; the objects pass the checks", { timeout: 300_000 }, () => {
    assert.ok(existsSync(PLUGIN),
        `${PLUGIN} is missing: the @pulumi/kubernetes SDK asks for plugin v${K8S_SDK.pulumi.version}; `
        + `build it with \`tools/provider-kubernetes/build.sh .toolchain/pulumi-home/plugins/resource-kubernetes-v${K8S_SDK.pulumi.version} ${K8S_SDK.pulumi.version}\` (tools/toolchain.sh does)`);
    const ws = workspace(REPO, ["components", "inventory", "package.json"]);
    const renderDir = mkdtempSync(join(tmpdir(), "picluster-render-"));
    try {
        copyFileSync(join(FIXTURE, "Pulumi.yaml"), join(ws.dir, "Pulumi.yaml"));
        mkdirSync(join(ws.dir, "test", "streaming", "fixtures", "render"), { recursive: true });
        copyFileSync(join(FIXTURE, "index.ts"), join(ws.dir, "test", "streaming", "fixtures", "render", "index.ts"));
        assert.equal(ws.pulumi(["stack", "init", "render"]).status, 0);
        assert.equal(ws.pulumi(["config", "set", "renderDir", renderDir]).status, 0);
        const up = ws.pulumi(["up", "--yes", "--skip-preview", "-s", "render"], { netns: "isolated", timeoutMs: 240_000 });
        assert.equal(up.status, 0, show(up));

        const objects = readObjects(renderDir);
        const kinds = objects.map((o) => `${o.apiVersion}/${o.kind}`).sort();
        assert.deepEqual(kinds, [
            "apps/v1/Deployment", "apps/v1/Deployment", "batch/v1/CronJob", "networking.k8s.io/v1/Ingress",
            "policy/v1/PodDisruptionBudget", "v1/ConfigMap", "v1/ConfigMap", "v1/Namespace",
            "v1/PersistentVolumeClaim", "v1/Secret", "v1/Service", "v1/Service", "v1/Service",
        ], `rendered files in ${renderDir}`);
        assert.deepEqual(checkObjects(objects), []);
        for (const o of objects) {
            if (o.kind !== "Namespace") assert.equal(o.metadata?.namespace, "streaming", `${o.kind} ${o.metadata?.name} in the namespace`);
        }
        const cm = objects.find((o) => o.kind === "ConfigMap" && String(o.metadata?.name).startsWith("stream-server-config-"));
        assert.ok(cm, "the server's ConfigMap (auto-named)");
        assert.match((cm.data as Record<string, string>)["nginx.conf"], /application rec \{/);
        const out = ws.pulumi(["stack", "output", "--json", "-s", "render"]);
        assert.deepEqual(JSON.parse(out.stdout), {
            ingestUrl: "rtmp://10.10.50.198:1935/live", playerUrl: "http://10.10.50.198/",
            publishUrls: "[secret]", watchUrls: { studio: "http://10.10.50.198/?live=studio" },
        });
        // The real random provider's key: in the rendered Secret (the YAML is what kubectl would
        // get), in the secret output, and nowhere else: not the other objects, not the state in clear.
        const secret = objects.find((o) => o.kind === "Secret");
        assert.ok(secret, "the publish keys Secret");
        const file = (secret.stringData as Record<string, string> | undefined)?.["publish-keys.conf"]
            ?? Buffer.from((secret.data as Record<string, string>)["publish-keys.conf"], "base64").toString();
        const key = /"~\^studio\/([A-Za-z0-9]{32})\$" 1;/.exec(file)?.[1];
        assert.ok(key, `a 32-character key for studio in the Secret:\n${file.replace(/[A-Za-z0-9]{32}/g, "<key>")}`);
        const shown = JSON.parse(ws.pulumi(["stack", "output", "--json", "--show-secrets", "-s", "render"]).stdout) as { publishUrls: Record<string, string> };
        assert.deepEqual(shown.publishUrls, { studio: `rtmp://10.10.50.198:1935/live/studio?key=${key}` });
        for (const o of objects) if (o.kind !== "Secret") assert.ok(!JSON.stringify(o).includes(key), `${o.kind} ${o.metadata?.name} holds the key`);
        const text = ws.stateText();
        assert.ok(!text.includes("not-a-real-token"), "the kubeconfig stays encrypted in the state");
        assert.ok(!text.includes(key), "the publish key stays encrypted in the state");
        assert.ok(!up.stdout.includes(key) && !up.stderr.includes(key), "the key is not in the engine's output");
    } finally {
        ws.cleanup();
        rmSync(renderDir, { recursive: true, force: true });
    }
});
