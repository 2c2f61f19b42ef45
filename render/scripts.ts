// The bash scripts that run on the Pis. Each is a pure function of typed input so it
// can be checked with `bash -n` and shellcheck, and each create script has a matching
// delete script that undoes exactly what it changed (recorded under STATE_DIR).
//
// Conventions: every script is idempotent (detect before changing), bounded in time
// (every wait has a deadline), prints `picluster:` progress lines, and takes secrets
// only on stdin, never on its command line.
import { shq } from "./shell";
import { K3S_CONFIG_PATH, K3S_TOKEN_FILE } from "./k3sConfig";
import { HAPROXY_CONFIG_PATH } from "./haproxyCfg";
import { KEEPALIVED_CONFIG_PATH } from "./keepalived";
import { AGENT_CHECK_PATH, XINETD_SERVICE_NAME, XINETD_SERVICE_PATH } from "./agentCheck";

/** Where the program records what it changed on a Pi, so delete can put it back. */
export const STATE_DIR = "/var/lib/picluster";
export const CGROUP_FLAGS = "cgroup_memory=1 cgroup_enable=memory";
/** Printed by the preparation script when it scheduled a reboot. */
export const REBOOT_MARKER = "picluster: reboot scheduled";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

function script(...body: string[]): string {
    return ["#!/bin/bash", "set -euo pipefail", "umask 022", ...body, ""].join("\n");
}

// Starts, restarts or reloads a service with systemd when it runs, else the SysV script.
const SERVICE_FN = [
    "svc() {",
    "  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then",
    "    timeout 60 systemctl \"$1\" \"$2\"",
    "  else",
    "    timeout 60 service \"$2\" \"$1\"",
    "  fi",
    "}",
];

/** Writes `content` to `path` atomically with the given mode. */
function writeFile(path: string, content: string, mode: string): string[] {
    return [
        `install -d -m 0755 "$(dirname ${shq(path)})"`,
        `printf '%s' ${shq(b64(content))} | base64 -d > ${shq(path + ".picluster-new")}`,
        `chmod ${mode} ${shq(path + ".picluster-new")}`,
        `mv -f ${shq(path + ".picluster-new")} ${shq(path)}`,
    ];
}

/** Saves the original of a file once (or records that it did not exist). */
function backupOnce(path: string, key: string): string[] {
    const saved = `${STATE_DIR}/${key}`;
    return [
        `install -d -m 0700 ${shq(STATE_DIR)}`,
        `if [ ! -e ${shq(saved + ".orig")} ] && [ ! -e ${shq(saved + ".absent")} ]; then`,
        `  if [ -e ${shq(path)} ]; then cp -p ${shq(path)} ${shq(saved + ".orig")}; else touch ${shq(saved + ".absent")}; fi`,
        "fi",
    ];
}

/** Puts back what backupOnce saved. */
function restore(path: string, key: string): string[] {
    const saved = `${STATE_DIR}/${key}`;
    return [
        `if [ -e ${shq(saved + ".orig")} ]; then cp -p ${shq(saved + ".orig")} ${shq(path)}; rm -f ${shq(saved + ".orig")}; fi`,
        `if [ -e ${shq(saved + ".absent")} ]; then rm -f ${shq(path)} ${shq(saved + ".absent")}; fi`,
    ];
}

export interface PrepareInput {
    readonly hostname: string;
    readonly packages: readonly string[];
    /** Reboot when the cgroup flags were added (k3s needs them active). */
    readonly rebootOnCmdlineChange: boolean;
}

