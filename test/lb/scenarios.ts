// The measurements, shared by the tests (which assert the goals) and the benchmark
// (which prints them for the seed's config and ours). Every load is bounded in count
// and time; every failure injected is undone before the function returns.
import { FALLBACK_BACKEND } from "../../components/loadBalancer/haproxyConfig";
import { Haproxy, pollUntil, serverStat, showStat } from "./haproxy";
import { VIP, sleep } from "./lab";
import { Load, LoadSummary, RequestRecord, Watch, oneRequest, openWatch } from "./load";
import { API_PORT, BACKEND, Balancer, ConfigKind, SEED_BACKEND, SERVING_BACKENDS, Stand } from "./stand";

export type FailureMode = "killed" | "hung" | "cut";
export const FAILURE_MODES: readonly FailureMode[] = ["killed", "hung", "cut"];
export const MODE_LABEL: Record<FailureMode, string> = {
    killed: "server process killed",
    hung: "server process stopped (SIGSTOP)",
    cut: "server's network cut (link down)",
};

/** The load of every measurement: new TLS connections at this rate. */
export const RATE = 50;
export const REQUEST_TIMEOUT_MS = 3000;
const WARMUP_MS = 1000;
/** How long after the failure we watch; "never" means not within this window. */
export const OBSERVE_MS = 4000;

export interface DetectionResult {
    readonly kind: ConfigKind;
    readonly mode: FailureMode;
    /** ms from the failure until HAProxy marked the server DOWN; null: not within OBSERVE_MS. */
    readonly detectionMs: number | null;
    readonly load: LoadSummary;
    readonly failed: number;
    /** Failures of requests started before the failure (should be none). */
    readonly failedBefore: number;
    readonly statusTrail: string[];
}

function backendOf(kind: ConfigKind): string {
    return kind === "seed" ? SEED_BACKEND : BACKEND;
}

function inject(stand: Stand, victim: string, mode: FailureMode): void {
    const b = stand.backend(victim);
    const pid = b.proc?.pid;
    if (pid === undefined) throw new Error(`backend ${victim} is not running`);
    if (mode === "killed") process.kill(pid, "SIGKILL");
    else if (mode === "hung") process.kill(pid, "SIGSTOP");
    else stand.setBackendLink(b, false);
}

/**
 * Under a steady load through the LB, fails `victim` and measures how long HAProxy takes to
 * mark it down and how many requests fail. Starts a fresh haproxy with the config, and
 * restores the victim afterwards.
 */
export async function measureDetection(stand: Stand, kind: ConfigKind, mode: FailureMode, victim = "s3"): Promise<DetectionResult> {
    const lb = stand.balancers[0];
    const h = await stand.startHaproxy(kind, lb);
    const backend = backendOf(kind);
    const load = new Load({
        host: lb.address, port: API_PORT, ratePerSecond: RATE, timeoutMs: REQUEST_TIMEOUT_MS,
        maxRequests: Math.ceil((RATE * (WARMUP_MS + OBSERVE_MS)) / 1000), maxDurationMs: WARMUP_MS + OBSERVE_MS,
    });
    const trail: string[] = [];
    let detectionMs: number | null = null;
    let t0 = 0;
    let summary: LoadSummary;
    try {
        load.start();
        await sleep(WARMUP_MS);
        t0 = Date.now();
        inject(stand, victim, mode);
        let last = "";
        const down = await pollUntil(async () => {
            const st = await serverStat(h, backend, victim);
            if (st && st.status !== last) { last = st.status; trail.push(`${Date.now() - t0}ms ${st.status} ${st.checkStatus}`); }
            return st && (st.status.startsWith("DOWN") || st.status.startsWith("MAINT")) ? Date.now() : undefined;
        }, OBSERVE_MS, 20);
        if (down !== undefined) detectionMs = down - t0;
        // The load runs for the whole window, so both configs are counted over the same time.
        await sleep(Math.max(0, t0 + OBSERVE_MS - Date.now()));
    } finally {
        summary = await load.stop();
        await stand.stopHaproxy(lb);
        await stand.restoreBackend(stand.backend(victim));
    }
    const failedBefore = summary.records.filter((r) => !r.ok && r.startedAt < t0).length;
    return { kind, mode, detectionMs, load: summary, failed: summary.failed, failedBefore, statusTrail: trail };
}

/** The slowest /readyz answer the default health check must tolerate (a loaded Pi). */
export const SLOW_PI_MS = 800;
/** The /readyz latencies the benchmark measures detection and false downs at. */
export const READYZ_LATENCIES_MS: readonly number[] = [50, 300, SLOW_PI_MS];

