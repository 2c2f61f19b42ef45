// Which k3s version changes are refused before any SSH (inventory/versionChange.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseK3sVersion, versionChangeProblem } from "../../inventory/versionChange";

const KEY = "picluster:k3s.version";

test("a new cluster, the same version, a patch, a revision and the next minor are accepted", () => {
    for (const [running, wanted] of [
        [undefined, "v1.33.5+k3s1"],
        ["v1.33.5+k3s1", "v1.33.5+k3s1"],
        ["v1.33.5+k3s1", "v1.33.6+k3s1"],
        ["v1.33.5+k3s1", "v1.33.5+k3s2"],
        ["v1.33.5+k3s1", "v1.34.1+k3s1"],
        ["v1.33.9+k3s3", "v1.34.0+k3s1"],
    ] as const) {
        assert.equal(versionChangeProblem(running, wanted, KEY), undefined, `${running} -> ${wanted}`);
    }
});

test("a downgrade is refused naming the key, both versions and the fix", () => {
    for (const [running, wanted] of [["v1.33.5+k3s1", "v1.32.9+k3s1"], ["v1.33.5+k3s2", "v1.33.5+k3s1"], ["v1.33.5+k3s1", "v1.33.4+k3s1"]]) {
        const p = versionChangeProblem(running, wanted, KEY);
        assert.ok(p, `${running} -> ${wanted} must be refused`);
        assert.match(p, new RegExp(`^picluster:k3s\\.version: ${wanted.replace(/[.+]/g, "\\$&")} is older than ${running.replace(/[.+]/g, "\\$&")}, which the cluster runs`));
        assert.match(p, /does not support downgrades/);
        assert.match(p, new RegExp(`Set it back to ${running.replace(/[.+]/g, "\\$&")} or a newer release`));
    }
});

test("skipping a minor version is refused, naming the minor to go through first", () => {
    const one = versionChangeProblem("v1.32.9+k3s1", "v1.34.1+k3s1", KEY);
    assert.match(one ?? "", /^picluster:k3s\.version: v1\.34\.1\+k3s1 skips v1\.33 from v1\.32\.9\+k3s1, which the cluster runs; k3s upgrades one minor version at a time: set a v1\.33 release first/);
    const two = versionChangeProblem("v1.31.2+k3s1", "v1.34.1+k3s1", KEY);
    assert.match(two ?? "", /skips v1\.32 to v1\.33 from v1\.31\.2\+k3s1/);
    assert.match(versionChangeProblem("v1.33.5+k3s1", "v2.0.0+k3s1", KEY) ?? "", /changes the major version/);
});

test("versions are read as k3s writes them", () => {
    assert.deepEqual(parseK3sVersion("v1.33.5+k3s1"), { major: 1, minor: 33, patch: 5, revision: 1 });
    assert.equal(parseK3sVersion("1.33.5"), undefined);
    assert.equal(parseK3sVersion("stable"), undefined);
    // An unreadable running version gives no verdict rather than a wrong one.
    assert.equal(versionChangeProblem("something-else", "v1.33.5+k3s1", KEY), undefined);
});