/** Pi preparation: cgroup flags, hostname, packages. Records what it changed. */
export function renderPrepareScript(input: PrepareInput): string {
    const pkgs = input.packages.map(shq).join(" ");
    return script(
        `install -d -m 0700 ${shq(STATE_DIR)}`,
        "cmdline=''",
        "for f in /boot/firmware/cmdline.txt /boot/cmdline.txt; do",
        "  if [ -f \"$f\" ]; then cmdline=$f; break; fi",
        "done",
        "if [ -z \"$cmdline\" ]; then",
        "  echo 'picluster: neither /boot/firmware/cmdline.txt nor /boot/cmdline.txt exists; is this a Raspberry Pi OS or Hypriot image?' >&2",
        "  exit 1",
        "fi",
        "changed_cmdline=no",
        "if ! grep -qw 'cgroup_memory=1' \"$cmdline\" || ! grep -qw 'cgroup_enable=memory' \"$cmdline\"; then",
        `  [ -e ${shq(STATE_DIR + "/cmdline.orig")} ] || { cp -p "$cmdline" ${shq(STATE_DIR + "/cmdline.orig")}; echo "$cmdline" > ${shq(STATE_DIR + "/cmdline.path")}; }`,
        "  # cmdline.txt is one line; append to it without adding a second one.",
        `  line=$(head -n 1 "$cmdline")`,
        `  for flag in ${CGROUP_FLAGS}; do`,
        "    case \" $line \" in *\" $flag \"*) ;; *) line=\"$line $flag\" ;; esac",
        "  done",
        "  printf '%s\\n' \"$line\" > \"$cmdline.picluster-new\"",
        "  mv -f \"$cmdline.picluster-new\" \"$cmdline\"",
        "  changed_cmdline=yes",
        "  echo \"picluster: added cgroup flags to $cmdline\"",
        "fi",
        `if [ "$(hostname)" != ${shq(input.hostname)} ]; then`,
        ...backupOnce("/etc/hostname", "hostname").map((l) => "  " + l),
        `  [ -e ${shq(STATE_DIR + "/hostname.running")} ] || hostname > ${shq(STATE_DIR + "/hostname.running")}`,
        `  echo ${shq(input.hostname)} > /etc/hostname`,
        `  hostname ${shq(input.hostname)}`,
        `  echo "picluster: hostname set to ${input.hostname}"`,
        "fi",
        ...(input.packages.length === 0 ? [] : [
            "missing=()",
            `for p in ${pkgs}; do`,
            "  dpkg-query -W -f='${Status}' \"$p\" 2>/dev/null | grep -q 'install ok installed' || missing+=(\"$p\")",
            "done",
            "if [ ${#missing[@]} -gt 0 ]; then",
            "  echo \"picluster: installing ${missing[*]}\"",
            "  export DEBIAN_FRONTEND=noninteractive",
            "  timeout 600 apt-get update -qq",
            "  timeout 900 apt-get install -y -qq --no-install-recommends \"${missing[@]}\"",
            `  printf '%s\\n' "\${missing[@]}" >> ${shq(STATE_DIR + "/packages.installed")}`,
            "fi",
        ]),
        ...(input.rebootOnCmdlineChange ? [
            "if [ \"$changed_cmdline\" = yes ]; then",
            "  # Reboot after this session has returned, so the provider sees success;",
            "  # the next step waits for the Pi to come back.",
            "  nohup sh -c 'sleep 3; reboot' >/dev/null 2>&1 &",
            `  echo ${shq(REBOOT_MARKER)}`,
            "fi",
        ] : [
            "if [ \"$changed_cmdline\" = yes ]; then",
            "  echo 'picluster: warning: reboot this Pi before k3s starts: the cgroup flags take effect at boot' >&2",
            "fi",
        ]),
        "echo 'picluster: prepared'",
    );
}

