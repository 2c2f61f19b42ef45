// tools/pulumi, the wrapper every README command goes through: a dead SSH agent socket is dropped
// before the CLI starts (upstream's command provider would dial it and fail every remote command,
// even with a private key given), a live one is kept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, run, show } from "../kit";

const wrapper = join(REPO, "tools", "pulumi");
const envWith = (sock: string) => ({ ...process.env, SSH_AUTH_SOCK: sock, PULUMI_SKIP_UPDATE_CHECK: "true" });
// `env` printed by the CLI's own child would need a plugin; `version` is enough to see the wrapper's decision.
const warning = /tools\/pulumi: ignoring SSH_AUTH_SOCK=/;

test("a stale SSH_AUTH_SOCK is ignored with a warning, and the CLI still runs", () => {
    const r = run("bash", [wrapper, "version"], { env: envWith("/tmp/picluster-no-such-agent.sock") });
    assert.equal(r.status, 0, show(r));
    assert.match(r.stderr, warning, show(r));
    assert.match(r.stdout, /^v3\.\d+\.\d+/);
});

test("a live agent socket is left alone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-"));
    const sock = join(dir, "agent.sock");
    const srv = createServer();
    await new Promise<void>((res) => srv.listen(sock, res));
    try {
        const r = run("bash", [wrapper, "version"], { env: envWith(sock) });
        assert.equal(r.status, 0, show(r));
        assert.doesNotMatch(r.stderr, warning, show(r));
    } finally {
        await new Promise<void>((res) => srv.close(() => res()));
        rmSync(dir, { recursive: true, force: true });
    }
});
