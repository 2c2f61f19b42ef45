// Watching a rolling upgrade from the operator's machine, as a user of the API would see it: one
// request at a time through the VIP, each listing the Nodes (cordoned, Ready, kubeletVersion).
// Shared by the lab's e2e test (what must hold) and the lab benchmark (what it costs).
import { apiGet, Kubeconfig, Run, sleep } from "./labkit";

export type NodeView = { name: string; out: boolean; cordoned: boolean; version: string };

/** The Nodes as the API through the VIP lists them: out is NotReady or cordoned. */
export async function nodeViews(kc: Kubeconfig, timeoutMs = 3000): Promise<NodeView[]> {
    const r = await apiGet(kc, "/api/v1/nodes", timeoutMs);
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
    const doc = JSON.parse(r.body) as { items: { metadata: { name: string }; spec: { unschedulable?: boolean }; status: { nodeInfo: { kubeletVersion: string }; conditions: { type: string; status: string }[] } }[] };
    return doc.items.map((n) => {
        const ready = n.status.conditions.some((c) => c.type === "Ready" && c.status === "True");
        return { name: n.metadata.name, cordoned: n.spec.unschedulable === true, out: !ready || n.spec.unschedulable === true, version: n.status.nodeInfo.kubeletVersion };
    });
}

export interface Rollout {
    up: Run;
    seconds: number;
    start: number;
    /** Successful requests: sent at t, answered at done (ms since start). */
    samples: { t: number; done: number; nodes: NodeView[] }[];
    failed: { t: number; why: string }[];
    firstServerCordoned: number;
    firstAgentCordoned: number;
    /** The longest time (ms) between two answers of the API, from the first to the last. */
    longestGapMs: number;
    maxOut(pick: (n: string) => boolean): number;
    /** The most nodes cordoned at once (the rollout's own doing; out also counts NotReady). */
    maxCordoned(pick: (n: string) => boolean): number;
    lastServerBack(servers: string[], version: string): number;
    /** How long (ms) each node was out (cordoned or NotReady), summed over its times out. */
    outMs(): Map<string, number>;
}

/** Runs an up while one request at a time goes through the VIP (bounded: boundMs, 15 min by
 * default), each listing the Nodes: how the rollout is watched and what it costs. */
export async function rollout(kc: Kubeconfig, servers: readonly string[], run: () => Promise<Run>, boundMs = 900_000): Promise<Rollout> {
    const samples: Rollout["samples"] = [];
    const failed: Rollout["failed"] = [];
    const start = Date.now();
    let done = false;
    const watcher = (async () => {
        while (!done && Date.now() - start < boundMs) {
            const at = Date.now() - start;
            try {
                const nodes = await nodeViews(kc);
                samples.push({ t: at, done: Date.now() - start, nodes });
            } catch (e) {
                failed.push({ t: at, why: String(e) });
            }
            await sleep(50);
        }
    })();
    const up = await run();
    const seconds = (Date.now() - start) / 1000;
    done = true;
    await watcher;
    const firstAt = (p: (n: NodeView) => boolean) => samples.find((x) => x.nodes.some(p))?.t ?? -1;
    const answers = samples.map((s) => s.done);
    return {
        up, seconds, start, samples, failed,
        firstServerCordoned: firstAt((n) => servers.includes(n.name) && n.cordoned),
        firstAgentCordoned: firstAt((n) => !servers.includes(n.name) && n.cordoned),
        longestGapMs: Math.max(0, ...answers.slice(1).map((d, i) => d - answers[i])),
        maxOut: (pick) => Math.max(0, ...samples.map((x) => x.nodes.filter((n) => pick(n.name) && n.out).length)),
        maxCordoned: (pick) => Math.max(0, ...samples.map((x) => x.nodes.filter((n) => pick(n.name) && n.cordoned).length)),
        lastServerBack: (names, version) => Math.max(...names.map((s) => firstAt((n) => n.name === s && n.version === version && !n.out))),
        outMs: () => {
            const out = new Map<string, number>();
            for (let i = 1; i < samples.length; i++) {
                const dt = samples[i].t - samples[i - 1].t;
                for (const n of samples[i - 1].nodes) if (n.out) out.set(n.name, (out.get(n.name) ?? 0) + dt);
            }
            return out;
        },
    };
}

export function describeRollout(r: Rollout, isServer: (n: string) => boolean): string {
    return `pulumi up ${r.seconds.toFixed(1)}s (exit ${r.up.status}); ${r.samples.length + r.failed.length} requests through the VIP, ${r.failed.length} failed ${JSON.stringify(r.failed)}; ` +
        `longest gap between answers ${r.longestGapMs} ms; servers out at once: at most ${r.maxOut(isServer)}, agents: at most ${r.maxOut((n) => !isServer(n))}; ` +
        `first server cordoned at ${r.firstServerCordoned} ms, first agent cordoned at ${r.firstAgentCordoned} ms`;
}