export interface SoakResult {
    readonly kind: ConfigKind;
    readonly durationMs: number;
    /** Times HAProxy marked a server of the primary backend down, with no fault injected. */
    readonly falseDowns: number;
    readonly downsByServer: Readonly<Record<string, number>>;
    /** Samples (every 100 ms) in which no server of any serving backend was up. */
    readonly allDownSamples: number;
    readonly samples: number;
    /** The fewest primary servers in service in any sample. */
    readonly minPrimaryUp: number;
    readonly sent: number;
    readonly failed: number;
}

const SOAK_SAMPLE_MS = 100;

/**
 * No fault, steady load: each config runs on its own balancer at the same time (same
 * backends, RATE new connections/s through each), for durationMs. Counts HAProxy's own
 * down transitions (`chkdown`) and samples whether any server was left to serve.
 */
export async function measureSoak(stand: Stand, durationMs: number, kinds: readonly ConfigKind[], progress: (what: string) => void = () => undefined): Promise<SoakResult[]> {
    if (stand.balancers.length < kinds.length) throw new Error(`a soak of ${kinds.length} configs needs as many balancers`);
    const runs = kinds.map((kind, i) => ({ kind, lb: stand.balancers[i], samples: 0, allDown: 0, minPrimaryUp: Number.POSITIVE_INFINITY, base: new Map<string, number>() }));
    const loads: Load[] = [];
    try {
        const hs = [];
        for (const r of runs) hs.push(await stand.startHaproxy(r.kind, r.lb));
        for (const [i, r] of runs.entries()) for (const st of await showStat(hs[i].socket)) r.base.set(`${st.backend}/${st.server}`, st.downs);
        for (const r of runs) {
            loads.push(new Load({
                host: r.lb.address, port: API_PORT, ratePerSecond: RATE, timeoutMs: REQUEST_TIMEOUT_MS,
                maxRequests: Math.ceil((RATE * durationMs) / 1000), maxDurationMs: durationMs,
            }).start());
        }
        const start = Date.now();
        let reported = start;
        // Bounded: durationMs / SOAK_SAMPLE_MS samples per config.
        while (Date.now() - start < durationMs) {
            for (const [i, r] of runs.entries()) {
                const st = await showStat(hs[i].socket);
                const serving = st.filter((s) => SERVING_BACKENDS[r.kind].includes(s.backend) && s.status.startsWith("UP"));
                const primaryUp = serving.filter((s) => s.backend === SERVING_BACKENDS[r.kind][0]).length;
                r.samples++;
                if (serving.length === 0) r.allDown++;
                r.minPrimaryUp = Math.min(r.minPrimaryUp, primaryUp);
            }
            if (Date.now() - reported >= 60_000) { reported = Date.now(); progress(`soak: ${Math.round((reported - start) / 1000)} s of ${durationMs / 1000} s`); }
            await sleep(SOAK_SAMPLE_MS);
        }
        const summaries = await Promise.all(loads.splice(0).map((l) => l.stop()));
        const results: SoakResult[] = [];
        for (const [i, r] of runs.entries()) {
            const primary = (await showStat(hs[i].socket)).filter((s) => s.backend === SERVING_BACKENDS[r.kind][0] && stand.backends.some((b) => b.name === s.server));
            const downsByServer = Object.fromEntries(primary.map((s) => [s.server, s.downs - (r.base.get(`${s.backend}/${s.server}`) ?? 0)]));
            results.push({
                kind: r.kind, durationMs, falseDowns: Object.values(downsByServer).reduce((a, b) => a + b, 0), downsByServer,
                allDownSamples: r.allDown, samples: r.samples, minPrimaryUp: r.minPrimaryUp, sent: summaries[i].sent, failed: summaries[i].failed,
            });
        }
        return results;
    } finally {
        await Promise.all(loads.map((l) => l.stop()));
        for (const r of runs) await stand.stopHaproxy(r.lb);
    }
}

export interface SlowFleetResult {
    readonly latencyMs: number;
    readonly primariesDown: boolean;
    readonly fallbackUp: number;
    readonly sent: number;
    readonly failed: number;
    readonly stats: string;
}

/**
 * Every server's /readyz slower than the primary check's timeout (a fleet of overloaded Pis):
 * waits (bounded) until the primaries are all down, then sends `requests` requests. Ours
 * should still serve them through the fallback backend. Restores the backends afterwards.
 */
