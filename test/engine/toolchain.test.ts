// tools/toolchain.sh's checks before it builds anything.
// tools/check-pins.sh: the provider plugin versions pinned in tools/versions.env are the versions
// the installed npm SDKs ask the engine for, and a pin that differs fails with a message naming
// the pin and the version to use (the engine would otherwise find no plugin at run time).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "./harness";

const script = join(REPO, "tools", "check-pins.sh");
const versions = readFileSync(join(REPO, "tools", "versions.env"), "utf8");

test("the pins in tools/versions.env agree with the installed npm SDKs", () => {
    const r = spawnSync("bash", [script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /command=1\.2\.1 random=4\.21\.2 kubernetes=4\.25\.0/);
});

for (const name of ["COMMAND", "RANDOM", "KUBERNETES"]) {
    test(`given ${name}_PLUGIN_VERSION that the SDK does not ask for, the check fails naming it`, () => {
        const dir = mkdtempSync(join(tmpdir(), "picluster-pins-"));
        try {
            const sdkAsks = new RegExp(`^${name}_PLUGIN_VERSION=(\\S+)$`, "m").exec(versions)![1];
            const file = join(dir, "versions.env");
            writeFileSync(file, versions.replace(new RegExp(`^${name}_PLUGIN_VERSION=.*$`, "m"), `${name}_PLUGIN_VERSION=9.9.9`));
            const r = spawnSync("bash", [script, file], { encoding: "utf8" });
            assert.equal(r.status, 1, r.stdout + r.stderr);
            assert.match(r.stderr, new RegExp(`${name}_PLUGIN_VERSION=9\\.9\\.9 .* asks the engine for plugin version ${sdkAsks.replace(/\./g, "\\.")}: set ${name}_PLUGIN_VERSION=`), r.stderr);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
}

test("given a versions file without a provider pin, the check fails naming the missing key", () => {
    const dir = mkdtempSync(join(tmpdir(), "picluster-pins-"));
    try {
        const file = join(dir, "versions.env");
        writeFileSync(file, versions.replace(/^RANDOM_PLUGIN_VERSION=.*$/m, ""));
        const r = spawnSync("bash", [script, file], { encoding: "utf8" });
        assert.equal(r.status, 1, r.stdout + r.stderr);
        assert.match(r.stderr, /RANDOM_PLUGIN_VERSION is missing in /);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});

// A missing upstream folder stops the toolchain before any build, naming the folder and the
// commands a machine with internet access runs instead.
for (const missing of ["pulumi-language-nodejs/src", "pulumi-command/provider", "pulumi-random/provider"]) {
    test(`given no ${missing} in the upstream folder, toolchain.sh stops naming it and the internet alternative`, () => {
        const dir = mkdtempSync(join(tmpdir(), "picluster-upstream-"));
        try {
            for (const f of ["pulumi-language-nodejs/src", "pulumi-command/provider", "pulumi-random/provider"]) {
                if (f !== missing) mkdirSync(join(dir, f), { recursive: true });
            }
            const r = spawnSync("bash", [join(REPO, "tools", "toolchain.sh")], { encoding: "utf8", env: { ...process.env, PICLUSTER_UPSTREAM: dir }, timeout: 60_000 });
            assert.equal(r.status, 1, r.stdout + r.stderr);
            assert.match(r.stderr, new RegExp(`${dir}/${missing} is missing`), r.stderr);
            assert.match(r.stderr, /pulumi plugin install resource command 1\.2\.1/);
            assert.match(r.stderr, /pulumi plugin install resource random 4\.21\.2/);
            assert.doesNotMatch(r.stdout, /building/, "nothing was built");
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
}
