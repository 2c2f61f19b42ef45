// Every script the program sends to a Pi passes `bash -n` and shellcheck, both as the
// plain script and as the root-wrapped command line the provider actually runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import * as piScripts from "../../components/pi/scripts";
import * as k3sScripts from "../../components/k3s/scripts";
import * as lbScripts from "../../components/loadBalancer/scripts";
import { asRoot } from "../../components/shared/bash";
import { renderRemoveStagingDirScript, renderStagingDirCommand, stagedAirgap } from "../../components/k3s/airgap";
import { renderK3sConfig } from "../../components/k3s/nodeConfig";
import { renderCopySnapshotScript } from "../../components/k3s/snapshots";
import {
    renderAgentCheck, renderAgentClientCertScript, renderXinetdService, servicesLine, AGENT_CHECK_PATH, AGENT_CLIENT_CERT_PATH, AGENT_CLIENT_KEY_PATH,
} from "../../components/loadBalancer/agentCheck";
import { existsSync, readFileSync, statSync } from "node:fs";
import { output, requireProgram, run, tempDir, writeTemp } from "./helpers";

const k3s = { version: "v1.33.5+k3s1", installScript: "https://get.k3s.io", clusterCidr: "10.42.0.0/16", serviceCidr: "10.43.0.0/16", disable: [],
    etcdSnapshots: { scheduleCron: "0 */12 * * *", retention: 5, copyTo: "etcd-snapshots" }, upgrade: { maxUnavailable: 1, drainTimeoutSeconds: 120 } };

const k3sWithS3 = { ...k3s, etcdSnapshots: { ...k3s.etcdSnapshots,
    s3: { endpoint: "nas.lan:9000", bucket: "pi-etcd", folder: "home/k3s", region: "us-east-1", insecure: true, skipSslVerify: false } } };

// js-yaml ships with @pulumi/pulumi (a dependency of it), without types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require("js-yaml") as { load(text: string): unknown };

// Every script each component sends, by the folder it lives in.
const scripts = { ...piScripts, ...k3sScripts, ...lbScripts };