/** Undoes renderPrepareScript: cmdline, hostname, and the packages it installed. */
export function renderUnprepareScript(): string {
    return script(
        `if [ -e ${shq(STATE_DIR + "/cmdline.orig")} ]; then`,
        `  target=$(cat ${shq(STATE_DIR + "/cmdline.path")})`,
        `  cp -p ${shq(STATE_DIR + "/cmdline.orig")} "$target"`,
        `  rm -f ${shq(STATE_DIR + "/cmdline.orig")} ${shq(STATE_DIR + "/cmdline.path")}`,
        "  echo \"picluster: restored $target (takes effect at the next boot)\"",
        "fi",
        ...restore("/etc/hostname", "hostname"),
        `if [ -e ${shq(STATE_DIR + "/hostname.running")} ]; then`,
        `  hostname "$(cat ${shq(STATE_DIR + "/hostname.running")})"`,
        `  rm -f ${shq(STATE_DIR + "/hostname.running")}`,
        "fi",
        `if [ -s ${shq(STATE_DIR + "/packages.installed")} ]; then`,
        `  mapfile -t pkgs < ${shq(STATE_DIR + "/packages.installed")}`,
        "  export DEBIAN_FRONTEND=noninteractive",
        "  timeout 600 apt-get purge -y -qq \"${pkgs[@]}\" || echo 'picluster: warning: could not remove some packages' >&2",
        `  rm -f ${shq(STATE_DIR + "/packages.installed")}`,
        "fi",
        `rmdir ${shq(STATE_DIR)} 2>/dev/null || true`,
        "echo 'picluster: preparation undone'",
    );
}

export interface K3sInstallInput {
    readonly role: "server" | "agent";
    readonly version: string;
    /** https URL of install.sh, or an absolute path on the Pi (air-gapped install). */
    readonly installScript: string;
    readonly configYaml: string;
    /** Joiners read the join token from stdin; the first server creates it. */
    readonly tokenOnStdin: boolean;
    /** Agents: the URL they register with (servers take theirs from config.yaml). */
    readonly serverUrl?: string;
    readonly readyTimeoutSeconds: number;
}

/** Installs (or reconfigures) k3s from a rendered config.yaml. Safe to re-run. */
export function renderK3sInstallScript(input: K3sInstallInput): string {
    const service = input.role === "server" ? "k3s" : "k3s-agent";
    const fetch = input.installScript.startsWith("https://")
        ? [
            "installer=$(mktemp)",
            "trap 'rm -f \"$installer\"' EXIT",
            `timeout 300 curl -sfL --retry 3 -o "$installer" ${shq(input.installScript)}`,
        ]
        : [
            `installer=${shq(input.installScript)}`,
            `[ -f "$installer" ] || { echo "picluster: air-gapped install script $installer is missing on $(hostname)" >&2; exit 1; }`,
            "export INSTALL_K3S_SKIP_DOWNLOAD=true",
        ];
    return script(
        "install -d -m 0755 /etc/rancher/k3s",
        ...(input.tokenOnStdin ? [
            "IFS= read -r token || true",
            "case \"$token\" in",
            "  K10*::*) ;;",
            "  *) echo 'picluster: the join token on stdin is not a secure K10 token' >&2; exit 1 ;;",
            "esac",
            `( umask 077; printf '%s\\n' "$token" > ${shq(K3S_TOKEN_FILE + ".picluster-new")} )`,
            `mv -f ${shq(K3S_TOKEN_FILE + ".picluster-new")} ${shq(K3S_TOKEN_FILE)}`,
        ] : []),
        ...writeFile(K3S_CONFIG_PATH, input.configYaml, "0600"),
        `want=${shq(input.version)}`,
        "have=$(/usr/local/bin/k3s --version 2>/dev/null | head -n 1 | cut -d' ' -f3 || true)",
        "# Written only once k3s is up with this version and config: an install that was",
        "# interrupted (or a config that changed) runs the installer again.",
        `done_marker="$want $(sha256sum ${shq(K3S_CONFIG_PATH)} | cut -d' ' -f1)"`,
        `if [ "$have" = "$want" ] && [ -x /usr/local/bin/${service}-uninstall.sh ] && [ "$(cat ${shq(k3sMarker(service))} 2>/dev/null)" = "$done_marker" ]; then`,
        `  echo "picluster: k3s $want already installed with this config on $(hostname)"`,
        "else",
        ...fetch.map((l) => "  " + l),
        `  echo "picluster: installing k3s $want (${input.role}) on $(hostname)"`,
        `  export INSTALL_K3S_VERSION="$want" INSTALL_K3S_EXEC=${shq(input.role)}`,
        ...(input.role === "agent" && input.serverUrl ? [
            `  export K3S_URL=${shq(input.serverUrl)} K3S_TOKEN_FILE=${shq(K3S_TOKEN_FILE)}`,
        ] : []),
        "  # k3s's installer restarts k3s only when its binary, unit or env file changed, not",
        "  # for a new config.yaml nor after an install interrupted before the start.",
        "  export INSTALL_K3S_FORCE_RESTART=true",
        "  timeout 900 sh \"$installer\"",
        "fi",
        ...(input.role === "server" ? [
            `deadline=$(( $(date +%s) + ${input.readyTimeoutSeconds} ))`,
            "until /usr/local/bin/k3s kubectl get --raw=/readyz >/dev/null 2>&1; do",
            "  if [ \"$(date +%s)\" -ge \"$deadline\" ]; then",
            `    echo "picluster: k3s API on $(hostname) not ready after ${input.readyTimeoutSeconds}s" >&2`,
            "    exit 1",
            "  fi",
            "  sleep 2",
            "done",
        ] : []),
        `install -d -m 0700 ${shq(STATE_DIR)}`,
        `printf '%s\\n' "$done_marker" > ${shq(k3sMarker(service))}`,
        `echo "picluster: k3s ${input.role} ready on $(hostname)"`,
    );
}

