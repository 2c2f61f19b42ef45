// The lab benchmark (run by test/lab/bench): for each lab size, `pulumi up` from empty with
// the real CLI, timed; the critical path (the longest chain of dependent steps, each
// weighted by its own duration as the engine reported it); their ratio; a no-change up and a
// no-change up --refresh (which reads every Pi's presence: reflash detection); the
// streaming platform's Deployments; each server's control plane (apiserver start to ready, resident
// memory per program); `pulumi destroy`.
// Step durations come from the engine's events (`pulumi up --json`), timestamped as they
// arrive, so each step's own duration is known to a few milliseconds.
import { writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { Lab, parseKubeconfig, Run, show } from "./labkit";
import { rollout } from "./rollout";

interface Figures {
    parallel: string;
    pis: number;
    resources: number;
    wall: number;
    span: number;
    critical: number;
    chain: string[];
    noChange: number;
    /** A no-change `up --refresh`: every Pi's presence read over SSH first (reflash detection). */
    noChangeRefresh: number;
    destroy: number;
    /** The streaming platform's Deployments available after the up, out of how many. */
    streaming: string;
    controlPlane: ControlPlaneFigures;
    upgrade?: UpgradeFigures;
}

/** The rolling upgrade to the lab's next k3s release, watched through the VIP (rollout.ts). */
interface UpgradeFigures {
    from: string;
    to: string;
    /** The whole `pulumi up`. */
    total: number;
    /** The etcd snapshot copied off the Pis first (its own step). */
    snapshot: number;
    /** Seconds each server / agent was out of service (cordoned or NotReady), summed. */
    serversOut: number;
    agentsOut: number;
    servers: number;
    agents: number;
    requests: number;
    failed: number;
    longestGap: number;
    maxServersOut: number;
    maxAgentsOut: number;
    maxAgentsCordoned: number;
    /** When most agents were out: which, and whether cordoned or NotReady. */
    agentsOutPeak: string;
    /** Nodes on the new version at the end, out of how many. */
    onNewVersion: string;
}

/** Per simulated server: seconds from the apiserver's start to ready, and resident memory (MiB) per program. */
interface ControlPlaneFigures {
    apiserverReady: number[];
    memory: Map<string, number[]>;
}

/** The programs of a k3s server in the lab: k3s's own (the stand-in) and the real parts it runs. */
const SERVER_PROGRAMS = ["k3s", "etcd", "kube-apiserver", "kube-controller", "kube-scheduler", "kwok"];

const stamp = (line: string) => {
    const m = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d:\d\d:\d\d\.\d+)/.exec(line);
    return m ? Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}Z`) / 1000 : NaN;
};

/** Read from each server: the stand-in's own log (the apiserver's start and readiness) and ps. */
function controlPlaneFigures(lab: Lab): ControlPlaneFigures {
    const apiserverReady: number[] = [];
    const memory = new Map<string, number[]>(SERVER_PROGRAMS.map((p) => [p, []]));
    for (const s of lab.active("server")) {
        const log = lab.exec(s.name, "cat /run/systemctl-standin/k3s.service/log").stdout.split("\n");
        const started = log.filter((l) => l.includes("kube-apiserver started")).map(stamp).pop();
        const ready = log.filter((l) => l.includes("kube-apiserver is ready")).map(stamp).pop();
        if (started !== undefined && ready !== undefined && ready >= started) apiserverReady.push(ready - started);
        for (const line of lab.execOk(s.name, "ps -eo rss=,comm=").split("\n")) {
            const m = /^\s*(\d+)\s+(\S+)/.exec(line);
            if (m && memory.has(m[2])) memory.get(m[2])?.push(Number(m[1]) / 1024);
        }
    }
    return { apiserverReady, memory };
}

function streamingStatus(lab: Lab): string {
    const r = lab.exec(lab.active("server")[0].name, "k3s kubectl get deployments -n streaming -o json");
    if (r.status !== 0) return "none";
    const doc = JSON.parse(r.stdout) as { items: { spec: { replicas: number }; status: { availableReplicas?: number } }[] };
    return `${doc.items.filter((d) => d.status.availableReplicas === d.spec.replicas).length}/${doc.items.length}`;
}

const median = (xs: number[]) => {
    if (xs.length === 0) return NaN;
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

interface EngineEvent {
    resourcePreEvent?: { metadata: { urn: string; op: string } };
    resOutputsEvent?: { metadata: { urn: string; op: string } };
    resOpFailedEvent?: { metadata: { urn: string } };
}

/** `pulumi up --json` streams engine events: timestamp each step's start and end as they arrive. */
async function timedUp(lab: Lab, extra: string[]): Promise<{ wall: number; starts: Map<string, number>; ends: Map<string, number>; opSeconds: Map<string, number>; run: Run }> {
    const t0 = Date.now();
    const starts = new Map<string, number>();
    const ends = new Map<string, number>();
    // Per `<urn> <op>`: a replacement is several steps of one urn (create-replacement, replace, delete-replaced).
    const opStarts = new Map<string, number>();
    const opSeconds = new Map<string, number>();
    const run = lab.pulumiUpAsync(["--json", ...extra], (line) => {
        if (!line.startsWith("{")) return;
        const now = (Date.now() - t0) / 1000;
        const e = JSON.parse(line) as EngineEvent;
        if (e.resourcePreEvent && e.resourcePreEvent.metadata.op !== "same") {
            starts.set(e.resourcePreEvent.metadata.urn, now);
            opStarts.set(`${e.resourcePreEvent.metadata.urn} ${e.resourcePreEvent.metadata.op}`, now);
        }
        if (e.resOutputsEvent && e.resOutputsEvent.metadata.op !== "same") {
            ends.set(e.resOutputsEvent.metadata.urn, now);
            const key = `${e.resOutputsEvent.metadata.urn} ${e.resOutputsEvent.metadata.op}`;
            const began = opStarts.get(key);
            if (began !== undefined) opSeconds.set(key, now - began);
        }
    });
    const timer = setTimeout(() => process.kill(-run.pid, "SIGKILL"), 1_800_000);
    const r = await run.done;
    clearTimeout(timer);
    return { wall: r.seconds, starts, ends, opSeconds, run: r };
}

const ok = (r: Run): Run => {
    if (r.status !== 0) throw new Error(`pulumi up failed\n${show(r)}`);
    return r;
};

/**
 * Bumps the lab to its next k3s release and times the rolling upgrade while one request at a
 * time lists the Nodes through the VIP: the whole up against the sum of what it must do one
 * after another (the snapshot, then each server out of service, then each agent, one at a time
 * with k3s.upgrade.maxUnavailable 1), the failed requests and the API's longest silence.
 */
async function benchUpgrade(lab: Lab, extra: string[]): Promise<UpgradeFigures> {
    const from = lab.output("k3sVersion");
    lab.config({ ...lab.layout, k3s: "next" });
    const kc = parseKubeconfig(lab.output("kubeconfig"));
    const servers = lab.active("server").map((p) => p.name);
    const agents = lab.active("agent").map((p) => p.name);
    let timing: Awaited<ReturnType<typeof timedUp>> | undefined;
    const r = await rollout(kc, servers, async () => { timing = await timedUp(lab, extra); return timing.run; }, 2_400_000);
    ok(r.up);
    const to = lab.output("k3sVersion");
    // The snapshot is replaced (its trigger is the k3s settings): its create-replacement saves and copies it.
    const snapshotStep = [...(timing?.opSeconds ?? [])].find(([k]) => /::etcd-snapshot-before-upgrade (create-replacement|create)$/.test(k));
    const snapshot = snapshotStep ? snapshotStep[1] : NaN;
    const out = r.outMs();
    const sum = (names: string[]) => names.reduce((a, n) => a + (out.get(n) ?? 0), 0) / 1000;
    const last = r.samples[r.samples.length - 1]?.nodes ?? [];
    const isServer = (n: string) => servers.includes(n);
    const isAgent = (n: string) => !isServer(n);
    const peak = r.samples.reduce((best, x) => (x.nodes.filter((n) => isAgent(n.name) && n.out).length > best.nodes.filter((n) => isAgent(n.name) && n.out).length ? x : best), r.samples[0]);
    const agentsOutPeak = peak ? `at ${(peak.t / 1000).toFixed(1)} s: ` + peak.nodes.filter((n) => isAgent(n.name) && n.out)
        .map((n) => `${n.name} ${n.cordoned ? "cordoned" : "NotReady"}`).join(", ") : "";
    // Kept outside the lab (which is torn down): the watch's samples and the up's own output.
    const keep = join(tmpdir(), `picluster-bench-upgrade-${lab.active().length}`);
    writeFileSync(`${keep}.json`, JSON.stringify(r.samples.map((x) => ({ t: x.t, out: x.nodes.filter((n) => n.out) })), null, 1));
    writeFileSync(`${keep}.log`, r.up.stdout + r.up.stderr);
    process.stderr.write(`bench: the upgrade's samples and output are in ${keep}.json and ${keep}.log\n`);
    return {
        from, to, total: r.seconds, snapshot, serversOut: sum(servers), agentsOut: sum(agents), servers: servers.length, agents: agents.length,
        requests: r.samples.length + r.failed.length, failed: r.failed.length, longestGap: r.longestGapMs / 1000,
        maxServersOut: r.maxOut(isServer), maxAgentsOut: r.maxOut(isAgent), maxAgentsCordoned: r.maxCordoned(isAgent), agentsOutPeak,
        onNewVersion: `${last.filter((n) => n.version === to && !n.out).length}/${last.length}`,
    };
}

