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
//   API disappears (with leastconn, weight 1 next to weight 100 gets almost nothing
//   while others have room, and an equal share when every server is loaded).
// - It says `down` only on a definite answer from its own API: connection refused, or
//   /readyz answering 5xx. k3s turns anonymous auth off, so /readyz needs credentials:
//   with a client certificate (any identity: system:public-info-viewer lets every
//   authenticated user read /readyz) the agent sees real readiness (etcd); without one a
//   401 only proves the apiserver answers. A timeout or any other doubt gives no verdict:
//   hangs are the health check's job, and a check that guesses would take servers out
//   exactly when they are busy. haproxy.cfg lists every server again as a backup without
//   the agent, so even if every agent says down, live servers keep serving.
// - The local probe is bounded (0.3 s) to answer within HAProxy's `timeout check`.
// - It reads /proc/loadavg with bash built-ins: no uptime|grep|sed|cut|bc pipeline.

import { shq } from "../shared/bash";
import { LB_DRAIN_FLAG, LB_READY_FLAG } from "../../inventory/wellKnown";

export interface AgentCheckInput {
    /** Full weight up to and including this 5-minute load per CPU, in percent. */
    readonly busyPercent: number;
    /** Above busyPercent the weight falls linearly to 1 % at this load. */
    readonly overloadPercent: number;
    /** Local API readiness URL; k3s answers 401 to anonymous requests, which counts as alive. */
    readonly apiReadyUrl?: string;
    /**
     * Client certificate and key (PEM, readable by `nobody`) for the readiness request, so
     * /readyz reports real readiness instead of 401. Both or neither.
     */
    readonly apiClientCertPath?: string;
    readonly apiClientKeyPath?: string;
    /** For tests: read the load from another file. */
    readonly loadavgPath?: string;
    /** For tests: a fixed CPU count instead of asking the kernel. */
    readonly cpuCount?: number;
    /** For tests: the rolling upgrade's flags (LB_DRAIN_FLAG, LB_READY_FLAG) elsewhere. */
    readonly drainFlagPath?: string;
    readonly readyFlagPath?: string;
}

export const AGENT_CHECK_PATH = "/usr/local/bin/haproxy-agent-check";
/** Where renderAgentClientCertScript puts the agent's client certificate and key. */
export const AGENT_CLIENT_DIR = "/etc/picluster/agent-check";
export const AGENT_CLIENT_CERT_PATH = `${AGENT_CLIENT_DIR}/client.crt`;
export const AGENT_CLIENT_KEY_PATH = `${AGENT_CLIENT_DIR}/client.key`;
/** k3s's client CA on a server node. */
export const K3S_CLIENT_CA_CERT = "/var/lib/rancher/k3s/server/tls/client-ca.crt";
export const K3S_CLIENT_CA_KEY = "/var/lib/rancher/k3s/server/tls/client-ca.key";

export interface AgentClientCertInput {
    readonly dir?: string;
    readonly caCertPath?: string;
    readonly caKeyPath?: string;
    /** The group that may read the key: the agent runs as nobody (Debian: nogroup). */
    readonly group?: string;
}

/**
 * Root script for a k3s server, run after k3s is up: gives the agent-check its own
 * client certificate, signed by the server's client CA, CN picluster-agent-check and no
 * groups. As an authenticated user it may read /readyz (system:public-info-viewer) and
 * nothing else, so the key can be readable by `nobody`. Idempotent: it keeps a current
 * certificate and issues a new one when it is missing, expires within 30 days, or was
 * not signed by the current CA (after `k3s certificate rotate-ca`).
 */
