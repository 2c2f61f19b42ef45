// Given air-gap artifacts named in the stack config, when the edge checks them, then a missing
// file or a wrong hash is refused naming the key (before any resource, so before any SSH), and
// good files come back with absolute paths for the copies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseInventory } from "../../inventory/schema";
import { sha256OfFile, verifyAirgapFiles } from "../../inventory/airgapFiles";
import { goodRawConfig } from "./fixtures";

function project(): { dir: string; binarySha: string; imagesSha: string } {
    const dir = mkdtempSync(join(tmpdir(), "airgap-"));
    mkdirSync(join(dir, "airgap"));
    const binary = Buffer.alloc(3 << 20, 7); // more than one read chunk
    writeFileSync(join(dir, "airgap", "k3s-arm64"), binary);
    writeFileSync(join(dir, "airgap", "images.tar"), "images");
    return {
        dir,
        binarySha: createHash("sha256").update(binary).digest("hex"),
        imagesSha: createHash("sha256").update("images").digest("hex"),
    };
}

function k3sWith(airgap: unknown) {
    const cfg = goodRawConfig();
    cfg.k3s = { version: "v1.33.5+k3s1", installScript: "/opt/k3s/install.sh", airgap };
    return parseInventory(cfg).k3s;
}

test("sha256OfFile reads the whole file in chunks", () => {
    const p = project();
    assert.equal(sha256OfFile(join(p.dir, "airgap", "k3s-arm64")), p.binarySha);
});

test("given good artifacts with relative paths, they resolve against the project folder", () => {
    const p = project();
    const k3s = k3sWith({ binary: { path: "airgap/k3s-arm64", sha256: p.binarySha }, images: { path: "./airgap/images.tar", sha256: p.imagesSha } });
    const checked = verifyAirgapFiles(k3s, p.dir);
    assert.deepEqual(checked.problems, []);
    assert.equal(checked.k3s.airgap?.binary.path, join(p.dir, "airgap", "k3s-arm64"));
    assert.equal(checked.k3s.airgap?.images?.path, join(p.dir, "airgap", "images.tar"));
});

test("given a missing binary, it is refused naming the path key", () => {
    const p = project();
    const checked = verifyAirgapFiles(k3sWith({ binary: { path: "airgap/k3s-armhf", sha256: p.binarySha } }), p.dir);
    assert.equal(checked.problems.length, 1);
    assert.match(checked.problems[0], /^picluster:k3s\.airgap\.binary\.path: airgap\/k3s-armhf \(.*\/airgap\/k3s-armhf\) does not exist on this machine/);
});

test("given a wrong sha256, it is refused naming the sha256 key and both hashes", () => {
    const p = project();
    const checked = verifyAirgapFiles(k3sWith({
        binary: { path: "airgap/k3s-arm64", sha256: p.binarySha },
        images: { path: "airgap/images.tar", sha256: "0".repeat(64) },
    }), p.dir);
    assert.equal(checked.problems.length, 1);
    assert.match(checked.problems[0], new RegExp(`^picluster:k3s\\.airgap\\.images\\.sha256: .*images\\.tar.* has sha256 ${p.imagesSha}, not 0{64}`));
});

test("given a folder instead of a file, it is refused", () => {
    const p = project();
    const checked = verifyAirgapFiles(k3sWith({ binary: { path: "airgap", sha256: p.binarySha } }), p.dir);
    assert.match(checked.problems.join("\n"), /picluster:k3s\.airgap\.binary\.path: airgap .* is not a regular file/);
});

test("without an air-gap setting nothing is read", () => {
    const cfg = goodRawConfig();
    const k3s = parseInventory(cfg).k3s;
    assert.deepEqual(verifyAirgapFiles(k3s, "/nonexistent"), { k3s, problems: [] });
});
