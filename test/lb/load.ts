// A steady, bounded request load: one new TLS connection per request (like kubectl and
// kubelets opening connections), at a fixed rate, for at most maxRequests requests and
// maxDurationMs. Each request is an authenticated GET /version; it succeeds when the
// answer is 200 within timeoutMs. The answering server's name is counted.
import { request } from "node:https";

export const TEST_TOKEN = "picluster-lb-test-token";

export interface RequestRecord {
    readonly startedAt: number;
    readonly endedAt: number;
    readonly ok: boolean;
    readonly server?: string;
    readonly error?: string;
}

/** One authenticated GET /version over a new TLS connection. */
export function oneRequest(host: string, port: number, timeoutMs: number, path = "/version"): Promise<RequestRecord> {
    const startedAt = Date.now();
    return new Promise((resolve) => {
        let done = false;
        const finish = (ok: boolean, server?: string, error?: string): void => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            resolve({ startedAt, endedAt: Date.now(), ok, server, error });
        };
        const req = request({
            host, port, path, method: "GET", agent: false, rejectUnauthorized: false,
            headers: { authorization: `Bearer ${TEST_TOKEN}`, connection: "close" },
        }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d: string) => { body += d; });
            res.on("end", () => {
                if (res.statusCode !== 200) { finish(false, undefined, `HTTP ${res.statusCode}`); return; }
                try {
                    finish(true, (JSON.parse(body) as { server?: string }).server);
                } catch {
                    finish(false, undefined, "bad body");
                }
            });
            res.on("error", (e) => finish(false, undefined, e.message));
        });
        const timer = setTimeout(() => { finish(false, undefined, `timeout ${timeoutMs} ms`); req.destroy(); }, timeoutMs);
        req.on("error", (e) => finish(false, undefined, (e as NodeJS.ErrnoException).code ?? e.message));
        req.end();
    });
}

export interface LoadOptions {
    readonly host: string;
    readonly port: number;
    readonly ratePerSecond: number;
    readonly timeoutMs: number;
    /** Hard bounds: the load stops at whichever comes first. */
    readonly maxRequests: number;
    readonly maxDurationMs: number;
}

export interface LoadSummary {
    readonly records: readonly RequestRecord[];
    readonly sent: number;
    readonly ok: number;
    readonly failed: number;
    readonly byServer: ReadonlyMap<string, number>;
}

export function summarize(records: readonly RequestRecord[]): LoadSummary {
    const byServer = new Map<string, number>();
    for (const r of records) if (r.ok && r.server) byServer.set(r.server, (byServer.get(r.server) ?? 0) + 1);
    const ok = records.filter((r) => r.ok).length;
    return { records, sent: records.length, ok, failed: records.length - ok, byServer };
}

export class Load {
    private readonly pending: Promise<RequestRecord>[] = [];
    private timer: NodeJS.Timeout | undefined;
    private startedAt = 0;
    private stopped = false;
    private allSent: () => void = () => undefined;
    private readonly sendingEnded = new Promise<void>((res) => { this.allSent = res; });

    constructor(private readonly opts: LoadOptions) {}

    /** Starts sending; requests are scheduled against the wall clock, so the rate does not drift. */
    start(): this {
        this.startedAt = Date.now();
        const period = 1000 / this.opts.ratePerSecond;
        const tick = (): void => {
            if (this.stopped) return;
            const elapsed = Date.now() - this.startedAt;
            const due = Math.min(Math.floor(elapsed / period) + 1, this.opts.maxRequests);
            while (this.pending.length < due) this.pending.push(oneRequest(this.opts.host, this.opts.port, this.opts.timeoutMs));
            if (this.pending.length >= this.opts.maxRequests || elapsed >= this.opts.maxDurationMs) { this.stopped = true; this.allSent(); return; }
            this.timer = setTimeout(tick, Math.max(1, (this.pending.length * period) - elapsed));
        };
        tick();
        return this;
    }

    /**
     * Waits until every request was sent (or maxDurationMs passed), then for their answers.
     * Not a sleep of count/rate: a busy event loop can delay the last timer past it.
     */
    async finish(): Promise<LoadSummary> {
        await this.sendingEnded;
        return this.stop();
    }

    /** Stops sending and waits for the requests in flight (each bounded by timeoutMs). */
    async stop(): Promise<LoadSummary> {
        this.stopped = true;
        this.allSent();
        if (this.timer) clearTimeout(this.timer);
        return summarize(await Promise.all(this.pending));
    }
}

/** Records started in [from, to). */
export function between(records: readonly RequestRecord[], from: number, to: number): RequestRecord[] {
    return records.filter((r) => r.startedAt >= from && r.startedAt < to);
}

export interface Watch {
    readonly server: string;
    close(): void;
}

/**
 * Opens a long-lived watch through the LB (a kubelet holds several): resolves with the
 * server that holds it once its first event arrives; rejects after timeoutMs.
 */
export function openWatch(host: string, port: number, timeoutMs: number): Promise<Watch> {
    return new Promise((resolve, reject) => {
        const req = request({
            host, port, path: "/watch", method: "GET", agent: false, rejectUnauthorized: false,
            headers: { authorization: `Bearer ${TEST_TOKEN}` },
        }, (res) => {
            res.setEncoding("utf8");
            let buf = "";
            res.on("data", (d: string) => {
                buf += d;
                const nl = buf.indexOf("\n");
                if (nl < 0) return;
                clearTimeout(timer);
                try {
                    const server = (JSON.parse(buf.slice(0, nl)) as { server: string }).server;
                    resolve({ server, close: () => req.destroy() });
                } catch (e) {
                    req.destroy();
                    reject(e as Error);
                }
            });
            res.on("error", () => undefined);
        });
        const timer = setTimeout(() => { req.destroy(); reject(new Error(`watch: no event in ${timeoutMs} ms`)); }, timeoutMs);
        req.on("error", (e) => { clearTimeout(timer); reject(e); });
        req.end();
    });
}