function k3sMarker(service: string): string {
    return `${STATE_DIR}/${service}.installed`;
}

/** Removes k3s from a node; a server first leaves etcd by deleting its own node. */
export function renderK3sUninstallScript(input: { role: "server" | "agent"; nodeName: string; leaveCluster: boolean }): string {
    const uninstall = input.role === "server" ? "/usr/local/bin/k3s-uninstall.sh" : "/usr/local/bin/k3s-agent-uninstall.sh";
    return script(
        ...(input.leaveCluster ? [
            "# Deleting the Node makes k3s remove this member from etcd, so the remaining",
            "# servers keep a clean member list and the name can join again later.",
            `timeout 90 /usr/local/bin/k3s kubectl delete node ${shq(input.nodeName)} --ignore-not-found --timeout=60s \\`,
            `  || echo "picluster: warning: could not delete node ${input.nodeName} from the cluster" >&2`,
        ] : []),
        `if [ -x ${uninstall} ]; then timeout 300 ${uninstall}; fi`,
        `rm -f ${shq(K3S_CONFIG_PATH)} ${shq(K3S_TOKEN_FILE)}`,
        `rm -f ${shq(k3sMarker(input.role === "server" ? "k3s" : "k3s-agent"))}`,
        "# k3s's own uninstall leaves the node password and /var/lib/rancher behind.",
        "rm -rf /etc/rancher/node",
        "rmdir /etc/rancher/k3s /etc/rancher /var/lib/rancher 2>/dev/null || true",
        `echo "picluster: k3s removed from $(hostname)"`,
    );
}

/** Prints the secure join token once the first server has written it. */
export function renderReadTokenScript(timeoutSeconds: number): string {
    return script(
        "f=/var/lib/rancher/k3s/server/token",
        `deadline=$(( $(date +%s) + ${timeoutSeconds} ))`,
        "until [ -s \"$f\" ]; do",
        `  [ "$(date +%s)" -lt "$deadline" ] || { echo "picluster: no join token at $f after ${timeoutSeconds}s" >&2; exit 1; }`,
        "  sleep 1",
        "done",
        "token=$(head -n 1 \"$f\")",
        "case \"$token\" in K10*::*) ;; *) echo \"picluster: $f does not hold a secure K10 token\" >&2; exit 1 ;; esac",
        "printf '%s' \"$token\"",
    );
}

export function renderReadKubeconfigScript(): string {
    return script("cat /etc/rancher/k3s/k3s.yaml");
}

/** Runs on a server: lists the cluster's nodes by name, one per line. */
export function renderListNodesScript(): string {
    return script("timeout 60 /usr/local/bin/k3s kubectl get nodes -o 'jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}'");
}