export async function measureSlowFleet(stand: Stand, latencyMs: number, requests = 50): Promise<SlowFleetResult> {
    const lb = stand.balancers[0];
    try {
        const h = await stand.startHaproxy("ours", lb);
        for (const b of stand.backends) await stand.setReadyzDelay(b, latencyMs);
        const primariesDown = await pollUntil(async () => {
            const st = (await showStat(h.socket)).filter((s) => s.backend === BACKEND);
            return st.length === stand.backends.length && st.every((s) => s.status.startsWith("DOWN")) ? true : undefined;
        }, 10_000, 50) ?? false;
        // Setting the delay restarts each backend, and a fallback check that met a restart takes
        // that server down (HAProxy starts a server one failed check from down, whatever `fall`
        // says) until its next good check, one `downinter` later: wait for them all to answer
        // through the latency (bounded), which is what the fallback is for.
        await pollUntil(async () => {
            const st = (await showStat(h.socket)).filter((s) => s.backend === FALLBACK_BACKEND);
            return st.length === stand.backends.length && st.every((s) => s.status.startsWith("UP") && s.checkStatus.includes("L7OK")) ? true : undefined;
        }, 10_000, 50);
        const fallbackUp = (await showStat(h.socket)).filter((s) => s.backend === FALLBACK_BACKEND && s.status.startsWith("UP")).length;
        const shares = await measureShares(lb, requests);
        return { latencyMs, primariesDown, fallbackUp, sent: shares.sent, failed: shares.failed, stats: await describe(h) };
    } finally {
        await stand.stopHaproxy(lb);
        for (const b of stand.backends) await stand.setReadyzDelay(b, 0);
    }
}

/** The goal for failed requests: rate x detection time / number of servers. */
export function failedRequestBudget(detectionMs: number, servers: number): number {
    return (RATE * (detectionMs / 1000)) / servers;
}

export interface ShareResult {
    readonly byServer: ReadonlyMap<string, number>;
    readonly sent: number;
    readonly failed: number;
}

/** Sends `count` requests at RATE and counts which server answered each. */
export async function measureShares(lb: Balancer, count: number): Promise<ShareResult> {
    const load = new Load({
        host: lb.address, port: API_PORT, ratePerSecond: RATE, timeoutMs: REQUEST_TIMEOUT_MS,
        maxRequests: count, maxDurationMs: Math.ceil((count / RATE) * 1000) + 1000,
    });
    const s = await load.start().finish();
    return { byServer: s.byServer, sent: s.sent, failed: s.failed };
}

export interface AgentOverloadResult {
    readonly kind: ConfigKind;
    /** HAProxy's view of the overloaded server after its agent answered. */
    readonly status: string;
    readonly weight: number;
    readonly agentStatus: string;
    /** The agent's last answer as HAProxy read it. */
    readonly lastAgent: string;
    /** Its share of new connections, in percent. */
    readonly sharePercent: number;
    /** Every server's status and weight, and how many requests each answered. */
    readonly servers: readonly { name: string; status: string; weight: number; answered: number }[];
    readonly failed: number;
}

/** Long-lived watches the LB carries during share measurements, as kubelets' watches do. */
export const WATCHES = 20;

/**
 * Backends report 5-minute loads (percent of their CPUs; unlisted: 10 %). Once the
 * agents have answered, with WATCHES watches open through the LB (a real API LB always
 * carries them, and leastconn weighs them), `requests` new connections are counted per
 * server. Reports how HAProxy treats `victim` and its share.
 */
export async function measureLoadedServers(stand: Stand, kind: ConfigKind, loads: Readonly<Record<string, number>>, victim = "s3", requests = 100): Promise<AgentOverloadResult> {
    const lb = stand.balancers[0];
    for (const b of stand.backends) stand.setLoadPercent(b, loads[b.name] ?? 10);
    const watches: Watch[] = [];
    try {
        // Started after the loads are set: the seed's agent answers once at start, then every 30 s.
        const h = await stand.startHaproxy(kind, lb);
        const backend = backendOf(kind);
        const names = stand.backends.map((b) => b.name);
        // Wait until the loaded servers' agents have answered (the loads were set before haproxy
        // started, so the first answer is the current one); the seed spreads its first agent
        // checks over its 30 s agent-inter.
        const loaded = Object.keys(loads);
        const answered = await pollUntil(async () => {
            const st = (await showStat(h.socket)).filter((s) => s.backend === backend && loaded.includes(s.server));
            return st.length === loaded.length && st.every((s) => s.agentStatus !== "" && !s.agentStatus.includes("INI")) ? true : undefined;
        }, 35_000, 100);
        if (!answered) throw new Error(`the loaded servers' agents did not answer within 35 s:\n${await describe(h)}`);
        for (let i = 0; i < WATCHES; i++) watches.push(await openWatch(lb.address, API_PORT, 3000));
        const shares = await measureShares(lb, requests);
        const stats = (await showStat(h.socket)).filter((s) => s.backend === backend && names.includes(s.server));
        const total = [...shares.byServer.values()].reduce((a, b) => a + b, 0);
        const st = stats.find((s) => s.server === victim);
        return {
            kind, status: st?.status ?? "?", weight: st?.weight ?? -1, agentStatus: st?.agentStatus ?? "?", lastAgent: st?.lastAgent ?? "?",
            sharePercent: total === 0 ? 0 : (100 * (shares.byServer.get(victim) ?? 0)) / total,
            servers: stats.map((s) => ({ name: s.server, status: s.status, weight: s.weight, answered: shares.byServer.get(s.server) ?? 0 })),
            failed: shares.failed,
        };
    } finally {
        for (const w of watches) w.close();
        await stand.stopHaproxy(lb);
        for (const b of stand.backends) stand.setLoadPercent(b, 10);
    }
}