export function renderAgentClientCertScript(input: AgentClientCertInput = {}): string {
    const dir = input.dir ?? AGENT_CLIENT_DIR;
    const caCrt = input.caCertPath ?? K3S_CLIENT_CA_CERT;
    const caKey = input.caKeyPath ?? K3S_CLIENT_CA_KEY;
    const group = input.group ?? "nogroup";
    return [
        "#!/bin/bash",
        "# Managed by picluster (Pulumi): the agent-check's client certificate for /readyz.",
        "set -euo pipefail",
        `dir=${shq(dir)}`,
        `ca_crt=${shq(caCrt)}`,
        `ca_key=${shq(caKey)}`,
        `group=${shq(group)}`,
        "for f in \"$ca_crt\" \"$ca_key\"; do",
        "  [ -s \"$f\" ] || { echo \"picluster: $f is missing: is this a k3s server that has started?\" >&2; exit 1; }",
        "done",
        "install -d -m 0750 -o root -g \"$group\" \"$dir\"",
        "crt=\"$dir/client.crt\"",
        "key=\"$dir/client.key\"",
        "if [ -s \"$crt\" ] && [ -s \"$key\" ] \\",
        "  && openssl x509 -in \"$crt\" -noout -checkend 2592000 >/dev/null 2>&1 \\",
        "  && openssl verify -CAfile \"$ca_crt\" \"$crt\" >/dev/null 2>&1; then",
        "  echo 'picluster: agent-check client certificate is current'",
        "else",
        "  tmp=$(mktemp -d \"$dir/.new.XXXXXX\")",
        "  trap 'rm -rf \"$tmp\"' EXIT",
        "  openssl ecparam -name prime256v1 -genkey -noout -out \"$tmp/client.key\"",
        "  openssl req -new -key \"$tmp/client.key\" -subj '/CN=picluster-agent-check' -out \"$tmp/client.csr\"",
        "  printf 'extendedKeyUsage=clientAuth\\n' > \"$tmp/ext\"",
        "  openssl x509 -req -in \"$tmp/client.csr\" -CA \"$ca_crt\" -CAkey \"$ca_key\" -set_serial \"0x$(openssl rand -hex 16)\" \\",
        "    -days 3650 -sha256 -extfile \"$tmp/ext\" -out \"$tmp/client.crt\" 2>/dev/null",
        "  chown root:\"$group\" \"$tmp/client.key\" \"$tmp/client.crt\"",
        "  chmod 0640 \"$tmp/client.key\"",
        "  chmod 0644 \"$tmp/client.crt\"",
        "  mv -f \"$tmp/client.key\" \"$key\"",
        "  mv -f \"$tmp/client.crt\" \"$crt\"",
        "  echo 'picluster: agent-check client certificate issued'",
        "fi",
        "",
    ].join("\n");
}

export function renderAgentCheck(input: AgentCheckInput): string {
    if (!(input.overloadPercent > input.busyPercent)) {
        throw new Error("renderAgentCheck: overloadPercent must be greater than busyPercent");
    }
    const cpus = input.cpuCount !== undefined ? String(input.cpuCount) : "$(getconf _NPROCESSORS_ONLN)";
    if ((input.apiClientCertPath === undefined) !== (input.apiClientKeyPath === undefined)) {
        throw new Error("renderAgentCheck: give both apiClientCertPath and apiClientKeyPath, or neither");
    }
    const creds = input.apiClientCertPath === undefined ? "" : ` --cert ${shq(input.apiClientCertPath)} --key ${shq(input.apiClientKeyPath as string)}`;
    const readiness = input.apiReadyUrl === undefined ? [] : [
        "# Down only on a definite answer from this server's own API: refused, or not ready (5xx).",
        "# A timeout is no verdict (the LB's health check catches hangs); neither is 401/403.",
        "rc=0",
        `code=$(curl -sk -o /dev/null -w '%{http_code}' --connect-timeout 0.2 --max-time 0.3${creds} ${shq(input.apiReadyUrl)} 2>/dev/null) || rc=$?`,
        "if (( rc == 7 )); then echo \"${ready}down #k3s API not listening\"; exit 0; fi",
        "case \"$code\" in",
        "  5??) echo \"${ready}down #k3s API not ready (HTTP $code)\"; exit 0 ;;",
        "esac",
    ];
    return [
        "#!/bin/bash",
        "# Managed by picluster (Pulumi): HAProxy agent-check, served by xinetd as nobody.",
        "set -u",
        "# xinetd hands the script the connection as stderr too: no error text may reach HAProxy.",
        "exec 2>/dev/null",
        `busy=${input.busyPercent}`,
        `overload=${input.overloadPercent}`,
        "# A rolling upgrade of this server (components/k3s/rollingUpgrade.ts): no new connections",
        "# before k3s restarts, then `ready` to end HAProxy's drain state once it is back.",
        `if [[ -e ${shq(input.drainFlagPath ?? LB_DRAIN_FLAG)} ]]; then echo 'drain #picluster: this server is being upgraded'; exit 0; fi`,
        "ready=''",
        `[[ -e ${shq(input.readyFlagPath ?? LB_READY_FLAG)} ]] && ready='ready '`,
        ...readiness,
        `if ! read -r _ load5 _ < ${shq(input.loadavgPath ?? "/proc/loadavg")}; then`,
        "  echo \"${ready}up 100%\"  # no load figure: let the health check decide",
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
        "echo \"${ready}up ${weight}%\"",
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
