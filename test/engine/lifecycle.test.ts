// The real engine and command provider over real SSH (a throwaway sshd on loopback):
// up, up again with no changes, destroy; and the state never holds a secret in clear.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { show, workspace } from "./harness";
import { startSshd } from "./sshd";

const TOKEN = "K10feedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface::server:topsecretjoinvalue";

test("given a reachable host, up creates, a second up changes nothing, destroy removes; no secret in state", async () => {
    const sshd = await startSshd();
    const ws = workspace(join(__dirname, "fixtures", "remote"), ["Pulumi.yaml", "index.ts"]);
    const target = join(mkdtempSync(join(tmpdir(), "picluster-remote-")), "data");
    try {
        assert.equal(ws.pulumi(["stack", "init", "test"]).status, 0);
        const set = (args: string[], input?: string) => {
            const r = ws.pulumi(["config", "set", ...args], { input });
            assert.equal(r.status, 0, show(r));
        };
        set(["port", String(sshd.port)]);
        set(["dir", target]);
        set(["hostKey", sshd.hostKey]);
        set(["--secret", "privateKey"], sshd.privateKey);
        set(["--secret", "token"], TOKEN);

        const up1 = ws.pulumi(["up", "--yes", "--skip-preview"]);
        assert.equal(up1.status, 0, show(up1));
        assert.ok(existsSync(join(target, "token")), "the remote command ran");
        assert.match(up1.stdout, /\+ 4 created/, show(up1));

        const outputs = ws.pulumi(["stack", "output", "--json", "--show-secrets"]);
        const out = JSON.parse(outputs.stdout) as Record<string, unknown>;
        assert.equal(out.tokenBack, TOKEN, "the secret made the round trip through stdin and stdout");
        assert.equal(out.passwordLength, 20);
        const plain = JSON.parse(ws.pulumi(["stack", "output", "--json"]).stdout) as Record<string, unknown>;
        assert.equal(plain.tokenBack, "[secret]", "the token read back stays a secret output");

        const up2 = ws.pulumi(["up", "--yes", "--skip-preview"]);
        assert.equal(up2.status, 0, show(up2));
        assert.doesNotMatch(up2.stdout, /(created|updated|replaced|deleted)/, show(up2));
        const preview = ws.pulumi(["preview", "--expect-no-changes"]);
        assert.equal(preview.status, 0, show(preview));

        const state = ws.stateText();
        assert.ok(state.length > 1000, "state was read");
        const password = String(out.passwordValue);
        assert.equal(password.length, 20);
        for (const [what, secret] of [["join token", "topsecretjoinvalue"], ["ssh key", sshd.privateKey.split("\n")[1]], ["random password", password]] as const) {
            assert.ok(!state.includes(secret), `the state holds the ${what} in clear text`);
        }

        const destroy = ws.pulumi(["destroy", "--yes", "--skip-preview"]);
        assert.equal(destroy.status, 0, show(destroy));
        for (const [what, r] of [["up", up1], ["second up", up2], ["preview", preview], ["destroy", destroy]] as const) {
            assert.doesNotMatch(r.stdout + r.stderr, /PULUMI_COMMAND_STD(OUT|ERR)|AcceptEnv/, `${what} warned about the previous output in the environment:\n${show(r)}`);
        }
        assert.ok(!existsSync(target), "destroy ran the delete command");
    } finally {
        sshd.stop();
        ws.cleanup();
        rmSync(join(target, ".."), { recursive: true, force: true });
    }
});