function criticalPath(lab: Lab, starts: Map<string, number>, ends: Map<string, number>): { critical: number; chain: string[]; resources: number } {
    const ex = lab.pulumi(["stack", "export"], 120_000);
    if (ex.status !== 0) throw new Error(show(ex));
    const doc = JSON.parse(ex.stdout) as { deployment: { resources: { urn: string; custom?: boolean; dependencies?: string[] }[] } };
    const resources = doc.deployment.resources;
    const deps = new Map(resources.map((r) => [r.urn, r.dependencies ?? []]));
    // Steps are custom resources; the stack and components only wrap them.
    const custom = new Set(resources.filter((r) => r.custom).map((r) => r.urn));
    const own = (urn: string) => (custom.has(urn) && starts.has(urn) && ends.has(urn)
        ? Math.max(0, (ends.get(urn) as number) - (starts.get(urn) as number)) : 0);
    const memo = new Map<string, { len: number; chain: string[] }>();
    const longest = (urn: string, seen: Set<string>): { len: number; chain: string[] } => {
        const m = memo.get(urn);
        if (m) return m;
        if (seen.has(urn)) throw new Error(`dependency cycle at ${urn}`);
        seen.add(urn);
        let best = { len: 0, chain: [] as string[] };
        for (const d of deps.get(urn) ?? []) {
            const c = longest(d, seen);
            if (c.len > best.len) best = c;
        }
        seen.delete(urn);
        const res = { len: best.len + own(urn), chain: own(urn) > 0 ? [...best.chain, `${urn.split("::").pop()} ${own(urn).toFixed(1)}s`] : best.chain };
        memo.set(urn, res);
        return res;
    };
    let top = { len: 0, chain: [] as string[] };
    for (const r of resources) {
        const c = longest(r.urn, new Set());
        if (c.len > top.len) top = c;
    }
    return { critical: top.len, chain: top.chain, resources: resources.filter((r) => r.custom).length };
}

