// The preparation's refusals and its /etc/hosts edit, run by bash against files of the test's
// own: an OS older than Bookworm is refused before anything changes, a kernel without the
// memory cgroup is refused before k3s is installed (k3s's own check, pkg/cgroups), and the
// 127.0.1.1 line follows the new hostname and comes back byte for byte on undo.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import {
    renderHostsLines, renderHostsRestoreLines, renderOsCheckLines, renderPresenceClaimScript, renderPresenceReadScript, renderPresenceReleaseScript,
} from "../../components/pi/scripts";
import { renderCgroupCheckLines } from "../../components/k3s/scripts";
import { script } from "../../components/shared/bash";
import { output, run, tempDir, writeTemp } from "./helpers";

function runLines(lines: string[]) {
    return run("/bin/bash", ["-c", script(...lines, "echo passed")]);
}

const osReleases: [string, string, boolean][] = [
    ["Debian 12", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n', true],
    ["Raspberry Pi OS 32-bit Bookworm", 'PRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"\nID=raspbian\nID_LIKE=debian\nVERSION_ID="12"\n', true],
    ["Debian 13", 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n', true],
    ["Debian testing (no VERSION_ID)", 'PRETTY_NAME="Debian GNU/Linux forky/sid"\nID=debian\n', true],
    ["Ubuntu 24.04", 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n', true],
    ["Debian 11 (Bullseye)", 'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nID=debian\nVERSION_ID="11"\n', false],
    ["Raspbian 10 (Buster)", 'PRETTY_NAME="Raspbian GNU/Linux 10 (buster)"\nID=raspbian\nVERSION_ID="10"\n', false],
    ["Ubuntu 20.04", 'PRETTY_NAME="Ubuntu 20.04.6 LTS"\nID=ubuntu\nVERSION_ID="20.04"\n', false],
    ["Fedora", 'PRETTY_NAME="Fedora Linux 41"\nID=fedora\nVERSION_ID=41\n', false],
];

for (const [what, text, accepted] of osReleases) {
    test(`the OS check ${accepted ? "accepts" : "refuses"} ${what}`, () => {
        const dir = tempDir("os-");
        const r = runLines(renderOsCheckLines("rasp04", writeTemp(dir, "os-release", text)));
        if (accepted) {
            assert.equal(r.status, 0, output(r));
            assert.match(r.stdout, /passed/);
        } else {
            assert.equal(r.status, 1, output(r));
            assert.doesNotMatch(r.stdout, /passed/);
            const name = /PRETTY_NAME="([^"]+)"/.exec(text)![1];
            assert.ok(r.stderr.includes(`picluster: rasp04 runs ${name}`), output(r));
            assert.match(r.stderr, /supports Raspberry Pi OS or Debian 12 \(Bookworm\) or newer.*Nothing was changed on it/, output(r));
        }
    });
}

test("the OS check refuses a Pi without /etc/os-release", () => {
    const r = runLines(renderOsCheckLines("rasp04", join(tempDir("os-"), "missing")));
    assert.equal(r.status, 1, output(r));
    assert.match(r.stderr, /picluster: rasp04: .*missing is missing, so its OS cannot be checked/);
});

function cgroupFixture(opts: { controllers?: string; selfCgroup: string }) {
    const dir = tempDir("cg-");
    const root = join(dir, "cgroup");
    mkdirSync(root);
    if (opts.controllers !== undefined) writeFileSync(join(root, "cgroup.controllers"), opts.controllers + "\n");
    return {
        cgroupRoot: root,
        selfCgroup: writeTemp(dir, "self-cgroup", opts.selfCgroup),
        cmdline: writeTemp(dir, "cmdline", "console=serial0,115200 root=PARTUUID=6c586e13-02 rootwait cgroup_memory=1 cgroup_enable=memory\n"),
    };
}

const V1_WITH_MEMORY = "4:memory:/system.slice/ssh.service\n3:cpuset:/\n1:cpu,cpuacct:/\n0::/\n";
const V1_WITHOUT_MEMORY = "3:cpuset:/\n1:cpu,cpuacct:/\n0::/system.slice/ssh.service\n";

test("the cgroup check accepts cgroup v2 with cpu, cpuset and memory (Bookworm's default)", () => {
    const r = runLines(renderCgroupCheckLines(cgroupFixture({ controllers: "cpuset cpu io memory pids", selfCgroup: "0::/\n" })));
    assert.equal(r.status, 0, output(r));
});

test("the cgroup check refuses cgroup v2 without memory, naming it and showing the running kernel's command line", () => {
    const r = runLines(renderCgroupCheckLines(cgroupFixture({ controllers: "cpuset cpu io pids", selfCgroup: "0::/\n" })));
    assert.equal(r.status, 1, output(r));
    assert.match(r.stderr, /the kernel has no memory cgroup/);
    assert.match(r.stderr, /command line \(.*cmdline\) is: console=serial0,115200 root=PARTUUID=6c586e13-02 rootwait cgroup_memory=1 cgroup_enable=memory\./);
    assert.match(r.stderr, /\/boot\/firmware\/cmdline\.txt on Bookworm\) and reboot/);
});

