// The HAProxy agent-check served on each k3s server: one line that tells the load
// balancer how much traffic this server should get.
//
// Differences from the seed's script, each on purpose:
// - It answers `down #<reason>` with the space HAProxy needs; the seed's `down#CPU`
//   is read as an unknown word and never took a server down.
// - Load at exactly the limit keeps full weight (the seed fell through to "down" at 90 %).
// - High load lowers the weight instead of taking the server out: with every server
//   busy, "down" or "drain" everywhere would remove the whole control plane at once.
//   The weight never drops below 1 %, so a loaded server is never the reason the
//   API disappears. Only a local API that does not answer says `down`.
// - It reads /proc/loadavg with bash built-ins: no uptime|grep|sed|cut|bc pipeline.

export interface AgentCheckInput {
    /** Full weight up to and including this 5-minute load per CPU, in percent. */
    readonly busyPercent: number;
    /** Above busyPercent the weight falls linearly to 1 % at this load. */
    readonly overloadPercent: number;
    /** Local API readiness URL; k3s answers 401 to anonymous requests, which counts as alive. */
    readonly apiReadyUrl?: string;
    /** For tests: read the load from another file. */
    readonly loadavgPath?: string;
    /** For tests: a fixed CPU count instead of asking the kernel. */
    readonly cpuCount?: number;
}

export const AGENT_CHECK_PATH = "/usr/local/bin/haproxy-agent-check";

export function renderAgentCheck(input: AgentCheckInput): string {
    if (!(input.overloadPercent > input.busyPercent)) {
        throw new Error("renderAgentCheck: overloadPercent must be greater than busyPercent");
    }
    const cpus = input.cpuCount !== undefined ? String(input.cpuCount) : "$(getconf _NPROCESSORS_ONLN)";
    const readiness = input.apiReadyUrl === undefined ? [] : [
        "# A server whose own API does not answer is really down (a hung apiserver",
        "# still accepts TCP, which is why a TCP check alone is not enough).",
        `code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 1 '${input.apiReadyUrl}' 2>/dev/null) || code=000`,
        "case \"$code\" in",
        "  200|401) ;;",
        "  *) echo \"down #k3s API not ready (HTTP $code)\"; exit 0 ;;",
        "esac",
    ];
    return [
        "#!/bin/bash",
        "# Managed by picluster (Pulumi): HAProxy agent-check, served by xinetd as nobody.",
        "set -u",
        `busy=${input.busyPercent}`,
        `overload=${input.overloadPercent}`,
        ...readiness,
        `if ! read -r _ load5 _ < '${input.loadavgPath ?? "/proc/loadavg"}'; then`,
        "  echo 'up 100%'  # no load figure: let the health check decide",
        "  exit 0",
        "fi",
        `cpus=${cpus}`,
        "[[ $cpus =~ ^[1-9][0-9]*$ ]] || cpus=1",
        "# load5 looks like 1.37: turn it into hundredths without floating point.",
        "whole=${load5%%.*}",
        "frac=0",
        "[[ $load5 == *.* ]] && frac=${load5#*.}",
        "frac=${frac}00",
        "hundredths=$(( 10#$whole * 100 + 10#${frac:0:2} ))",
        "pct=$(( hundredths / cpus ))",
        "if (( pct <= busy )); then",
        "  weight=100",
        "elif (( pct >= overload )); then",
        "  weight=1",
        "else",
        "  weight=$(( 100 - (pct - busy) * 99 / (overload - busy) ))",
        "fi",
        "echo \"up ${weight}%\"",
        "",
    ].join("\n");
}

export interface XinetdServiceInput {
    readonly port: number;
    readonly serverPath: string;
    /** Bind one address only (the lab runs several Pis per kernel); default: all. */
    readonly bindAddress?: string;
}

export const XINETD_SERVICE_NAME = "haproxy-agent-check";
export const XINETD_SERVICE_PATH = `/etc/xinetd.d/${XINETD_SERVICE_NAME}`;

export function renderXinetdService(input: XinetdServiceInput): string {
    return [
        "# Managed by picluster (Pulumi): the HAProxy agent-check on this k3s server.",
        `service ${XINETD_SERVICE_NAME}`,
        "{",
        "    disable         = no",
        "    # UNLISTED + port works whether or not the /etc/services line is present.",
        "    type            = UNLISTED",
        "    flags           = REUSE",
        "    socket_type     = stream",
        "    protocol        = tcp",
        `    port            = ${input.port}`,
        "    wait            = no",
        "    user            = nobody",
        `    server          = ${input.serverPath}`,
        ...(input.bindAddress ? [`    bind            = ${input.bindAddress}`] : []),
        "    log_on_failure  += USERID",
        "    per_source      = UNLIMITED",
        "}",
        "",
    ].join("\n");
}

/** The /etc/services line xinetd uses to map the service name to its port. */
export function servicesLine(port: number): string {
    return `${XINETD_SERVICE_NAME} ${port}/tcp # picluster`;
}
