// The load-balancer benchmark: in one run, against the same backends and the same load,
// the seed's haproxy.cfg and agent-check next to ours; prints one table.
// Run as root: test/lb/bench [--runs N] [--soak-minutes M]   (N repeats of each failure;
// the tables show the worst run, and the median when N > 1; M minutes of soak per /readyz
// latency, 10 by default).
// A second table repeats the hung and cut-off failures with backends whose /readyz answers
// in 50, 300 and 800 ms (a loaded Pi), and soaks each latency with no fault: HAProxy's own
// count of downs (false downs), and samples with no server left to serve.
import { spawnSync } from "node:child_process";
import { AgentOverloadResult, DetectionResult, FAILURE_MODES, FailureMode, MODE_LABEL, RATE, READYZ_LATENCIES_MS, SLOW_PI_MS, SoakResult, VIP_MODE_LABEL, VipMode, VipResult, failedRequestBudget, measureDetection, measureLoadedServers, measureSlowFleet, measureSoak, measureVipFailover, WATCHES } from "./scenarios";
import { DEFAULT_HEALTH_CHECK } from "../../inventory/wellKnown";
import { BUSY_PERCENT, ConfigKind, OVERLOAD_PERCENT, Stand } from "./stand";

const KINDS: readonly ConfigKind[] = ["seed", "ours"];
const DETECTION_GOAL_MS = 1500;
const VIP_GOAL_MS = 3000;

const SLOW_DETECTION_GOAL_MS = 2000;

function parseRuns(argv: readonly string[]): number {
    const i = argv.indexOf("--runs");
    const n = i >= 0 ? Number(argv[i + 1]) : 1;
    if (!Number.isInteger(n) || n < 1 || n > 10) throw new Error("--runs takes 1..10");
    return n;
}

function parseSoakMinutes(argv: readonly string[]): number {
    const i = argv.indexOf("--soak-minutes");
    const m = i >= 0 ? Number(argv[i + 1]) : 10;
    if (!(m >= 0.5 && m <= 60)) throw new Error("--soak-minutes takes 0.5..60");
    return m;
}