test("the cgroup check names every controller missing from cgroup v2", () => {
    const r = runLines(renderCgroupCheckLines(cgroupFixture({ controllers: "io pids", selfCgroup: "0::/\n" })));
    assert.equal(r.status, 1, output(r));
    assert.match(r.stderr, /the kernel has no cpu cpuset memory cgroup/);
});

test("the cgroup check accepts cgroup v1 with memory and refuses it without", () => {
    let r = runLines(renderCgroupCheckLines(cgroupFixture({ selfCgroup: V1_WITH_MEMORY })));
    assert.equal(r.status, 0, output(r));
    r = runLines(renderCgroupCheckLines(cgroupFixture({ selfCgroup: V1_WITHOUT_MEMORY })));
    assert.equal(r.status, 1, output(r));
    assert.match(r.stderr, /no memory cgroup/);
});

function hostsFixture(text: string, mode = 0o644) {
    const dir = tempDir("hosts-");
    const stateDir = join(dir, "state");
    mkdirSync(stateDir);
    return { hostsFile: writeTemp(dir, "hosts", text, mode), stateDir };
}

const modeOf = (path: string) => statSync(path).mode & 0o7777;

const DEBIAN_HOSTS = "127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n\n# The following lines are desirable for IPv6 capable hosts\n::1     localhost ip6-localhost ip6-loopback\n";

test("the hosts step maps 127.0.1.1 to the new name, once, and the undo gives back the file byte for byte, mode included", () => {
    // An unusual mode (the lab's Pis have one): kept by the edit and by the undo.
    const at = hostsFixture(DEBIAN_HOSTS, 0o755);
    let r = runLines(renderHostsLines("rasp04", at));
    assert.equal(r.status, 0, output(r));
    assert.equal(readFileSync(at.hostsFile, "utf8"), DEBIAN_HOSTS.replace("127.0.1.1\traspberrypi", "127.0.1.1\trasp04"));
    assert.equal(modeOf(at.hostsFile), 0o755);
    r = runLines(renderHostsLines("rasp04", at));
    assert.equal(r.status, 0, output(r));
    assert.doesNotMatch(r.stdout, /maps 127\.0\.1\.1/, "a second run changes nothing");
    r = runLines(renderHostsRestoreLines(at));
    assert.equal(r.status, 0, output(r));
    assert.equal(readFileSync(at.hostsFile, "utf8"), DEBIAN_HOSTS);
    assert.equal(modeOf(at.hostsFile), 0o755);
    assert.ok(!existsSync(join(at.stateDir, "hosts.line")), "the saved line is gone after the undo");
});

