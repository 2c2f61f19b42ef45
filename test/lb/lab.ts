// The load-balancer lab: network namespaces on 198.18.0.32/27 behind one bridge (lbt0),
// and every process the tests start inside them. One lab at a time on a machine (a lock
// directory); whatever a test starts, the lab stops: on close(), on process exit, and a
// lab left behind by a killed run is cleaned up by the next one.
//
// Addresses (the rest of 198.18.0.0/24 belongs to another lab: never touched):
//   198.18.0.33   the host's side of the bridge (load generator, probes)
//   198.18.0.34/.35  load balancers lbt-lb1 / lbt-lb2 (haproxy, keepalived)
//   198.18.0.40   the VIP
//   198.18.0.41-45   API-server stand-ins lbt-s1 .. lbt-s5 (backend.js, xinetd agent-check)
import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export const BRIDGE = "lbt0";
export const HOST_ADDRESS = "198.18.0.33";
export const PREFIX = 27;
export const LB_ADDRESSES = ["198.18.0.34", "198.18.0.35"] as const;
export const VIP = "198.18.0.40";
export const SERVER_ADDRESSES = ["198.18.0.41", "198.18.0.42", "198.18.0.43", "198.18.0.44", "198.18.0.45"] as const;
/** Inside every namespace the lab's link is called eth0, like on a Pi. */
export const NS_IFNAME = "eth0";

const NS_PREFIX = "lbt-";
const VETH_PREFIX = "lbtv-";
const LOCK_DIR = "/run/lock/picluster-lbt.lock";
const LOCK_WAIT_MS = 180_000;

export interface Proc {
    readonly name: string;
    readonly child: ChildProcess;
    readonly pid: number;
    /** The last 64 KiB of stdout+stderr, for failure messages. */
    log(): string;
    exited(): boolean;
    /** Resolves when the process has exited (immediately if it already has). */
    waitExit(timeoutMs: number): Promise<boolean>;
}

export function sh(cmd: string, args: readonly string[], timeoutMs = 10_000): SpawnSyncReturns<string> {
    return spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs });
}

