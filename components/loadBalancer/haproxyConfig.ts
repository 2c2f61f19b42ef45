// haproxy.cfg for the API load balancer: TCP pass-through on 6443 to every k3s server.
//
// Why these settings (measured under load by test/lb: `test/lb/bench` prints the figures):
// - A crashed server is caught by the health check; until then `option redispatch 1` with
//   `retries 3` sends each refused new connection to another server at once, so the client
//   never sees the crash. No `observe layer4 ... on-error mark-down`: the connection error
//   that trips it is that of a session still attached to the crashed server, and
//   `shutdown-sessions` (below) then cuts that very session instead of redispatching it: one
//   request lost on every crash (measured: 8 of 8 crashes; with `on-error fastinter` 2 of 8;
//   with the check alone 0; the lab's kill test caught it).
// - A hung server (accepts, never answers), or a Pi that dropped off the network, is
//   caught only by a health check with a short timeout: a TLS GET /readyz every
//   `intervalMs`, failing after `timeoutMs` (HAProxy's `timeout check`, counted once the
//   TCP connection is up; the connect itself is bounded by min(timeout connect, inter)).
//   The defaults fit Pis (DEFAULT_HEALTH_CHECK): a Pi whose apiserver takes 800 ms to
//   answer must never be marked down, yet a hung one must be out within 1.5 s. Two
//   failed checks (fall 2) cannot do both: they cost at least 2 x timeout, and a timeout
//   above 800 ms then puts detection past 1.6 s. So one failed check marks a server down
//   (fall 1) with a 1 s timeout, 25 % above the slowest answer we support by default;
//   worst case to DOWN: interval + timeout = 1.4 s. rise 2 and `downinter 1s` bring a
//   server back after two good checks without flapping. A slower fleet raises
//   `loadBalancer.healthCheck.timeoutMs` (detection grows with it).
// - k3s runs the apiserver with anonymous auth off, so /readyz answers 401: that still
//   proves the apiserver's TLS and HTTP stack answers; silence or a 5xx does not. Real
//   readiness (etcd) is the agent-check's job: it asks locally, with credentials.
// - `balance leastconn`: watches are long-lived, and a hung server keeps its stuck
//   connections, so new ones go elsewhere even before it is marked down.
// - `on-marked-down shutdown-sessions`: connections stuck on a dead server are closed at
//   once, so clients reconnect (through the LB) instead of waiting for a 3 h timeout.
// - The agent-check (port 9707, via xinetd) lowers the weight of a loaded server and says
//   `down #reason` only when its own API answers "not ready".
// - The last resort is a backend of its own, `k3s-fallback`: the same servers without
//   the agent-check and with a lenient check (FALLBACK_CHECK: 3 s timeout, three
//   failures to go down). The frontend uses it only while `k3s-servers` has no usable
//   server: when the agents take every server out (an etcd election makes every /readyz
//   fail at once), or when a slow fleet misses the tight timeout everywhere at once. A
//   separate backend, not `backup` lines, because backups share their backend's
//   `timeout check` and would go down with the primaries; so neither the agents nor a
//   slow fleet ever leave the API with no server while one still answers.
// - Client/server timeouts stay long because kubectl and kubelets hold watches open.
// - `frontend lb-health` on 127.0.0.1 is what keepalived probes: haproxy is serving.

import { LoadBalancerSettings } from "../../inventory/schema";
import { DEFAULT_HEALTH_CHECK, HEALTH_PORT, STATS_PORT } from "../../inventory/wellKnown";

export interface HaproxyServer {
    readonly name: string;
    readonly address: string;
}

export interface HaproxyConfigInput {
    readonly servers: readonly HaproxyServer[];
    readonly apiPort: number;
    readonly agentCheckPort: number;
    /** Address of the stats page listener (the LB's own address), port 8404. */
    readonly statsBindAddress: string;
    readonly statsUser: string;
    /** Secret: the caller keeps the rendered text inside a secret Output. */
    readonly statsPassword: string;
    /** Where the admin socket lives; root-only. */
    readonly statsSocketPath?: string;
    /** Debian runs haproxy chrooted as haproxy:haproxy; tests may turn that off. */
    readonly runAsHaproxyUser?: boolean;
    /** The primary backend's health check (`loadBalancer.healthCheck`); default DEFAULT_HEALTH_CHECK. */
    readonly healthCheck?: HealthCheckTiming;
}

/**
 * `loadBalancer.healthCheck`: intervalMs is HAProxy's `inter` (half of it while a server
 * changes state), timeoutMs its `timeout check`, fall and rise as in HAProxy.
 */
export type HealthCheckTiming = LoadBalancerSettings["healthCheck"];