/** Runs on a server when an agent is removed: drain it, then delete its Node. */
export function renderDrainScript(nodeName: string): string {
    const n = shq(nodeName);
    return script(
        "if [ ! -x /usr/local/bin/k3s ]; then",
        `  echo "picluster: k3s is gone from $(hostname); nothing to drain for ${nodeName}"`,
        "  exit 0",
        "fi",
        `timeout 150 /usr/local/bin/k3s kubectl drain ${n} --ignore-daemonsets --delete-emptydir-data --force --timeout=120s \\`,
        `  || echo "picluster: warning: drain of ${nodeName} did not finish; deleting it anyway" >&2`,
        `timeout 90 /usr/local/bin/k3s kubectl delete node ${n} --ignore-not-found --timeout=60s`,
        `echo "picluster: ${nodeName} drained and removed from the cluster"`,
    );
}

/** Installs haproxy.cfg read from stdin, after `haproxy -c` accepts it; then reloads. */
export function renderHaproxyApplyScript(): string {
    const cfg = HAPROXY_CONFIG_PATH;
    return script(
        ...SERVICE_FN,
        ...backupOnce(cfg, "haproxy.cfg"),
        `new=${shq(cfg + ".picluster-new")}`,
        "( umask 077; cat > \"$new\" )",
        "if ! out=$(haproxy -c -f \"$new\" 2>&1); then",
        "  echo \"picluster: haproxy rejected the rendered config on $(hostname); the live config is unchanged:\" >&2",
        "  printf '%s\\n' \"$out\" | grep -v 'stats auth' >&2",
        "  rm -f \"$new\"",
        "  exit 1",
        "fi",
        "install -d -m 0755 /run/haproxy",
        `if cmp -s "$new" ${shq(cfg)}; then rm -f "$new"; echo 'picluster: haproxy config unchanged'; exit 0; fi`,
        `chmod 0640 "$new"; chgrp haproxy "$new" 2>/dev/null || true`,
        `mv -f "$new" ${shq(cfg)}`,
        "if pidof haproxy >/dev/null 2>&1; then svc reload haproxy; else svc start haproxy; fi",
        "echo \"picluster: haproxy config applied on $(hostname)\"",
    );
}

export function renderHaproxyRestoreScript(): string {
    return script(
        ...SERVICE_FN,
        `had_original=no; [ -e ${shq(STATE_DIR + "/haproxy.cfg.orig")} ] && had_original=yes`,
        ...restore(HAPROXY_CONFIG_PATH, "haproxy.cfg"),
        "if [ \"$had_original\" = yes ] && pidof haproxy >/dev/null 2>&1; then svc reload haproxy || true; fi",
        "echo \"picluster: previous haproxy config restored on $(hostname)\"",
    );
}

/** keepalived.conf from stdin, checked with `keepalived -t`; non-local bind for the VIP. */
export function renderKeepalivedApplyScript(): string {
    const cfg = KEEPALIVED_CONFIG_PATH;
    const sysctl = "/etc/sysctl.d/90-picluster-nonlocal-bind.conf";
    return script(
        ...SERVICE_FN,
        ...backupOnce(cfg, "keepalived.conf"),
        "# haproxy on the backup LB must be able to bind the VIP it does not hold yet.",
        ...writeFile(sysctl, "net.ipv4.ip_nonlocal_bind = 1\n", "0644"),
        "sysctl -q -w net.ipv4.ip_nonlocal_bind=1",
        `new=${shq(cfg + ".picluster-new")}`,
        "install -d -m 0755 /etc/keepalived",
        "( umask 077; cat > \"$new\" )",
        "if ! out=$(keepalived -t -f \"$new\" 2>&1); then",
        "  echo \"picluster: keepalived rejected the rendered config on $(hostname); the live config is unchanged:\" >&2",
        "  printf '%s\\n' \"$out\" | grep -v auth_pass >&2",
        "  rm -f \"$new\"",
        "  exit 1",
        "fi",
        `if cmp -s "$new" ${shq(cfg)} && pidof keepalived >/dev/null 2>&1; then rm -f "$new"; echo 'picluster: keepalived config unchanged'; exit 0; fi`,
        `mv -f "$new" ${shq(cfg)}`,
        "svc restart keepalived",
        "echo \"picluster: keepalived config applied on $(hostname)\"",
    );
}