async function bench(spec: string, name: string, parallels: string[], withUpgrade: boolean): Promise<Figures[]> {
    const lab = new Lab(name, spec);
    const out: Figures[] = [];
    try {
        for (const parallel of parallels) {
            process.stderr.write(`bench: lab ${name} (${spec}), parallel ${parallel}\n`);
            lab.up(); // fresh Pis for every run: "from empty" includes preparing and rebooting them
            const extra = parallel === "default" ? [] : ["--parallel", parallel];
            const { wall, starts, ends, run } = await timedUp(lab, extra);
            ok(run);
            const steps = [...starts.keys()].filter((u) => ends.has(u) && !u.includes("::pulumi:pulumi:Stack::"));
            const span = Math.max(...steps.map((u) => ends.get(u) as number)) - Math.min(...steps.map((u) => starts.get(u) as number));
            const { critical, chain, resources } = criticalPath(lab, starts, ends);
            writeFileSync(join(lab.dir, `timeline-${parallel}.json`), JSON.stringify(steps.map((u) => ({
                step: u.split("::").pop(), start: starts.get(u), end: ends.get(u),
            })).sort((a, b) => (a.start as number) - (b.start as number)), null, 1));
            const nc = lab.converge(extra);
            if (nc.status !== 0) throw new Error(show(nc));
            const ncr = lab.converge([...extra, "--refresh", "--expect-no-changes"]);
            if (ncr.status !== 0) throw new Error(show(ncr));
            const streaming = streamingStatus(lab);
            const controlPlane = controlPlaneFigures(lab);
            const upgrade = withUpgrade ? await benchUpgrade(lab, extra) : undefined;
            const d = lab.pulumi(["destroy", "--yes", "--skip-preview", ...extra], 1_800_000);
            if (d.status !== 0) throw new Error(show(d));
            out.push({ parallel, pis: lab.active().length, resources, wall, span, critical, chain, noChange: nc.seconds, noChangeRefresh: ncr.seconds,
                destroy: d.seconds, streaming, controlPlane, ...(upgrade ? { upgrade } : {}) });
        }
    } finally {
        if (process.env.PILAB_KEEP !== "1") lab.down();
    }
    return out;
}