export const HAPROXY_CONFIG_PATH = "/etc/haproxy/haproxy.cfg";
export const PRIMARY_BACKEND = "k3s-servers";
/** The last-resort backend: used only while PRIMARY_BACKEND has no usable server. */
export const FALLBACK_BACKEND = "k3s-fallback";

/** The fallback backend's check: lenient, so that it stays up while a server answers at all. */
export const FALLBACK_CHECK = { intervalMs: 1000, minTimeoutMs: 3000, fall: 3, rise: 1 } as const;
/** While a server is down, HAProxy checks it this often. */
export const DOWN_INTERVAL_MS = 1000;
/** How often HAProxy asks each server's agent. */
export const AGENT_INTERVAL_MS = 2000;

/** The fallback's check timeout: at least 3 s, and never tighter than three primary timeouts. */
export function fallbackTimeoutMs(primary: HealthCheckTiming): number {
    return Math.max(FALLBACK_CHECK.minTimeoutMs, 3 * primary.timeoutMs);
}

export function renderHaproxyConfig(input: HaproxyConfigInput): string {
    if (input.servers.length === 0) throw new Error("renderHaproxyConfig: at least one server is required");
    if (/[\s#]/.test(input.statsPassword) || input.statsPassword.length === 0) {
        throw new Error("renderHaproxyConfig: the stats password must be non-empty without spaces or '#'");
    }
    const t = input.healthCheck ?? DEFAULT_HEALTH_CHECK;
    const fastInterMs = Math.max(100, Math.round(t.intervalMs / 2));
    const runAs = input.runAsHaproxyUser ?? true;
    const socket = input.statsSocketPath ?? "/run/haproxy/admin.sock";
    const global = [
        "global",
        "    log /dev/log local0",
        ...(runAs ? ["    chroot /var/lib/haproxy", "    user haproxy", "    group haproxy"] : []),
        `    stats socket ${socket} mode 600 level admin`,
        "    stats timeout 30s",
        "    maxconn 4000",
    ];
    const defaults = [
        "defaults",
        "    mode tcp",
        "    log global",
        "    option tcplog",
        "    option dontlognull",
        "    retries 3",
        "    option redispatch 1",
        "    timeout connect 1s",
        "    timeout client 3h",
        "    timeout server 3h",
    ];
    const frontend = [
        "frontend k3s-api",
        `    bind :${input.apiPort}`,
        `    use_backend ${FALLBACK_BACKEND} if { nbsrv(${PRIMARY_BACKEND}) eq 0 }`,
        `    default_backend ${PRIMARY_BACKEND}`,
    ];
    // Both backends check the same way; only the timing and the agent differ.
    const checked = (timeoutMs: number, serverDefaults: string): string[] => [
        "    balance leastconn",
        "    option httpchk",
        "    http-check send meth GET uri /readyz",
        "    http-check expect rstatus ^(200|401)$",
        `    timeout check ${timeoutMs}ms`,
        `    default-server check check-ssl verify none ${serverDefaults} ` +
            "on-marked-down shutdown-sessions slowstart 10s maxconn 500 weight 100",
        ...input.servers.map((s) => `    server ${s.name} ${s.address}:${input.apiPort}`),
    ];
    const primary = [
        `backend ${PRIMARY_BACKEND}`,
        ...checked(t.timeoutMs, `inter ${t.intervalMs}ms fastinter ${fastInterMs}ms downinter ${DOWN_INTERVAL_MS}ms fall ${t.fall} rise ${t.rise} ` +
            `agent-check agent-port ${input.agentCheckPort} agent-inter ${AGENT_INTERVAL_MS}ms`),
    ];
    const f = FALLBACK_CHECK;
    const fallback = [
        `# The same servers without the agent and with a lenient check: used only while ${PRIMARY_BACKEND} has none.`,
        `backend ${FALLBACK_BACKEND}`,
        ...checked(fallbackTimeoutMs(t), `inter ${f.intervalMs}ms fastinter ${f.intervalMs}ms downinter ${f.intervalMs}ms fall ${f.fall} rise ${f.rise}`),
    ];
    const health = [
        "frontend lb-health",
        `    bind 127.0.0.1:${HEALTH_PORT}`,
        "    mode http",
        "    timeout client 5s",
        "    monitor-uri /healthz",
    ];
    const stats = [
        "listen stats",
        `    bind ${input.statsBindAddress}:${STATS_PORT}`,
        "    mode http",
        "    timeout client 30s",
        "    timeout server 30s",
        "    stats enable",
        "    stats uri /",
        "    stats refresh 5s",
        "    stats realm picluster",
        `    stats auth ${input.statsUser}:${input.statsPassword}`,
    ];
    return ["# Managed by picluster (Pulumi). Local edits are overwritten on the next `pulumi up`.",
        ...global, "", ...defaults, "", ...frontend, "", ...primary, "", ...fallback, "", ...health, "", ...stats, ""].join("\n");
}
