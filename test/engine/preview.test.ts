// The real engine, offline: `pulumi preview` of the dev stack (the seed's 26 Pis)
// completes inside a network namespace with nothing but loopback, so it cannot have
// opened an SSH connection; a bad inventory fails with the program's own message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { declaredResourceCount, previewCreates, stackConfig } from "./declared";
import { PROGRAM_FILES, REPO, show, workspace } from "./harness";

const FAKE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n";

function createsOf(stdout: string): number {
    const n = previewCreates(stdout);
    assert.ok(n !== undefined, `no "N to create" in:\n${stdout}`);
    return n;
}

test("given the dev stack and no reachable host, preview succeeds offline with every declared resource", async () => {
    const ws = workspace(REPO, [...PROGRAM_FILES, "Pulumi.dev.yaml"]);
    try {
        assert.equal(ws.pulumi(["stack", "init", "dev"]).status, 0);
        const set = ws.pulumi(["config", "set", "--secret", "picluster:sshPrivateKey"], { input: FAKE_KEY });
        assert.equal(set.status, 0, show(set));
        const started = Date.now();
        const r = ws.pulumi(["preview", "-s", "dev"], { netns: "isolated" });
        const seconds = (Date.now() - started) / 1000;
        assert.equal(r.status, 0, show(r));
        const expected = await declaredResourceCount(stackConfig(ws.pulumi(["config", "--json", "-s", "dev"]).stdout));
        assert.equal(createsOf(r.stdout), expected, show(r));
        assert.ok(!r.stdout.includes("not-a-real-key") && !r.stderr.includes("not-a-real-key"), "the key never appears in output");
        console.log(`preview of the dev stack: ${seconds.toFixed(1)} s, ${expected} resources`);
    } finally {
        ws.cleanup();
    }
});

test("given a stack whose last up ran a newer k3s, preview refuses the downgrade offline (before any SSH), naming the key", () => {
    const ws = workspace(REPO, [...PROGRAM_FILES, "Pulumi.dev.yaml"]);
    try {
        assert.equal(ws.pulumi(["stack", "init", "dev"]).status, 0);
        assert.equal(ws.pulumi(["config", "set", "--secret", "picluster:sshPrivateKey"], { input: FAKE_KEY }).status, 0);
        const running = "v1.34.1+k3s1";
        const wanted = (readRawYaml(join(ws.dir, "Pulumi.dev.yaml")).match(/version: (v\S+)/) ?? [])[1];
        assert.ok(wanted && wanted < running, `Pulumi.dev.yaml pins ${wanted}, which must be older than ${running} for this test`);
        // The checkpoint a completed up leaves: the root stack resource with its outputs.
        const exported = ws.pulumi(["stack", "export", "-s", "dev"]);
        assert.equal(exported.status, 0, show(exported));
        const doc = JSON.parse(exported.stdout) as { deployment: { resources?: unknown[] } };
        doc.deployment.resources = [{
            urn: "urn:pulumi:dev::picluster::pulumi:pulumi:Stack::picluster-dev", custom: false, type: "pulumi:pulumi:Stack",
            outputs: { k3sVersion: running },
        }];
        const file = join(ws.dir, "checkpoint.json");
        writeFileSync(file, JSON.stringify(doc));
        const imported = ws.pulumi(["stack", "import", "--file", file, "-s", "dev"]);
        assert.equal(imported.status, 0, show(imported));
        const r = ws.pulumi(["preview", "-s", "dev"], { netns: "isolated" });
        assert.notEqual(r.status, 0, show(r));
        const out = r.stdout + r.stderr;
        assert.match(out, new RegExp(`picluster:k3s\\.version: ${wanted.replace(/[.+]/g, "\\$&")} is older than ${running.replace(/[.+]/g, "\\$&")}, which the cluster runs`), show(r));
        assert.doesNotMatch(out, /^\s+at .+\(.+:\d+:\d+\)$/m, `no stack trace expected:\n${out}`);
        assert.doesNotMatch(out, /command:remote:Command/, "no Pi's resource was planned");
    } finally {
        ws.cleanup();
    }
});

const badInventories: [string, string, RegExp][] = [
    ["an even number of servers", "    - { name: rasp26, address: 10.10.50.221, role: server }\n", /picluster:hosts: 6 servers is an even number/],
    ["a host in two roles", "    - { name: rasp04, address: 10.10.50.230, role: loadbalancer }\n", /rasp04 is listed as server .* and as loadbalancer/],
];

for (const [what, extraHost, message] of badInventories) {
    test(`given a stack with ${what}, preview exits non-zero naming the field, without a stack trace`, () => {
        const ws = workspace(REPO, [...PROGRAM_FILES, "Pulumi.dev.yaml"]);
        try {
            writeFileSync(join(ws.dir, "Pulumi.bad.yaml"), readRawYaml(join(ws.dir, "Pulumi.dev.yaml")) + extraHost);
            assert.equal(ws.pulumi(["stack", "init", "bad"]).status, 0);
            assert.equal(ws.pulumi(["config", "set", "--secret", "picluster:sshPrivateKey"], { input: FAKE_KEY }).status, 0);
            const r = ws.pulumi(["preview", "-s", "bad"], { netns: "isolated" });
            assert.notEqual(r.status, 0, show(r));
            const out = r.stdout + r.stderr;
            assert.match(out, message, show(r));
            assert.match(out, /invalid stack configuration/);
            assert.doesNotMatch(out, /^\s+at .+\(.+:\d+:\d+\)$/m, `no stack trace expected:\n${out}`);
        } finally {
            ws.cleanup();
        }
    });
}