async function main(): Promise<void> {
    const args = process.argv.slice(2);
    // The CLI's own default (4 steps per CPU), given explicitly because tools/pulumi raises it,
    // against tools/pulumi's default (PULUMI_PARALLEL=64).
    let parallels = [String(4 * cpus().length), "default"];
    const pi = args.indexOf("--parallel");
    if (pi >= 0) {
        parallels = args[pi + 1].split(",");
        args.splice(pi, 2);
    }
    const ui = args.indexOf("--upgrade");
    const withUpgrade = ui >= 0;
    if (withUpgrade) args.splice(ui, 1);
    const sizes = (args[0] ?? "7,26").split(",");
    const specs: Record<string, [string, string]> = {
        "7": [join(__dirname, "specs", "bench7.spec"), "bench7"],
        "26": [join(__dirname, "specs", "seed.spec"), "seed"],
    };
    const figures: Figures[] = [];
    for (const s of sizes) {
        const spec = specs[s];
        if (!spec) throw new Error(`unknown size ${s}: use 7 and/or 26`);
        figures.push(...await bench(spec[0], spec[1], parallels, withUpgrade));
    }
    const f = (n: number) => n.toFixed(1).padStart(7);
    console.log("\nlab benchmark: the real `pulumi up` of the program against simulated Pis (k3s stand-in), " +
        `${cpus().length} CPUs; the CLI's own default --parallel is 4 per CPU (${4 * cpus().length} here); "default" is tools/pulumi's, PULUMI_PARALLEL=${process.env.PULUMI_PARALLEL ?? 64}`);
    console.log("  Pis  --parallel  resources  up from empty (s)  engine span (s)  critical path (s)  wall/critical  span/critical  no-change up (s)  up --refresh (s)  ratio  destroy (s)  streaming available");
    for (const x of figures) {
        console.log(`  ${String(x.pis).padStart(3)}  ${x.parallel.padStart(10)}  ${String(x.resources).padStart(9)}  ${f(x.wall)}            ${f(x.span)}          ${f(x.critical)}            ${(x.wall / x.critical).toFixed(2).padStart(5)}          ${(x.span / x.critical).toFixed(2).padStart(5)}         ${f(x.noChange)}           ${f(x.noChangeRefresh)}  ${(x.noChangeRefresh / x.noChange).toFixed(2).padStart(5)}      ${f(x.destroy)}  ${x.streaming.padStart(9)}`);
    }
    console.log("  control plane per simulated server (median over the servers, max in brackets):");
    for (const x of figures) {
        const cp = x.controlPlane;
        const mem = [...cp.memory].map(([p, v]) => `${p} ${median(v).toFixed(0)} (${Math.max(...v).toFixed(0)}) MiB`).join(", ");
        console.log(`  ${String(x.pis).padStart(3)} Pis, --parallel ${x.parallel}: kube-apiserver start to ready ${median(cp.apiserverReady).toFixed(1)} s (${Math.max(...cp.apiserverReady).toFixed(1)} s); resident memory: ${mem}`);
    }
    for (const p of parallels) {
        const small = figures.find((x) => x.pis === 7 && x.parallel === p);
        const big = figures.find((x) => x.pis === 26 && x.parallel === p);
        if (small && big) console.log(`  26/7 wall-time ratio, --parallel ${p}: ${(big.wall / small.wall).toFixed(2)} (goal: close to 1)`);
    }
    console.log("  goal: a no-change up --refresh (every Pi's presence read, for reflash detection) within 2x of a no-change up.");
    console.log("  goal: wall/critical <= 1.3. wall = the whole CLI command (program start included); span = first step start to last step end.");
    for (const x of figures) console.log(`  critical path, ${x.pis} Pis, --parallel ${x.parallel}: ${x.chain.join(" -> ")}`);
    const upgrades = figures.filter((x) => x.upgrade);
    if (upgrades.length > 0) {
        console.log("  rolling upgrade to the next k3s release, one request at a time through the VIP (serial sum = the snapshot + each server's and each agent's time out of service, which the rollout must do one after another):");
        console.log("  Pis  --parallel  from -> to                      total (s)  serial sum (s)  total/serial  snapshot (s)  servers out (s)  agents out (s)  requests  failed  longest gap (s)  max out servers/agents (cordoned)  on new version");
        for (const x of upgrades) {
            const u = x.upgrade as UpgradeFigures;
            const serial = u.snapshot + u.serversOut + u.agentsOut;
            console.log(`  ${String(x.pis).padStart(3)}  ${x.parallel.padStart(10)}  ${`${u.from} -> ${u.to}`.padEnd(30)}  ${f(u.total)}    ${f(serial)}         ${(u.total / serial).toFixed(2).padStart(5)}       ${f(u.snapshot)}        ${f(u.serversOut)}         ${f(u.agentsOut)}   ${String(u.requests).padStart(7)}  ${String(u.failed).padStart(6)}          ${f(u.longestGap)}                     ${u.maxServersOut}/${u.maxAgentsOut} (${u.maxAgentsCordoned})  ${u.onNewVersion.padStart(15)}`);
        }
        for (const x of upgrades) console.log(`  most agents out at once, ${x.pis} Pis: ${(x.upgrade as UpgradeFigures).agentsOutPeak}`);
        console.log("  goal: failed requests at most one failover's cost (2), never more than one server out, every node on the new version.");
    }
}

main().catch((e) => {
    console.error(String(e instanceof Error ? e.message : e));
    process.exit(1);
});