const rendered: Record<string, string> = {
    prepare: scripts.renderPrepareScript({ hostname: "rasp04", packages: ["curl", "xinetd"], rebootOnCmdlineChange: true }),
    prepareNoPackages: scripts.renderPrepareScript({ hostname: "rasp04", packages: [], rebootOnCmdlineChange: false }),
    unprepare: scripts.renderUnprepareScript(),
    firstServer: scripts.renderK3sInstallScript({
        role: "server", version: k3s.version, installScript: k3s.installScript, tokenOnStdin: false, readyTimeoutSeconds: 300,
        configYaml: renderK3sConfig({ kind: "first-server", nodeName: "rasp04", nodeIp: "10.10.50.198", tlsSans: ["10.10.50.220"], k3s }),
    }),
    joiningServerAirgap: scripts.renderK3sInstallScript({
        role: "server", version: k3s.version, installScript: "/opt/k3s/install.sh", tokenOnStdin: true, readyTimeoutSeconds: 300,
        airgap: stagedAirgap({
            binary: { path: "/srv/airgap/k3s-arm64", sha256: "a".repeat(64) },
            images: { path: "/srv/airgap/k3s-airgap-images-arm64.tar.zst", sha256: "b".repeat(64) },
        }),
        serverUrl: "https://10.10.50.198:6443",
        configYaml: renderK3sConfig({ kind: "joining-server", nodeName: "rasp09", nodeIp: "10.10.50.203", joinUrl: "https://10.10.50.198:6443", tlsSans: [], k3s }),
    }),
    agentOnlineWithAirgapBinary: scripts.renderK3sInstallScript({
        role: "agent", version: k3s.version, installScript: k3s.installScript, tokenOnStdin: true, readyTimeoutSeconds: 300,
        airgap: stagedAirgap({ binary: { path: "k3s", sha256: "c".repeat(64) } }),
        serverUrl: "https://10.10.50.220:6443",
        configYaml: renderK3sConfig({ kind: "agent", nodeName: "rasp00", nodeIp: "10.10.50.194", joinUrl: "https://10.10.50.220:6443" }),
    }),
    airgapStagingDir: `#!/bin/sh\n${renderStagingDirCommand()}\n`,
    airgapRemoveStagingDir: renderRemoveStagingDirScript(),
    agent: scripts.renderK3sInstallScript({
        role: "agent", version: k3s.version, installScript: k3s.installScript, tokenOnStdin: true, readyTimeoutSeconds: 300,
        serverUrl: "https://10.10.50.220:6443",
        configYaml: renderK3sConfig({ kind: "agent", nodeName: "rasp00", nodeIp: "10.10.50.194", joinUrl: "https://10.10.50.220:6443" }),
    }),
    uninstallServer: scripts.renderK3sUninstallScript({ role: "server", nodeName: "rasp09", apiUrl: "https://10.10.50.220:6443" }),
    uninstallAgent: scripts.renderK3sUninstallScript({ role: "agent", nodeName: "rasp00" }),
    readToken: scripts.renderReadTokenScript(300),
    readKubeconfig: scripts.renderReadKubeconfigScript(),
    listNodes: scripts.renderListNodesScript("https://10.10.50.220:6443", ["rasp09", "rasp00"]),
    drain: scripts.renderDrainScript("rasp00"),
    forgetServer: scripts.renderForgetNodeScript({ nodeName: "rasp09", etcdMember: true, apiUrl: "https://10.10.50.220:6443" }),
    forgetAgent: scripts.renderForgetNodeScript({ nodeName: "rasp00", etcdMember: false, apiUrl: "https://10.10.50.220:6443" }),
    forgetDelete: scripts.renderForgetDeleteNotice("rasp00"),
    presenceClaim: scripts.renderPresenceClaimScript({ hostname: "rasp04" }),
    presenceRead: scripts.renderPresenceReadScript(),
    presenceRelease: scripts.renderPresenceReleaseScript(),
    haproxyApply: scripts.renderHaproxyApplyScript(),
    haproxyRestore: scripts.renderHaproxyRestoreScript(),
    keepalivedApply: scripts.renderKeepalivedApplyScript(),
    keepalivedRestore: scripts.renderKeepalivedRestoreScript(),
    agentCheckInstall: scripts.renderAgentCheckInstallScript({
        agentCheck: renderAgentCheck({ busyPercent: 90, overloadPercent: 100, apiReadyUrl: "https://127.0.0.1:6443/readyz" }),
        xinetdService: renderXinetdService({ port: 9707, serverPath: AGENT_CHECK_PATH }),
        servicesLine: servicesLine(9707),
    }),
    agentCheckRemove: scripts.renderAgentCheckRemoveScript(),
    awaitReboot: scripts.renderAwaitRebootScript({ host: "10.10.50.198", port: 22, timeoutSeconds: 300 }),
    agentCheck: renderAgentCheck({ busyPercent: 90, overloadPercent: 100, apiReadyUrl: "https://127.0.0.1:6443/readyz" }),
    agentCheckWithCert: renderAgentCheck({
        busyPercent: 90, overloadPercent: 100, apiReadyUrl: "https://127.0.0.1:6443/readyz",
        apiClientCertPath: AGENT_CLIENT_CERT_PATH, apiClientKeyPath: AGENT_CLIENT_KEY_PATH,
    }),
    agentClientCert: renderAgentClientCertScript(),
    rollingUpgradeServer: scripts.renderK3sInstallScript({
        role: "server", version: "v1.34.1+k3s1", installScript: k3s.installScript, tokenOnStdin: true, readyTimeoutSeconds: 300,
        serverUrl: "https://10.10.50.220:6443",
        configYaml: renderK3sConfig({ kind: "joining-server", nodeName: "rasp09", nodeIp: "10.10.50.203", joinUrl: "https://10.10.50.220:6443", tlsSans: [], k3s }),
        rolling: { nodeName: "rasp09", maxUnavailable: 1, drainTimeoutSeconds: 120, waitSeconds: 3600, readyTimeoutSeconds: 300, apiUrl: "https://10.10.50.220:6443" },
    }),
    rollingUpgradeAgentAirgap: scripts.renderK3sInstallScript({
        role: "agent", version: "v1.34.1+k3s1", installScript: "/opt/k3s/install.sh", tokenOnStdin: true, readyTimeoutSeconds: 300,
        airgap: stagedAirgap({ binary: { path: "k3s", sha256: "c".repeat(64) } }),
        serverUrl: "https://10.10.50.220:6443",
        configYaml: renderK3sConfig({ kind: "agent", nodeName: "rasp00", nodeIp: "10.10.50.194", joinUrl: "https://10.10.50.220:6443" }),
        rolling: { nodeName: "rasp00", maxUnavailable: 3, drainTimeoutSeconds: 120, waitSeconds: 3600, readyTimeoutSeconds: 300 },
    }),
    firstServerS3: scripts.renderK3sInstallScript({
        role: "server", version: k3s.version, installScript: k3s.installScript, tokenOnStdin: false, s3KeysOnStdin: true, readyTimeoutSeconds: 300,
        configYaml: renderK3sConfig({ kind: "first-server", nodeName: "rasp04", nodeIp: "10.10.50.198", tlsSans: [], k3s: k3sWithS3 }),
    }),
    rollingUpgradeServerS3: scripts.renderK3sInstallScript({
        role: "server", version: "v1.34.1+k3s1", installScript: k3s.installScript, tokenOnStdin: true, s3KeysOnStdin: true, readyTimeoutSeconds: 300,
        serverUrl: "https://10.10.50.220:6443",
        configYaml: renderK3sConfig({ kind: "joining-server", nodeName: "rasp09", nodeIp: "10.10.50.203", joinUrl: "https://10.10.50.220:6443", tlsSans: [], k3s: k3sWithS3 }),
        rolling: { nodeName: "rasp09", maxUnavailable: 1, drainTimeoutSeconds: 120, waitSeconds: 3600, readyTimeoutSeconds: 300, apiUrl: "https://10.10.50.220:6443" },
    }),
    copyEtcdSnapshotBeforeUpgrade: renderCopySnapshotScript({
        servers: [{ name: "rasp04", address: "10.10.50.198", port: 22, user: "pirate" }],
        copyTo: "/home/me/picluster/etcd-snapshots", connectTimeoutSeconds: 10, deadlineSeconds: 120, purpose: "upgrade",
    }),
    copyEtcdSnapshot: renderCopySnapshotScript({
        servers: [{ name: "rasp04", address: "10.10.50.198", port: 22, user: "pirate", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake" },
            { name: "rasp09", address: "10.10.50.203", port: 2222, user: "root" }],
        copyTo: "/home/me/picluster/etcd-snapshots", connectTimeoutSeconds: 10, deadlineSeconds: 120,
    }),
};

for (const [name, text] of Object.entries(rendered)) {
    test(`${name}: bash -n and shellcheck accept the script and its root wrapper`, () => {
        requireProgram("shellcheck", "shellcheck");
        const dir = tempDir("script-");
        const path = writeTemp(dir, `${name}.sh`, text, 0o755);
        const wrapper = writeTemp(dir, `${name}-wrapper.sh`, `#!/bin/bash\n${asRoot(text)}\n`, 0o755);
        for (const p of [path, wrapper]) {
            const syntax = run("bash", ["-n", p]);
            assert.equal(syntax.status, 0, output(syntax));
            const lint = run("shellcheck", ["-S", "warning", "-s", "bash", p]);
            assert.equal(lint.status, 0, output(lint));
        }
    });
}

test("shellcheck flags a broken script, so the lint can fail", () => {
    requireProgram("shellcheck", "shellcheck");
    const p = writeTemp(tempDir("script-"), "bad.sh", "#!/bin/bash\nrm -rf $dir/*\nif [ $x = 1 ] then echo; fi\n", 0o755);
    assert.notEqual(run("shellcheck", ["-S", "warning", p]).status, 0);
});

test("the root wrapper survives quotes in the script and runs it", () => {
    const r = run("bash", ["-c", asRoot("echo \"it's $((1+1))\"")]);
    // As root in CI the first branch runs; elsewhere sudo -n must be allowed.
    assert.equal(r.stdout.trim(), "it's 2", output(r));
});

test("the embedded config.yaml decodes to the rendered text", () => {
    const cfg = renderK3sConfig({ kind: "first-server", nodeName: "rasp04", nodeIp: "10.10.50.198", tlsSans: ["10.10.50.220"], k3s });
    const b64 = Buffer.from(cfg).toString("base64");
    assert.ok(rendered.firstServer.includes(b64));
    assert.match(cfg, /^cluster-init: true$/m);
    assert.match(cfg, /^tls-san:\n {2}- "10\.10\.50\.220"$/m);
});

test("the join token is read from stdin, never from the command line or config.yaml", () => {
    assert.match(rendered.agent, /IFS= read -r token/);
    assert.match(rendered.agent, /K3S_TOKEN_FILE=/);
    assert.doesNotMatch(rendered.agent, /K3S_TOKEN=/);
});

test("S3 snapshots: config.yaml names k3s's S3 flags; the keys come from stdin into a root-only drop-in that a YAML reader decodes to the keys, quotes and all", () => {
    const cfg = yaml.load(renderK3sConfig({ kind: "joining-server", nodeName: "rasp09", nodeIp: "10.10.50.203", joinUrl: "https://10.10.50.220:6443", tlsSans: [], k3s: k3sWithS3 })) as Record<string, unknown>;
    assert.deepEqual(
        Object.fromEntries(Object.entries(cfg).filter(([k]) => k.startsWith("etcd-s3"))),
        { "etcd-s3": true, "etcd-s3-endpoint": "nas.lan:9000", "etcd-s3-bucket": "pi-etcd", "etcd-s3-region": "us-east-1", "etcd-s3-folder": "home/k3s", "etcd-s3-insecure": true },
    );
    assert.ok(!Object.keys(cfg).some((k) => /key/.test(k)), "no key in config.yaml, whose text is on the install's command line");
    const plain = yaml.load(renderK3sConfig({ kind: "first-server", nodeName: "rasp04", nodeIp: "10.10.50.198", tlsSans: [], k3s })) as Record<string, unknown>;
    assert.ok(!Object.keys(plain).some((k) => k.startsWith("etcd-s3")), "without s3, no S3 flag");

    const dir = tempDir("s3-keys-");
    const file = join(dir, "config.yaml.d", "picluster-etcd-s3-keys.yaml");
    const lines = scripts.renderS3KeysLines(true, file);
    const access = "AKIA'TEST/+=";
    const secret = "wJalr'XUtn\\FEMI/K7MDENG+bPxRfiCY=\"x";
    const r = run("bash", ["-c", ["set -euo pipefail", ...lines].join("\n")], `${access}\n${secret}\n`);
    assert.equal(r.status, 0, output(r));
    assert.deepEqual(yaml.load(readFileSync(file, "utf8")), { "etcd-s3-access-key": access, "etcd-s3-secret-key": secret });
    assert.equal(statSync(file).mode & 0o777, 0o600, "the keys file is root-only");
    assert.equal(statSync(join(dir, "config.yaml.d")).mode & 0o777, 0o700);
    for (const l of lines) assert.ok(!l.includes("AKIA"), "the keys are not in the script");
    const missing = run("bash", ["-c", ["set -euo pipefail", ...lines].join("\n")], "only-one-line\n");
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /picluster: the S3 keys \(picluster:etcdS3AccessKey, picluster:etcdS3SecretKey\) did not arrive on stdin/);
    // Without S3 the install removes the drop-in, so turning S3 off leaves no keys on the Pi.
    const off = run("bash", ["-c", scripts.renderS3KeysLines(false, file).join("\n")]);
    assert.equal(off.status, 0, output(off));
    assert.ok(!existsSync(file), "the keys file is gone once S3 is off");
});