test("given an air-gapped stack whose binary has the wrong sha256 and whose images file is missing, preview refuses both naming the keys, offline", () => {
    const ws = workspace(REPO, [...PROGRAM_FILES, "Pulumi.dev.yaml"]);
    try {
        mkdirSync(join(ws.dir, "airgap"));
        writeFileSync(join(ws.dir, "airgap", "k3s-arm64"), "not the pinned k3s binary\n");
        const airgap = [
            "    installScript: /opt/k3s-airgap/install.sh",
            "    airgap:",
            "      binary: { path: airgap/k3s-arm64, sha256: " + "ab".repeat(32) + " }",
            "      images: { path: airgap/k3s-airgap-images-arm64.tar.zst, sha256: " + "cd".repeat(32) + " }",
        ].join("\n");
        const dev = readRawYaml(join(ws.dir, "Pulumi.dev.yaml"));
        assert.match(dev, /^ {4}version: v1\.33\.5\+k3s1$/m);
        writeFileSync(join(ws.dir, "Pulumi.airgap.yaml"), dev.replace(/^( {4}version: v1\.33\.5\+k3s1)$/m, `$1\n${airgap}`));
        assert.equal(ws.pulumi(["stack", "init", "airgap"]).status, 0);
        assert.equal(ws.pulumi(["config", "set", "--secret", "picluster:sshPrivateKey"], { input: FAKE_KEY }).status, 0);
        const r = ws.pulumi(["preview", "-s", "airgap"], { netns: "isolated" });
        assert.notEqual(r.status, 0, show(r));
        const out = r.stdout + r.stderr;
        assert.match(out, /picluster:k3s\.airgap\.binary\.sha256: airgap\/k3s-arm64 \(.*\) \(26 bytes\) has sha256 [0-9a-f]{64}, not (ab){32}/, show(r));
        assert.match(out, /picluster:k3s\.airgap\.images\.path: airgap\/k3s-airgap-images-arm64\.tar\.zst \(.*\) does not exist on this machine/, show(r));
        assert.doesNotMatch(out, /^\s+at .+\(.+:\d+:\d+\)$/m, `no stack trace expected:\n${out}`);
    } finally {
        ws.cleanup();
    }
});

test("given a stack whose SSH key is stored in plain text, preview refuses it", () => {
    const ws = workspace(REPO, [...PROGRAM_FILES, "Pulumi.dev.yaml"]);
    try {
        assert.equal(ws.pulumi(["stack", "init", "dev"]).status, 0);
        assert.equal(ws.pulumi(["config", "set", "picluster:sshPrivateKey", "plain"]).status, 0);
        const r = ws.pulumi(["preview", "-s", "dev"], { netns: "isolated" });
        assert.notEqual(r.status, 0, show(r));
        // Pulumi.yaml declares the key secret, so the engine itself refuses it first.
        assert.match(r.stdout + r.stderr, /picluster:sshPrivateKey.*(must be encrypted|is stored in plain text)/);
    } finally {
        ws.cleanup();
    }
});

test("given S3 snapshots, a plain-text S3 key is refused naming it; stored as secrets, preview plans offline and never shows the keys", () => {
    const ws = workspace(REPO, [...PROGRAM_FILES, "Pulumi.dev.yaml"]);
    try {
        const dev = readRawYaml(join(ws.dir, "Pulumi.dev.yaml"));
        assert.match(dev, /^ {4}version: v1\.33\.5\+k3s1$/m);
        writeFileSync(join(ws.dir, "Pulumi.s3.yaml"), dev.replace(/^( {4}version: v1\.33\.5\+k3s1)$/m, "$1\n    etcdSnapshots:\n      s3: { bucket: pi-etcd, endpoint: \"nas.lan:9000\", insecure: true }"));
        assert.equal(ws.pulumi(["stack", "init", "s3"]).status, 0);
        const set = (args: string[], input?: string) => assert.equal(ws.pulumi(["config", "set", ...args], { input }).status, 0);
        set(["--secret", "picluster:sshPrivateKey"], FAKE_KEY);
        set(["--secret", "picluster:etcdS3AccessKey", "AKIAPLANTEDACCESS"]);
        set(["picluster:etcdS3SecretKey", "plantedSecretValue42"]);
        const plain = ws.pulumi(["preview", "-s", "s3"], { netns: "isolated" });
        assert.notEqual(plain.status, 0, show(plain));
        assert.match(plain.stdout + plain.stderr, /picluster:etcdS3SecretKey: is stored in plain text; store it encrypted with `pulumi config set --secret picluster:etcdS3SecretKey`/, show(plain));
        assert.doesNotMatch(plain.stdout + plain.stderr, /plantedSecretValue42/, "the refusal does not print the value");
        set(["--secret", "picluster:etcdS3SecretKey", "plantedSecretValue42"]);
        const r = ws.pulumi(["preview", "-s", "s3", "--diff"], { netns: "isolated" });
        assert.equal(r.status, 0, show(r));
        assert.match(r.stdout, /control-plane-rasp\d+-k3s/, show(r));
        for (const planted of ["AKIAPLANTEDACCESS", "plantedSecretValue42"]) {
            assert.ok(!(r.stdout + r.stderr).includes(planted), `${planted} shown by preview --diff`);
        }
    } finally {
        ws.cleanup();
    }
});

function readRawYaml(path: string): string {
    return readFileSync(path, "utf8");
}