export function renderKeepalivedRestoreScript(): string {
    return script(
        ...SERVICE_FN,
        "svc stop keepalived || true",
        ...restore(KEEPALIVED_CONFIG_PATH, "keepalived.conf"),
        "rm -f /etc/sysctl.d/90-picluster-nonlocal-bind.conf",
        "sysctl -q -w net.ipv4.ip_nonlocal_bind=0 || true",
        "echo \"picluster: keepalived config removed from $(hostname)\"",
    );
}

/** Installs the agent-check script and its xinetd service, then reloads xinetd. */
export function renderAgentCheckInstallScript(input: { agentCheck: string; xinetdService: string; servicesLine: string }): string {
    return script(
        ...SERVICE_FN,
        ...writeFile(AGENT_CHECK_PATH, input.agentCheck, "0755"),
        ...writeFile(XINETD_SERVICE_PATH, input.xinetdService, "0644"),
        `if ! grep -q '^${XINETD_SERVICE_NAME}[[:space:]]' /etc/services; then`,
        `  printf '%s\\n' ${shq(input.servicesLine)} >> /etc/services`,
        "fi",
        "svc restart xinetd",
        "echo \"picluster: agent-check served by xinetd on $(hostname)\"",
    );
}

export function renderAgentCheckRemoveScript(): string {
    return script(
        ...SERVICE_FN,
        `rm -f ${shq(AGENT_CHECK_PATH)} ${shq(XINETD_SERVICE_PATH)}`,
        `sed -i '/^${XINETD_SERVICE_NAME}[[:space:]].*# picluster$/d' /etc/services`,
        "if pidof xinetd >/dev/null 2>&1; then svc restart xinetd || true; fi",
        "echo \"picluster: agent-check removed from $(hostname)\"",
    );
}

/**
 * Runs on the operator's machine after preparation: when that scheduled a reboot (3 s after it
 * returned), wait for the Pi's SSH port to stop answering, then for it to answer again. Seeing
 * the port go down lets the wait return as soon as the Pi is back. The engine may start this
 * step late, though (its parallelism queues steps: measured with 26 Pis at --parallel 8), when
 * the Pi has already rebooted and answers again: so after `downWindowSeconds` without seeing
 * it go down the wait goes on to the answering check, as a fixed sleep of that length would.
 * Two refusals in a row count as down, so one lost probe is not taken for the reboot.
 */
export function renderAwaitRebootScript(input: { host: string; port: number; timeoutSeconds: number; downWindowSeconds?: number }): string {
    const probe = `timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' ${shq(input.host)} ${input.port} 2>/dev/null`;
    const window = input.downWindowSeconds ?? 15;
    return script(
        `case "\${PREPARE_OUTPUT:-}" in *${shq(REBOOT_MARKER)}*) ;; *) exit 0 ;; esac`,
        `echo "picluster: waiting for ${input.host} to reboot"`,
        `down_deadline=$(( SECONDS + ${window} ))`,
        `deadline=$(( SECONDS + ${input.timeoutSeconds} ))`,
        "down=0",
        "while [ \"$down\" -lt 2 ]; do",
        "  if [ \"$SECONDS\" -ge \"$down_deadline\" ]; then",
        `    echo "picluster: ${input.host} did not go down within ${window}s of this wait: it rebooted before the wait began"`,
        "    break",
        "  fi",
        `  if ${probe}; then down=0; else down=$(( down + 1 )); fi`,
        "  sleep 0.5",
        "done",
        `until ${probe}; do`,
        "  if [ \"$SECONDS\" -ge \"$deadline\" ]; then",
        `    echo "picluster: ${input.host} did not answer on port ${input.port} within ${input.timeoutSeconds}s after its reboot" >&2`,
        "    exit 1",
        "  fi",
        "  sleep 1",
        "done",
        `echo "picluster: ${input.host} is back"`,
    );
}