/** Runs a command that must succeed; throws with its output otherwise. */
export function must(cmd: string, args: readonly string[], timeoutMs = 10_000): string {
    const r = sh(cmd, args, timeoutMs);
    if (r.status !== 0) {
        throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ""}):\n${r.stdout}${r.stderr}`);
    }
    return r.stdout;
}

import { sleep } from "../kit";
export { sleep };

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
    try { process.kill(-pid, sig); } catch { /* already gone */ }
}

/** Namespaces and links of this lab that exist right now (by name prefix). */
function leftovers(): { namespaces: string[]; links: string[] } {
    const ns = sh("ip", ["netns", "list"]).stdout.split("\n").map((l) => l.split(" ")[0]).filter((n) => n.startsWith(NS_PREFIX));
    const links = sh("ip", ["-o", "link", "show"]).stdout.split("\n")
        .map((l) => /^\d+: ([^:@]+)[@:]/.exec(l)?.[1] ?? "")
        .filter((n) => n === BRIDGE || n.startsWith(VETH_PREFIX));
    return { namespaces: ns, links };
}

/** Kills every process in our namespaces and deletes the namespaces, veths and the bridge. */
function destroyNetwork(): void {
    const { namespaces, links } = leftovers();
    for (const ns of namespaces) {
        for (const pid of sh("ip", ["netns", "pids", ns]).stdout.split(/\s+/).filter(Boolean)) {
            try { process.kill(Number(pid), "SIGCONT"); process.kill(Number(pid), "SIGKILL"); } catch { /* gone */ }
        }
    }
    for (const ns of namespaces) sh("ip", ["netns", "del", ns]);
    for (const link of links.filter((l) => l !== BRIDGE)) sh("ip", ["link", "del", link]);
    if (links.includes(BRIDGE)) sh("ip", ["link", "del", BRIDGE]);
}

async function acquireLock(): Promise<void> {
    const start = Date.now();
    mkdirSync(dirname(LOCK_DIR), { recursive: true });
    for (;;) {
        try {
            mkdirSync(LOCK_DIR);
            writeFileSync(join(LOCK_DIR, "pid"), String(process.pid));
            return;
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        let owner = 0;
        try { owner = Number(readFileSync(join(LOCK_DIR, "pid"), "utf8")); } catch { /* being written */ }
        if (owner > 0 && !alive(owner)) {
            // A run that was killed: its network is ours to clean up.
            destroyNetwork();
            rmSync(LOCK_DIR, { recursive: true, force: true });
            continue;
        }
        if (Date.now() - start > LOCK_WAIT_MS) throw new Error(`the LB lab is held by pid ${owner} (${LOCK_DIR}) for more than ${LOCK_WAIT_MS / 1000} s`);
        await sleep(200);
    }
}

export class NetnsLab {
    /** A directory that `nobody` can read (xinetd runs the agent-check as nobody). */
    readonly dir: string;
    private readonly procs: Proc[] = [];
    private closed = false;
    private readonly onExit = (): void => this.closeSync();

    private constructor() {
        this.dir = mkdtempSync(join(tmpdir(), "picluster-lb-"));
        chmodSync(this.dir, 0o755);
    }

    /** Requires root, ip, the bridge module; takes the machine-wide lab lock. */
    static async open(): Promise<NetnsLab> {
        if (process.getuid?.() !== 0) throw new Error("the LB lab needs root (network namespaces); run the tests as root");
        await acquireLock();
        const lab = new NetnsLab();
        process.on("exit", lab.onExit);
        try {
            destroyNetwork(); // ours only, by prefix; left by a run in this same process
            must("ip", ["link", "add", BRIDGE, "type", "bridge", "forward_delay", "0", "stp_state", "0"]);
            must("ip", ["addr", "add", `${HOST_ADDRESS}/${PREFIX}`, "dev", BRIDGE]);
            must("ip", ["link", "set", BRIDGE, "up"]);
        } catch (e) {
            lab.closeSync();
            throw e;
        }
        return lab;
    }

    /** A namespace `lbt-<name>` with eth0 on the bridge at `address`. */
    addNamespace(name: string, address: string): string {
        const ns = NS_PREFIX + name;
        const veth = VETH_PREFIX + name;
        must("ip", ["netns", "add", ns]);
        must("ip", ["link", "add", veth, "type", "veth", "peer", "name", NS_IFNAME, "netns", ns]);
        must("ip", ["link", "set", veth, "master", BRIDGE, "up"]);
        must("ip", ["-n", ns, "link", "set", "lo", "up"]);
        must("ip", ["-n", ns, "addr", "add", `${address}/${PREFIX}`, "dev", NS_IFNAME]);
        must("ip", ["-n", ns, "link", "set", NS_IFNAME, "up"]);
        return ns;
    }

    /** Pulls the namespace's cable: its link on the bridge goes down (and comes back). */
    setLink(name: string, up: boolean): void {
        must("ip", ["link", "set", VETH_PREFIX + name, up ? "up" : "down"]);
    }

    /** Addresses currently on the namespace's eth0. */
    addresses(ns: string): string[] {
        return [...sh("ip", ["-n", ns, "-o", "-4", "addr", "show", "dev", NS_IFNAME]).stdout.matchAll(/inet (\S+)\//g)].map((m) => m[1]);
    }

    /** Starts `cmd` inside namespace `ns` (or on the host with null), in its own process group. */
    spawn(name: string, ns: string | null, cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Proc {
        if (this.closed) throw new Error("lab is closed");
        const argv = ns === null ? [cmd, ...args] : ["ip", "netns", "exec", ns, cmd, ...args];
        const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
        let log = "";
        const keep = (d: Buffer): void => { log = (log + d.toString()).slice(-65536); };
        child.stdout?.on("data", keep);
        child.stderr?.on("data", keep);
        let exitedFlag = false;
        const exitPromise = new Promise<void>((res) => child.once("exit", () => { exitedFlag = true; res(); }));
        child.once("error", (e) => { log += `\nspawn error: ${e.message}`; exitedFlag = true; });
        if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
        const proc: Proc = {
            name, child, pid: child.pid,
            log: () => log,
            exited: () => exitedFlag,
            waitExit: async (timeoutMs) => {
                if (exitedFlag) return true;
                let timer: NodeJS.Timeout | undefined;
                const timeout = new Promise<boolean>((res) => { timer = setTimeout(() => res(false), timeoutMs); });
                const r = await Promise.race([exitPromise.then(() => true), timeout]);
                clearTimeout(timer);
                return r;
            },
        };
        this.procs.push(proc);
        return proc;
    }

    /** Stops a process and its group: SIGCONT (it may be stopped), SIGTERM, then SIGKILL. */
    async stop(proc: Proc, graceMs = 2000): Promise<void> {
        if (!proc.exited()) {
            signalGroup(proc.pid, "SIGCONT");
            signalGroup(proc.pid, "SIGTERM");
            if (!(await proc.waitExit(graceMs))) {
                signalGroup(proc.pid, "SIGKILL");
                await proc.waitExit(2000);
            }
        }
        const i = this.procs.indexOf(proc);
        if (i >= 0) this.procs.splice(i, 1);
    }

    writeFile(name: string, content: string, mode = 0o644): string {
        const path = join(this.dir, name);
        writeFileSync(path, content, { mode });
        chmodSync(path, mode);
        return path;
    }

    async close(): Promise<void> {
        if (this.closed) return;
        await Promise.all([...this.procs].map((p) => this.stop(p)));
        this.closeSync();
    }

    /** Synchronous teardown: also runs from the process 'exit' handler. */
    closeSync(): void {
        if (this.closed) return;
        this.closed = true;
        process.removeListener("exit", this.onExit);
        for (const p of this.procs) {
            signalGroup(p.pid, "SIGCONT");
            signalGroup(p.pid, "SIGKILL");
        }
        this.procs.length = 0;
        destroyNetwork();
        rmSync(this.dir, { recursive: true, force: true });
        try {
            if (existsSync(LOCK_DIR) && Number(readFileSync(join(LOCK_DIR, "pid"), "utf8")) === process.pid) {
                rmSync(LOCK_DIR, { recursive: true, force: true });
            }
        } catch { /* not ours */ }
    }
}
