// haproxy.cfg for the API load balancer: TCP pass-through on 6443 to every k3s server.
//
// Why these settings (measured under load by test/lb: `test/lb/bench` prints the figures):
// - A crashed server is caught from live traffic by `observe layer4` (error-limit 3) and
//   by the health check; `option redispatch 1` with `retries 3` sends a refused new
//   connection to another server at once, so the client never sees the crash.
// - A hung server (accepts, never answers), or a Pi that dropped off the network, is
//   caught only by a health check with a short timeout: a TLS GET /readyz every 400 ms,
//   200 ms once one check failed, `timeout check 400ms`, fall 2. Worst case to DOWN:
//   inter + 2 x timeout + fastinter = 1.4 s; typically about 1.1 s. rise 2 and
//   `downinter 1s` bring a server back after two good checks without flapping.
// - k3s runs the apiserver with anonymous auth off, so /readyz answers 401: that still
//   proves the apiserver's TLS and HTTP stack answers; silence or a 5xx does not. Real
//   readiness (etcd) is the agent-check's job: it asks locally, with credentials.
// - `balance leastconn`: watches are long-lived, and a hung server keeps its stuck
//   connections, so new ones go elsewhere even before it is marked down.
// - `on-marked-down shutdown-sessions`: connections stuck on a dead server are closed at
//   once, so clients reconnect (through the LB) instead of waiting for a 3 h timeout.
// - The agent-check (port 9707, via xinetd) lowers the weight of a loaded server and says
//   `down #reason` only when its own API answers "not ready". Every server is listed a
//   second time as a `backup` without the agent-check: if the agents take every server
//   out (an etcd election makes every /readyz fail at once), the API stays reachable
//   on every server that still answers. So the agent never removes the last live server.
// - Client/server timeouts stay long because kubectl and kubelets hold watches open.
// - `frontend lb-health` on 127.0.0.1 is what keepalived probes: haproxy is serving.

import { HEALTH_PORT, STATS_PORT } from "../../inventory/wellKnown";

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
}

export const HAPROXY_CONFIG_PATH = "/etc/haproxy/haproxy.cfg";
/** The backup twin of server `name` (same address, no agent-check). */
export const FALLBACK_SUFFIX = "-fallback";

/** Health-check timing, in milliseconds (see the header for the reasoning). */
export const CHECK_TIMING = {
    inter: 400,
    fastinter: 200,
    downinter: 1000,
    timeoutCheck: 400,
    fall: 2,
    rise: 2,
    agentInter: 2000,
} as const;

export function renderHaproxyConfig(input: HaproxyConfigInput): string {
    if (input.servers.length === 0) throw new Error("renderHaproxyConfig: at least one server is required");
    if (/[\s#]/.test(input.statsPassword) || input.statsPassword.length === 0) {
        throw new Error("renderHaproxyConfig: the stats password must be non-empty without spaces or '#'");
    }
    const names = new Set(input.servers.map((s) => s.name));
    for (const s of input.servers) {
        if (names.has(s.name + FALLBACK_SUFFIX)) throw new Error(`renderHaproxyConfig: server name ${s.name}${FALLBACK_SUFFIX} is reserved`);
    }
    const t = CHECK_TIMING;
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
        `    timeout check ${t.timeoutCheck}ms`,
    ];
    const frontend = [
        "frontend k3s-api",
        `    bind :${input.apiPort}`,
        "    default_backend k3s-servers",
    ];
    const backend = [
        "backend k3s-servers",
        "    balance leastconn",
        "    option allbackups",
        "    option httpchk",
        "    http-check send meth GET uri /readyz",
        "    http-check expect rstatus ^(200|401)$",
        `    default-server check check-ssl verify none inter ${t.inter}ms fastinter ${t.fastinter}ms downinter ${t.downinter}ms ` +
            `fall ${t.fall} rise ${t.rise} observe layer4 error-limit 3 on-error mark-down on-marked-down shutdown-sessions ` +
            `agent-check agent-port ${input.agentCheckPort} agent-inter ${t.agentInter}ms slowstart 10s maxconn 500 weight 100`,
        ...input.servers.map((s) => `    server ${s.name} ${s.address}:${input.apiPort}`),
        "    # The same servers without the agent: used only when every server above is out.",
        ...input.servers.map((s) => `    server ${s.name}${FALLBACK_SUFFIX} ${s.address}:${input.apiPort} backup no-agent-check`),
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
        ...global, "", ...defaults, "", ...frontend, "", ...backend, "", ...health, "", ...stats, ""].join("\n");
}