function soakCell(r: SoakResult): string {
    const where = Object.entries(r.downsByServer).filter(([, n]) => n > 0).map(([s, n]) => `${s}:${n}`).join(" ");
    return `${r.falseDowns}${where ? ` (${where})` : ""}, ${r.failed} of ${r.sent} failed`;
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function detectionCell(rs: readonly DetectionResult[]): string {
    const never = rs.filter((r) => r.detectionMs === null).length;
    if (never === rs.length) return "never (not in 4 s)";
    const ms = rs.map((r) => r.detectionMs ?? Number.POSITIVE_INFINITY);
    const worst = Math.max(...ms);
    const text = worst === Number.POSITIVE_INFINITY ? `never in ${never}/${rs.length} runs` : secs(worst);
    return rs.length > 1 ? `${text} (median ${Number.isFinite(median(ms)) ? secs(median(ms)) : "never"})` : text;
}

function failedCell(rs: readonly DetectionResult[], servers: number): string {
    const worst = rs.reduce((a, r) => (r.failed > a.failed ? r : a));
    const sent = worst.load.sent;
    const budget = worst.detectionMs === null ? "" : `, budget ${failedRequestBudget(worst.detectionMs, servers).toFixed(1)}`;
    return `${worst.failed} of ${sent}${budget}`;
}

function agentCell(r: AgentOverloadResult): string {
    const out = r.status.startsWith("DOWN") || r.status.startsWith("MAINT") || r.status.startsWith("DRAIN");
    return `${out ? "yes" : "no"}: ${r.status}, weight ${r.weight}, ${r.sharePercent.toFixed(0)} % of new conns`;
}

function allLoadedCell(r: AgentOverloadResult): string {
    const inService = r.servers.filter((s) => s.status.startsWith("UP")).length;
    return `${inService} of ${r.servers.length} in service, ${r.failed} failed`;
}

function agentReply(r: AgentOverloadResult): string {
    return r.lastAgent.replace(/^via agent : /, "").slice(0, 40) || r.agentStatus;
}

function vipCell(rs: readonly VipResult[]): string {
    const gaps = rs.map((r) => r.gapMs);
    const text = `${secs(Math.max(...gaps))} (${rs[0].from} -> ${rs[0].to})`;
    return rs.length > 1 ? `${text}, median ${secs(median(gaps))}` : text;
}

function printTable(rows: readonly (readonly string[])[]): void {
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    const line = (r: readonly string[]): string => `| ${r.map((cell, c) => cell.padEnd(widths[c])).join(" | ")} |`;
    console.log(line(rows[0]));
    console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
    for (const r of rows.slice(1)) console.log(line(r));
}

async function main(): Promise<void> {
    const runs = parseRuns(process.argv.slice(2));
    const soakMinutes = parseSoakMinutes(process.argv.slice(2));
    const started = Date.now();
    const stand = await Stand.open({ balancers: 2, agents: true });
    const onSignal = (): void => { stand.lab.closeSync(); process.exit(130); };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const progress = (what: string): void => { process.stderr.write(`[${secs(Date.now() - started)}] ${what}\n`); };
    try {
        const servers = stand.backends.length;
        const detection = new Map<string, DetectionResult[]>();
        for (const kind of KINDS) {
            for (const mode of FAILURE_MODES) {
                const rs: DetectionResult[] = [];
                for (let i = 0; i < runs; i++) {
                    progress(`${kind}: ${MODE_LABEL[mode]} (run ${i + 1}/${runs})`);
                    rs.push(await measureDetection(stand, kind, mode));
                }
                detection.set(`${kind}/${mode}`, rs);
            }
        }
        const overloaded = new Map<ConfigKind, AgentOverloadResult>();
        const atLimit = new Map<ConfigKind, AgentOverloadResult>();
        const allLoaded = new Map<ConfigKind, AgentOverloadResult>();
        for (const kind of KINDS) {
            progress(`${kind}: agent-check, one server overloaded / at the limit / all overloaded`);
            overloaded.set(kind, await measureLoadedServers(stand, kind, { s3: OVERLOAD_PERCENT + 50 }));
            atLimit.set(kind, await measureLoadedServers(stand, kind, { s3: BUSY_PERCENT }));
            allLoaded.set(kind, await measureLoadedServers(stand, kind, Object.fromEntries(stand.backends.map((b) => [b.name, OVERLOAD_PERCENT + 50]))));
        }
        const vip = new Map<VipMode, VipResult[]>();
        for (const mode of ["haproxy-stopped", "link-cut"] as VipMode[]) {
            const rs: VipResult[] = [];
            for (let i = 0; i < runs; i++) {
                progress(`ours: VIP, ${VIP_MODE_LABEL[mode]} (run ${i + 1}/${runs})`);
                rs.push(await measureVipFailover(stand, mode));
            }
            vip.set(mode, rs);
        }

        // At each /readyz latency: the hung and cut-off failures, then a soak with no fault.
        const slowModes: readonly FailureMode[] = ["hung", "cut"];
        const slowDetection = new Map<string, DetectionResult[]>();
        const soaks = new Map<string, SoakResult[]>();
        for (const latency of READYZ_LATENCIES_MS) {
            for (const b of stand.backends) await stand.setReadyzDelay(b, latency);
            for (const kind of KINDS) {
                for (const mode of slowModes) {
                    const rs: DetectionResult[] = [];
                    for (let i = 0; i < runs; i++) {
                        progress(`/readyz ${latency} ms, ${kind}: ${MODE_LABEL[mode]} (run ${i + 1}/${runs})`);
                        rs.push(await measureDetection(stand, kind, mode));
                    }
                    slowDetection.set(`${latency}/${kind}/${mode}`, rs);
                }
            }
            progress(`/readyz ${latency} ms: ${soakMinutes} min soak, seed and ours side by side, no fault`);
            soaks.set(String(latency), await measureSoak(stand, soakMinutes * 60_000, KINDS, progress));
        }
        for (const b of stand.backends) await stand.setReadyzDelay(b, 0);
        const tooSlowMs = DEFAULT_HEALTH_CHECK.timeoutMs + 500;
        progress(`ours: every server's /readyz in ${tooSlowMs} ms, slower than the check timeout`);
        const slowFleet = await measureSlowFleet(stand, tooSlowMs);

        const get = <T>(m: Map<string, T>, k: string): T => m.get(k) as T;
        const rows: string[][] = [["measurement", "goal", "seed", "ours"]];
        for (const mode of FAILURE_MODES) {
            rows.push([`${MODE_LABEL[mode]}: detection`, `<= ${secs(DETECTION_GOAL_MS)}`,
                ...KINDS.map((k) => detectionCell(get(detection, `${k}/${mode}`)))]);
            rows.push([`${MODE_LABEL[mode]}: failed requests`, `<= ${RATE}/s x detection / ${servers}`,
                ...KINDS.map((k) => failedCell(get(detection, `${k}/${mode}`), servers))]);
        }
        rows.push([`one server overloaded (${OVERLOAD_PERCENT + 50} % load): taken out?`, "share drops, never the last server",
            ...KINDS.map((k) => agentCell(get(overloaded, k)))]);
        rows.push(["  ... its agent's answer, as HAProxy read it", "",
            ...KINDS.map((k) => agentReply(get(overloaded, k)))]);
        rows.push([`one server at exactly the limit (${BUSY_PERCENT} %)`, "stays in, full weight",
            ...KINDS.map((k) => agentCell(get(atLimit, k)))]);
        rows.push(["  ... its agent's answer, as HAProxy read it", "",
            ...KINDS.map((k) => agentReply(get(atLimit, k)))]);
        rows.push([`every server overloaded (${OVERLOAD_PERCENT + 50} %)`, "none taken out",
            ...KINDS.map((k) => allLoadedCell(get(allLoaded, k)))]);
        for (const mode of ["haproxy-stopped", "link-cut"] as VipMode[]) {
            rows.push([`VIP failover: ${VIP_MODE_LABEL[mode]}`, `<= ${secs(VIP_GOAL_MS)}`, "no VIP: one LB, API gone", vipCell(get(vip, mode))]);
        }
        console.log(`Load: ${RATE} new TLS connections/s through the LB, ${servers} API servers, runs per failure: ${runs}; ` +
            `share of new connections measured with ${WATCHES} watches open; haproxy ${haproxyVersion()}.`);
        printTable(rows);

        const slowRows: string[][] = [["/readyz answers in", "measurement", "goal", "seed", "ours"]];
        for (const latency of READYZ_LATENCIES_MS) {
            const goal = latency >= SLOW_PI_MS ? SLOW_DETECTION_GOAL_MS : DETECTION_GOAL_MS;
            for (const mode of slowModes) {
                slowRows.push([`${latency} ms`, `${MODE_LABEL[mode]}: detection`, latency <= 50 || latency >= SLOW_PI_MS ? `<= ${secs(goal)}` : "",
                    ...KINDS.map((k) => detectionCell(get(slowDetection, `${latency}/${k}/${mode}`)))]);
            }
            const soak = get(soaks, String(latency));
            slowRows.push([`${latency} ms`, `false downs in ${soakMinutes} min soak (requests failed)`, latency >= SLOW_PI_MS ? "0" : "",
                ...KINDS.map((k) => soakCell(soak[KINDS.indexOf(k)]))]);
            slowRows.push([`${latency} ms`, "samples with no server serving / fewest primaries up", "0 (never all down)",
                ...KINDS.map((k) => { const r = soak[KINDS.indexOf(k)]; return `${r.allDownSamples} of ${r.samples} / ${r.minPrimaryUp} of ${servers}`; })]);
        }
        slowRows.push([`${tooSlowMs} ms (all)`, "slower than the check timeout: API still served?", "yes (never all down)", "not measured (no /readyz check)",
            `${slowFleet.primariesDown ? "primaries all down" : "primaries NOT all down"}, fallback ${slowFleet.fallbackUp} of ${servers} up, ${slowFleet.failed} of ${slowFleet.sent} failed`]);
        console.log("");
        console.log(`Slow backends: every server's /readyz answers after the latency shown; ${RATE} new TLS connections/s through each config; ` +
            `the soak runs both configs at once on two LBs, sampled every 100 ms; downs are HAProxy's own count (chkdown).`);
        printTable(slowRows);
        progress("done");
    } finally {
        await stand.close();
    }
}

function haproxyVersion(): string {
    return /version (\S+)/.exec(spawnSync("haproxy", ["-v"], { encoding: "utf8" }).stdout)?.[1] ?? "?";
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exitCode = 1;
});
