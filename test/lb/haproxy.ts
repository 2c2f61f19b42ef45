// Runs a real haproxy in a lab namespace and reads its state over the stats socket.
import { connect } from "node:net";
import { NetnsLab, Proc, sh, sleep } from "./lab";

export interface ServerStat {
    readonly backend: string;
    readonly server: string;
    /** UP, DOWN, "UP 1/2" (going down), "DOWN 1/2" (going up), DRAIN, NOLB, MAINT, no check. */
    readonly status: string;
    /** Effective weight (after the agent's percentage). */
    readonly weight: number;
    readonly checkStatus: string;
    readonly agentStatus: string;
    /** The agent's last answer as HAProxy read it, e.g. "via agent : down (reason)". */
    readonly lastAgent: string;
    /** Sessions handled in total. */
    readonly total: number;
    /** How many times HAProxy marked the server down since it started (`chkdown`). */
    readonly downs: number;
}

export interface Haproxy {
    readonly proc: Proc;
    readonly socket: string;
    readonly configPath: string;
}

/** Sends one command to the admin socket and returns the answer (bounded by timeoutMs). */
export function socketCommand(socket: string, command: string, timeoutMs = 1000): Promise<string> {
    return new Promise((resolve, reject) => {
        const s = connect(socket);
        let data = "";
        const timer = setTimeout(() => { s.destroy(); reject(new Error(`stats socket ${socket}: no answer to "${command}" in ${timeoutMs} ms`)); }, timeoutMs);
        s.on("connect", () => s.write(`${command}\n`));
        s.on("data", (d) => { data += d.toString(); });
        s.on("end", () => { clearTimeout(timer); resolve(data); });
        s.on("error", (e) => { clearTimeout(timer); reject(e); });
    });
}

export async function showStat(socket: string): Promise<ServerStat[]> {
    const text = await socketCommand(socket, "show stat");
    const lines = text.split("\n").filter((l) => l.length > 0);
    if (lines.length === 0 || !lines[0].startsWith("# ")) throw new Error(`unexpected "show stat" answer: ${text.slice(0, 200)}`);
    const header = lines[0].slice(2).split(",");
    const col = (name: string): number => {
        const i = header.indexOf(name);
        if (i < 0) throw new Error(`"show stat" has no column ${name}`);
        return i;
    };
    const [px, sv, status, weight, check, agent, lastAgt, stot, chkdown] = ["pxname", "svname", "status", "weight", "check_status", "agent_status", "last_agt", "stot", "chkdown"].map(col);
    return lines.slice(1).map((l) => l.split(",")).filter((f) => f[sv] !== "FRONTEND" && f[sv] !== "BACKEND").map((f) => ({
        backend: f[px], server: f[sv], status: f[status], weight: Number(f[weight]), checkStatus: f[check], agentStatus: f[agent], lastAgent: f[lastAgt], total: Number(f[stot]), downs: Number(f[chkdown] || 0),
    }));
}

/** Polls `check` every intervalMs until it returns a value (not undefined) or the deadline passes. */
export async function pollUntil<T>(check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 25): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await check().catch(() => undefined);
        if (v !== undefined) return v;
        if (Date.now() >= deadline) return undefined;
        await sleep(intervalMs);
    }
}

export async function serverStat(h: Haproxy, backend: string, server: string): Promise<ServerStat | undefined> {
    return (await showStat(h.socket)).find((s) => s.backend === backend && s.server === server);
}

/**
 * Checks the config with `haproxy -c`, starts haproxy in the foreground inside `ns` and waits
 * until the stats socket answers.
 */
export async function startHaproxy(lab: NetnsLab, ns: string, name: string, config: string, socket: string): Promise<Haproxy> {
    const configPath = lab.writeFile(`${name}.cfg`, config, 0o600);
    const check = sh("haproxy", ["-c", "-f", configPath]);
    if (check.status !== 0) throw new Error(`haproxy -c rejected ${name}:\n${check.stdout}${check.stderr}\n${config}`);
    const proc = lab.spawn(`haproxy-${name}`, ns, "haproxy", ["-db", "-f", configPath]);
    const ok = await pollUntil(async () => (await showStat(socket)).length > 0 ? true : undefined, 5000, 50);
    if (!ok) throw new Error(`haproxy ${name} did not open its stats socket ${socket}:\n${proc.log()}`);
    return { proc, socket, configPath };
}

/**
 * Waits until every listed server of `backend` has passed its first health check and is
 * fully UP (a fresh haproxy shows "UP 1/2" until then; the seed spreads its first checks
 * over its 10 s interval).
 */
export async function waitAllUp(h: Haproxy, backend: string, servers: readonly string[], timeoutMs = 15_000): Promise<void> {
    const ok = await pollUntil(async () => {
        const st = (await showStat(h.socket)).filter((s) => s.backend === backend && servers.includes(s.server));
        return st.length === servers.length && st.every((s) => s.status === "UP" && !s.checkStatus.includes("INI")) ? true : undefined;
    }, timeoutMs, 50);
    if (!ok) {
        const st = await showStat(h.socket).catch(() => []);
        throw new Error(`servers not all UP after ${timeoutMs} ms: ${JSON.stringify(st.filter((s) => s.backend === backend))}\n${h.proc.log()}`);
    }
}
