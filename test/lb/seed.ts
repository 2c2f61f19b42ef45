// The seed tutorial's load balancer, as the benchmark's baseline: its haproxy.cfg and its
// agent-check script, copied from ../shared/seed/raspberry-pi-ha-k3s-tutorial.md.
// Adapted only where the lab requires it, never in balancing or checking:
// - server addresses and the API/agent ports come from the lab;
// - the stats socket lives in the lab's directory;
// - haproxy runs in the foreground as the test's own user: the `daemon`, `chroot`,
//   `pidfile`, `user` and `group` lines are left out (process management only).
// The `server localhost 127.0.0.1:6443 ... backup` line is kept as the seed has it.

export interface SeedServer {
    readonly name: string;
    readonly address: string;
}

export interface SeedInput {
    readonly servers: readonly SeedServer[];
    readonly apiPort: number;
    readonly agentPort: number;
    readonly statsSocketPath: string;
}

export function renderSeedHaproxyConfig(input: SeedInput): string {
    const listen = input.servers.map((s) => `    server ${s.name} ${s.address}:${input.apiPort} check agent-check observe layer4`);
    const plain = input.servers.map((s) => `    server ${s.name} ${s.address}:${input.apiPort}`);
    return [
        "global",
        "    log 127.0.0.1 local2",
        "    maxconn 4000",
        "",
        "    # turn on stats unix socket",
        "",
        `    stats socket ${input.statsSocketPath}`,
        "",
        "defaults",
        "    mode tcp",
        "    log global",
        "    option dontlognull",
        "    option http-server-close",
        "    #option forwardfor except 127.0.0.0/8",
        "    option redispatch",
        "    retries 3",
        "    timeout http-request 10s",
        "    timeout queue 1m",
        "    timeout connect 10s",
        "    timeout client 1m",
        "    timeout server 1m",
        "    timeout http-keep-alive 10s",
        "    timeout check 10s",
        "    maxconn 3000",
        "",
        "listen haproxy_servers",
        "",
        "    # bind is the listening port of your HAPROXY",
        "",
        `    bind *:${input.apiPort}`,
        "    mode tcp",
        "    option tcplog",
        "    timeout client 10800s",
        "    timeout server 10800s",
        "    #balance leastconn",
        "    default-server inter 10s downinter 5s rise 2 fall 2 slowstart 60s maxconn 200 maxqueue 250 weight 100 error-limit 10 " +
            `on-error mark-down on-marked-down shutdown-sessions agent-port ${input.agentPort} agent-inter 30s`,
        ...listen,
        `    server localhost 127.0.0.1:${input.apiPort} maxconn 500 backup weight 1`,
        "",
        "backend servers",
        "",
        "    mode tcp",
        "    option tcplog",
        "    #balance roundrobin",
        ...plain,
        "",
    ].join("\n");
}

/** The seed's agent-check script, verbatim (it reads `uptime`, counts CPUs, uses bc). */
export const SEED_AGENT_CHECK = `#!/bin/bash
LMAX=90

load=$(uptime | grep -E -o 'load average[s:][: ].*' | sed 's/,//g' | cut -d' ' -f3-5)
cpus=$(grep processor /proc/cpuinfo | wc -l)

while read -r l1 l5 l15; do {
l5util=$(echo "$l5/$cpus*100" | bc -l | cut -d"." -f1);
[[ $l5util -lt $LMAX ]] && echo "up 100%" && exit 0;
[[ $l5util -gt $LMAX ]] && [[ $l5util -lt 100 ]] && echo "up 50%" && exit 0;
echo "down#CPU overload";
}; done < <(echo $load)

exit 0
`;

/**
 * A stand-in for `uptime` so the seed's script sees a chosen 5-minute load: it prints the
 * load figures from a file (one line "l1 l5 l15") in uptime's format.
 */
export function fakeUptime(loadFile: string): string {
    return `#!/bin/bash
read -r l1 l5 l15 < '${loadFile}'
echo " 10:00:00 up 1 day,  1:00,  1 user,  load average: $l1, $l5, $l15"
`;
}