// The project's own shell tools (what a user runs: tools/pulumi, tools/restore-etcd, the lab),
// linted the same way, from the checkout's root so that `# shellcheck source=` paths resolve.
const REPO_ROOT = join(__dirname, "..", "..");
const PROJECT_SCRIPTS = [
    "tools/pulumi", "tools/restore-etcd", "tools/env.sh", "tools/setup.sh", "tools/install-deps.sh", "tools/test.sh",
    "tools/toolchain.sh", "tools/lab-up.sh", "tools/lab-down.sh", "tools/check-pins.sh", "tools/bench-preview.sh",
    "tools/control-plane/build.sh", "test/lab/lab", "test/lab/bench", "test/lb/bench",
];

test("the project's own shell tools pass bash -n and shellcheck", () => {
    requireProgram("shellcheck", "shellcheck");
    for (const f of PROJECT_SCRIPTS) {
        const syntax = spawnSync("bash", ["-n", f], { cwd: REPO_ROOT, encoding: "utf8" });
        assert.equal(syntax.status, 0, `${f}: ${syntax.stderr}`);
        const lint = spawnSync("shellcheck", ["-x", "-S", "warning", "-s", "bash", f], { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 });
        assert.equal(lint.status, 0, `${f}:\n${lint.stdout}${lint.stderr}`);
    }
});
