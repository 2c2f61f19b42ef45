// The presence resource (components/pi/presence.ts) in the real engine, through the real
// dynamic-provider host (@pulumi/pulumi's cmd/dynamic-provider, started by
// tools/upstream-plugins/dynamic-provider), over real SSH to a throwaway Debian sshd: a Pi whose
// marker is gone (what a reflash looks like) is seen by refresh, and the next up replaces the
// presence and every command bound to it with replaceWith, as hostBound binds the program's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO, show, workspace } from "./harness";
import { startSshd } from "./sshd";

const PROGRAM = `
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { PiPresence } from "./components/pi/presence";

const cfg = new pulumi.Config();
const dir = cfg.require("dir");
const port = cfg.requireNumber("port");
const privateKey = cfg.requireSecret("privateKey");
const refuse = cfg.get("refuse");
const presence = new PiPresence("pi-presence", {
    name: "pi",
    host: "127.0.0.1", port, user: "root", privateKey, hostKey: cfg.require("hostKey"),
    perDialTimeoutSeconds: 5, dialAttempts: 2, markerPath: dir + "/presence", exchangeTimeoutSeconds: 5,
    ...(refuse ? { refuseRebuild: refuse } : {}),
});
const bound = new command.remote.Command("bound", {
    connection: { host: "127.0.0.1", port, user: "root", privateKey, hostKey: cfg.require("hostKey"), dialErrorLimit: 2, perDialTimeout: 5 },
    create: "echo create >> " + dir + "/bound.log",
    delete: "echo delete >> " + dir + "/bound.log",
    addPreviousOutputInEnv: false,
}, { dependsOn: [presence], replaceWith: [presence], deleteBeforeReplace: true });
export const marker = presence.marker;
export const boundId = bound.id;
`;

test("a Pi that lost its marker is seen by refresh and rebuilt by up, with what is bound to it; the first server's is refused", async () => {
    const sshd = await startSshd();
    const ws = workspace(REPO, ["components/pi", "components/shared"]);
    const dir = mkdtempSync(join(tmpdir(), "picluster-presence-"));
    try {
        writeFileSync(join(ws.dir, "Pulumi.yaml"), "name: engine-presence\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n    nodeargs: --disable-warning=ExperimentalWarning\nmain: index.ts\n");
        writeFileSync(join(ws.dir, "index.ts"), PROGRAM);
        assert.equal(ws.pulumi(["stack", "init", "test"]).status, 0);
        const set = (args: string[], input?: string) => {
            const r = ws.pulumi(["config", "set", ...args], { input });
            assert.equal(r.status, 0, show(r));
        };
        set(["port", String(sshd.port)]);
        set(["dir", dir]);
        set(["hostKey", sshd.hostKey]);
        set(["--secret", "privateKey"], sshd.privateKey);
        const markerFile = join(dir, "presence");
        const boundLog = () => readFileSync(join(dir, "bound.log"), "utf8").trim().split("\n");
        const outputs = () => JSON.parse(ws.pulumi(["stack", "output", "--json"]).stdout) as { marker: string };
        const ok = (r: ReturnType<typeof ws.pulumi>) => { assert.equal(r.status, 0, show(r)); return r; };

        ok(ws.pulumi(["up", "--yes", "--skip-preview"]));
        const first = outputs().marker;
        assert.match(first, /^[0-9a-f-]{36}$/, "create wrote a random marker");
        assert.equal(readFileSync(markerFile, "utf8").trim(), first, "the marker on the Pi is the one in the state");
        assert.deepEqual(boundLog(), ["create"]);

        // Nothing changed on the Pi: refresh and up --refresh leave everything as it is.
        const still = ok(ws.pulumi(["up", "--refresh", "--yes", "--skip-preview"]));
        assert.doesNotMatch(still.stdout, /\d+ (created|updated|replaced|deleted)/, show(still));
        assert.deepEqual(boundLog(), ["create"]);
        assert.ok(!ws.stateText().includes(sshd.privateKey.split("\n")[1]), "the state holds the SSH key in clear text");

        // A reflash: the program's folder is gone from the Pi.
        rmSync(markerFile);
        ok(ws.pulumi(["refresh", "--yes", "--skip-preview"]));
        const plan = ok(ws.pulumi(["preview", "--diff"]));
        assert.match(plan.stdout, /\+-\s*pulumi-nodejs:dynamic\/picluster:PiPresence/, show(plan));
        assert.match(plan.stdout, /\+-\s*command:remote:Command/, `the bound command is replaced with the presence:\n${show(plan)}`);
        const rebuild = ok(ws.pulumi(["up", "--yes", "--skip-preview"]));
        assert.match(rebuild.stdout, /2 replaced/, show(rebuild));
        assert.deepEqual(boundLog(), ["create", "delete", "create"], "the bound command was undone, then done again");
        const second = outputs().marker;
        assert.notEqual(second, first);
        assert.equal(readFileSync(markerFile, "utf8").trim(), second, "the old presence's delete left the new marker alone");
        const settled = ok(ws.pulumi(["up", "--refresh", "--yes", "--skip-preview"]));
        assert.doesNotMatch(settled.stdout, /\d+ (created|updated|replaced|deleted)/, show(settled));

        // A Pi that connects but never finishes the exchange (here the marker is a FIFO nobody
        // writes, so reading it blocks): the refresh gives up at the exchange deadline (5 s dial
        // + 5 s exchange here) and keeps what it knew, as for a Pi that does not answer.
        rmSync(markerFile);
        assert.equal(spawnSync("mkfifo", [markerFile]).status, 0);
        const start = Date.now();
        const stuck = ok(ws.pulumi(["refresh", "--yes", "--skip-preview"]));
        const seconds = (Date.now() - start) / 1000;
        assert.ok(seconds >= 5 && seconds < 45, `the stuck read ended at its deadline, not before or long after: ${seconds.toFixed(1)} s\n${show(stuck)}`);
        ok(ws.pulumi(["preview", "--expect-no-changes"]));
        // Unblock the reader left on the Pi (bounded: no reader would block the writer), then the marker again.
        spawnSync("timeout", ["2", "sh", "-c", `echo > '${markerFile}'`]);
        rmSync(markerFile);
        writeFileSync(markerFile, second + "\n");

        // The first server: a reflash is refused with the program's message, nothing rebuilt.
        set(["refuse", "REFUSED: restore it by hand"]);
        ok(ws.pulumi(["up", "--yes", "--skip-preview"]));
        rmSync(markerFile);
        const refused = ws.pulumi(["up", "--refresh", "--yes", "--skip-preview"]);
        assert.notEqual(refused.status, 0, show(refused));
        assert.match(refused.stdout + refused.stderr, /127\.0\.0\.1: the program's marker is gone .*REFUSED: restore it by hand/, show(refused));
        assert.deepEqual(boundLog(), ["create", "delete", "create"], "nothing was rebuilt");

        // Put the marker back (the old SD card), then destroy removes it.
        writeFileSync(markerFile, second + "\n");
        ok(ws.pulumi(["refresh", "--yes", "--skip-preview"]));
        ok(ws.pulumi(["destroy", "--yes", "--skip-preview"]));
        assert.ok(!existsSync(markerFile), "destroy removed the marker");
    } finally {
        sshd.stop();
        ws.cleanup();
        rmSync(dir, { recursive: true, force: true });
    }
});
