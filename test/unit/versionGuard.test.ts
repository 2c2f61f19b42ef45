// The version check runs before the stack is built: it reads the stack's own last
// `k3sVersion` output through a StackReference to itself (config.ts), under strict mocks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { installStrictMocks } from "./mocks";
import { K3S_VERSION_OUTPUT, refuseUnsafeVersionChange } from "../../config";

test("the version check reads the stack itself and refuses a downgrade, naming the key", async () => {
    const registered = installStrictMocks({ previousOutputs: { [K3S_VERSION_OUTPUT]: "v1.33.5+k3s1" } });
    await assert.rejects(refuseUnsafeVersionChange("v1.32.9+k3s1"),
        /invalid stack configuration:\n {2}- picluster:k3s\.version: v1\.32\.9\+k3s1 is older than v1\.33\.5\+k3s1, which the cluster runs/);
    const ref = registered.find((r) => r.type === "pulumi:pulumi:StackReference");
    assert.equal(ref?.inputs.name, "organization/picluster/unit", "it refers to this very stack");
    await refuseUnsafeVersionChange("v1.34.1+k3s1");
    await refuseUnsafeVersionChange("v1.33.5+k3s1");
});

test("a stack with no recorded version (new, or no up completed yet) accepts any pinned version", async () => {
    installStrictMocks({ previousOutputs: {} });
    await refuseUnsafeVersionChange("v1.30.1+k3s1");
});