export type VipMode = "haproxy-stopped" | "link-cut";
export const VIP_MODE_LABEL: Record<VipMode, string> = {
    "haproxy-stopped": "active LB's haproxy stopped",
    "link-cut": "active LB's link cut",
};

export interface VipResult {
    readonly mode: VipMode;
    /** From the first failed new connection to the first success after it; 0 if none failed. */
    readonly gapMs: number;
    readonly failedProbes: number;
    readonly probes: number;
    readonly from: string;
    readonly to: string;
    readonly log: string;
}

const PROBE_EVERY_MS = 50;
const PROBE_TIMEOUT_MS = 500;
const VIP_OBSERVE_MS = 8000;

/**
 * Two LBs with keepalived share the VIP; new connections to the VIP every 50 ms; the
 * active LB loses its haproxy or its link. Measures the gap during which new connections
 * fail. Starts and stops both LBs' haproxy and keepalived itself.
 */
export async function measureVipFailover(stand: Stand, mode: VipMode): Promise<VipResult> {
    if (stand.balancers.length < 2) throw new Error("VIP failover needs two balancers");
    const records: RequestRecord[] = [];
    let active: Balancer | undefined;
    try {
        for (const lb of stand.balancers) await stand.startHaproxy("ours", lb);
        for (const lb of stand.balancers) stand.startKeepalived(lb);
        await Stand.waitFor("exactly one LB holding the VIP", () => stand.vipHolders().length === 1, 15_000);
        await Stand.waitFor("the VIP answering", async () => (await oneRequest(VIP, API_PORT, PROBE_TIMEOUT_MS)).ok, 5000);
        active = stand.vipHolders()[0];
        const start = Date.now();
        let injectedAt = 0;
        const pending: Promise<void>[] = [];
        let recoveredAt = 0;
        // Bounded: at most (VIP_OBSERVE_MS + 1 s) / 50 ms probes.
        while (Date.now() - start < VIP_OBSERVE_MS + 1000) {
            const p = oneRequest(VIP, API_PORT, PROBE_TIMEOUT_MS).then((r) => {
                records.push(r);
                if (injectedAt > 0 && r.ok && r.startedAt > injectedAt && stand.vipHolders().some((x) => x !== active)) recoveredAt ||= r.endedAt;
            });
            pending.push(p);
            if (injectedAt === 0 && Date.now() - start >= 1000) {
                injectedAt = Date.now();
                if (mode === "haproxy-stopped") await stand.stopHaproxy(active);
                else stand.setBalancerLink(active, false);
            }
            if (recoveredAt > 0 && Date.now() - recoveredAt > 1000) break;
            await sleep(PROBE_EVERY_MS);
        }
        await Promise.all(pending);
        records.sort((a, b) => a.startedAt - b.startedAt);
        const holders = stand.vipHolders();
        const firstFail = records.find((r) => !r.ok);
        const recovery = firstFail ? records.find((r) => r.ok && r.startedAt > firstFail.startedAt && !records.some((x) => !x.ok && x.startedAt > r.startedAt)) : undefined;
        const gapMs = firstFail === undefined ? 0 : recovery === undefined ? Number.POSITIVE_INFINITY : recovery.startedAt - firstFail.startedAt;
        return {
            mode, gapMs, failedProbes: records.filter((r) => !r.ok).length, probes: records.length,
            from: active.name, to: holders.map((x) => x.name).join(",") || "nobody",
            log: stand.balancers.map((lb) => `--- ${lb.name} keepalived\n${lb.keepalived?.log().slice(-3000) ?? ""}`).join("\n"),
        };
    } finally {
        for (const lb of stand.balancers) await stand.stopKeepalived(lb);
        for (const lb of stand.balancers) await stand.stopHaproxy(lb);
        for (const lb of stand.balancers) if (!lb.linkUp) stand.setBalancerLink(lb, true);
    }
}

/** Shows every server's status line, for failure messages. */
export async function describe(h: Haproxy): Promise<string> {
    return (await showStat(h.socket)).map((s) => `${s.backend}/${s.server} ${s.status} w=${s.weight} check=${s.checkStatus} agent=${s.agentStatus}`).join("\n");
}