test("the hosts step adds a 127.0.1.1 line where there was none and the undo removes it", () => {
    const text = "127.0.0.1\tlocalhost\n::1\tlocalhost\n";
    const at = hostsFixture(text);
    let r = runLines(renderHostsLines("rasp04", at));
    assert.equal(r.status, 0, output(r));
    assert.equal(readFileSync(at.hostsFile, "utf8"), text + "127.0.1.1\trasp04\n");
    r = runLines(renderHostsRestoreLines(at));
    assert.equal(r.status, 0, output(r));
    assert.equal(readFileSync(at.hostsFile, "utf8"), text);
});

test("the hosts step leaves a line that already names the Pi alone (and has nothing to undo)", () => {
    const text = "127.0.0.1\tlocalhost\n127.0.1.1 rasp04.lan rasp04\n";
    const at = hostsFixture(text);
    let r = runLines(renderHostsLines("rasp04", at));
    assert.equal(r.status, 0, output(r));
    assert.equal(readFileSync(at.hostsFile, "utf8"), text);
    r = runLines(renderHostsRestoreLines(at));
    assert.equal(r.status, 0, output(r));
    assert.equal(readFileSync(at.hostsFile, "utf8"), text);
});

test("the presence marker: claimed from stdin, read back, and released only by the marker that claimed it", () => {
    const dir = join(tempDir("presence"), "state");
    const path = join(dir, "presence");
    const sh = (s: string, input: string) => run("/bin/bash", ["-c", s], input);
    let r = sh(renderPresenceClaimScript({ hostname: "rasp04", path }), "m-1\n");
    assert.equal(r.status, 0, output(r));
    assert.equal(r.stdout.split("\n")[0], "m-1", "claim prints the marker it wrote");
    assert.equal(modeOf(dir), 0o700);
    r = sh(renderPresenceReadScript(path), "");
    assert.equal(r.stdout.split("\n")[0], "m-1");
    // A replacement claimed the Pi again: the old presence's release leaves the new marker.
    assert.equal(sh(renderPresenceClaimScript({ hostname: "rasp04", path }), "m-2\n").status, 0);
    r = sh(renderPresenceReleaseScript(path), "m-1\n");
    assert.equal(r.status, 0, output(r));
    assert.equal(readFileSync(path, "utf8"), "m-2\n");
    r = sh(renderPresenceReleaseScript(path), "m-2\n");
    assert.equal(r.status, 0, output(r));
    assert.ok(!existsSync(dir), "the last release removes the marker and its empty folder");
    r = sh(renderPresenceReadScript(path), "");
    assert.equal(r.status, 0, output(r));
    assert.equal(r.stdout.split("\n")[0], "", "a reflashed Pi reads as no marker");
});

test("the presence claim refuses a Pi on Debian 11 with the preparation's message, before writing its marker", () => {
    const base = tempDir("presence-os");
    const path = join(base, "state", "presence");
    const osRelease = join(base, "os-release");
    writeFileSync(osRelease, 'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nID=debian\nVERSION_ID="11"\n');
    const r = run("/bin/bash", ["-c", renderPresenceClaimScript({ hostname: "rasp04", path, osRelease })], "m-1\n");
    assert.notEqual(r.status, 0, output(r));
    assert.match(r.stderr, /picluster: rasp04 runs Debian GNU\/Linux 11 \(bullseye\) .*supports Raspberry Pi OS or Debian 12 \(Bookworm\) or newer.*Nothing was changed on it\./);
    assert.ok(!existsSync(join(base, "state")), "nothing was written");
    writeFileSync(osRelease, 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n');
    const ok = run("/bin/bash", ["-c", renderPresenceClaimScript({ hostname: "rasp04", path, osRelease })], "m-1\n");
    assert.equal(ok.status, 0, output(ok));
    assert.equal(readFileSync(path, "utf8"), "m-1\n");
});
