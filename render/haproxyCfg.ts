// haproxy.cfg for the API load balancer: TCP pass-through on 6443 to every k3s server.
//
// Why these settings (measured figures in docs/load-balancer.md):
// - A crashed server is caught from live traffic by `observe layer4`; a hung server, or a
//   Pi that dropped off the network, only by a health check with a short timeout. So the
//   check is a TLS HTTP request to /readyz every 500 ms with `timeout check 500ms`.
// - k3s runs the apiserver with anonymous auth off, so /readyz may answer 401: that
//   still proves the apiserver's HTTP stack answers; silence or a 5xx does not.
// - The agent-check (port 9707, via xinetd) lowers the weight of a loaded server and
//   says `down #reason` when its local API is not ready.
// - Client/server timeouts stay long because kubectl and kubelets hold watches open.

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
export const STATS_PORT = 8404;

export function renderHaproxyConfig(input: HaproxyConfigInput): string {
    if (input.servers.length === 0) throw new Error("renderHaproxyConfig: at least one server is required");
    if (/[\s#]/.test(input.statsPassword) || input.statsPassword.length === 0) {
        throw new Error("renderHaproxyConfig: the stats password must be non-empty without spaces or '#'");
    }
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
        "    option redispatch",
        "    timeout connect 2s",
        "    timeout client 3h",
        "    timeout server 3h",
        "    timeout check 500ms",
    ];
    const frontend = [
        "frontend k3s-api",
        `    bind :${input.apiPort}`,
        "    default_backend k3s-servers",
    ];
    const backend = [
        "backend k3s-servers",
        "    balance leastconn",
        "    option httpchk",
        "    http-check send meth GET uri /readyz",
        "    http-check expect rstatus ^(200|401)$",
        `    default-server check check-ssl verify none inter 500ms fastinter 250ms downinter 1s fall 2 rise 2 ` +
            `observe layer4 error-limit 3 on-error mark-down on-marked-down shutdown-sessions ` +
            `agent-check agent-port ${input.agentCheckPort} agent-inter 2s slowstart 10s maxconn 500 weight 100`,
        ...input.servers.map((s) => `    server ${s.name} ${s.address}:${input.apiPort}`),
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
        ...global, "", ...defaults, "", ...frontend, "", ...backend, "", ...stats, ""].join("\n");
}
