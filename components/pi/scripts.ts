// The scripts of one Pi: its preparation (an OS check, cgroup flags, hostname and its
// /etc/hosts line, the packages its role needs), the undoing of it, and the wait for its reboot,
// which runs on the operator's machine.
import { backupOnce, restore, script, shq, STATE_DIR } from "../shared/bash";

export const CGROUP_FLAGS = "cgroup_memory=1 cgroup_enable=memory";
/** Printed by the preparation script when it scheduled a reboot. */
export const REBOOT_MARKER = "picluster: reboot scheduled";

/**
 * The oldest releases the program supports, by /etc/os-release ID. Older ones break the load
 * balancers' configs (keepalived's down_timer_adverts needs 2.2.3, Bullseye ships 2.1.5; HAProxy's
 * `http-check send` needs 2.2, Buster ships 1.8), and Buster's iptables is in k3s's known-bad range.
 * Raspberry Pi OS reports ID=debian (64-bit) or ID=raspbian (32-bit) with Debian's VERSION_ID.
 */
export const MINIMUM_OS: Readonly<Record<string, { readonly version: number; readonly name: string }>> = {
    debian: { version: 12, name: "Debian 12 (Bookworm)" },
    raspbian: { version: 12, name: "Raspberry Pi OS 12 (Bookworm)" },
    ubuntu: { version: 22.04, name: "Ubuntu 22.04" },
};
export const SUPPORTED_OS_TEXT = "Raspberry Pi OS or Debian 12 (Bookworm) or newer, or Ubuntu 22.04 or newer";

/**
 * Refuses an OS older than MINIMUM_OS before the preparation changes anything. Debian testing
 * and unstable carry no VERSION_ID: they are newer than any release, so they pass.
 */
export function renderOsCheckLines(hostname: string, osRelease = "/etc/os-release"): string[] {
    const cases = Object.entries(MINIMUM_OS).map(([id, min]) => `  ${id}) min=${min.version} ;;`);
    return [
        `[ -r ${shq(osRelease)} ] || { echo "picluster: ${hostname}: ${osRelease} is missing, so its OS cannot be checked; this program supports ${SUPPORTED_OS_TEXT}" >&2; exit 1; }`,
        `os_id=$(. ${shq(osRelease)}; printf '%s' "\${ID:-}")`,
        `os_version=$(. ${shq(osRelease)}; printf '%s' "\${VERSION_ID:-}")`,
        `os_name=$(. ${shq(osRelease)}; printf '%s' "\${PRETTY_NAME:-\${ID:-unknown}}")`,
        "case \"$os_id\" in",
        ...cases,
        "  *) min='' ;;",
        "esac",
        "if [ -z \"$min\" ] || { [ -n \"$os_version\" ] && ! awk -v have=\"$os_version\" -v min=\"$min\" 'BEGIN { exit !(have + 0 >= min + 0) }'; }; then",
        `  echo "picluster: ${hostname} runs $os_name (${osRelease}: ID=$os_id VERSION_ID=$os_version); this program supports ${SUPPORTED_OS_TEXT}: reflash it with a current Raspberry Pi OS Lite image. Nothing was changed on it." >&2`,
        "  exit 1",
        "fi",
    ];
}

/** Where the hosts-file steps work; tests point them at files of their own. */
export interface HostsPaths {
    readonly hostsFile: string;
    readonly stateDir: string;
}
const HOST_HOSTS: HostsPaths = { hostsFile: "/etc/hosts", stateDir: STATE_DIR };

/**
 * Maps 127.0.1.1 to the new hostname (Debian's convention for the machine's own name), so sudo
 * and other resolvers of the hostname keep working; the original line is kept for the undo.
 */
export function renderHostsLines(hostname: string, at: HostsPaths = HOST_HOSTS): string[] {
    const { hostsFile } = at;
    const saved = `${at.stateDir}/hosts.line`;
    return [
        `hosts_line=$(grep -m 1 -E '^127\\.0\\.1\\.1[[:space:]]' ${shq(hostsFile)} || true)`,
        "case \" $(echo \"$hosts_line\" | tr '\\t' ' ') \" in",
        `  *" "${shq(hostname)}" "*) ;;`,
        "  *)",
        `    if [ ! -e ${shq(saved)} ] && [ ! -e ${shq(saved + ".absent")} ]; then`,
        `      if [ -n "$hosts_line" ]; then printf '%s\\n' "$hosts_line" > ${shq(saved)}; else touch ${shq(saved + ".absent")}; fi`,
        "    fi",
        `    WANT=$(printf '127.0.1.1\\t%s' ${shq(hostname)}) awk '!done && /^127\\.0\\.1\\.1[ \\t]/ { print ENVIRON["WANT"]; done = 1; next } { print } END { if (!done) print ENVIRON["WANT"] }' ${shq(hostsFile)} > ${shq(hostsFile + ".picluster-new")}`,
        `    chmod --reference=${shq(hostsFile)} ${shq(hostsFile + ".picluster-new")}`,
        `    chown --reference=${shq(hostsFile)} ${shq(hostsFile + ".picluster-new")}`,
        `    mv -f ${shq(hostsFile + ".picluster-new")} ${shq(hostsFile)}`,
        `    echo "picluster: ${hostsFile} maps 127.0.1.1 to ${hostname}"`,
        "    ;;",
        "esac",
    ];
}

/** Undoes renderHostsLines: the original 127.0.1.1 line back, or the added one removed. */
export function renderHostsRestoreLines(at: HostsPaths = HOST_HOSTS): string[] {
    const { hostsFile } = at;
    const saved = `${at.stateDir}/hosts.line`;
    return [
        `if [ -e ${shq(saved)} ]; then`,
        `  ORIG=$(cat ${shq(saved)}) awk '!done && /^127\\.0\\.1\\.1[ \\t]/ { print ENVIRON["ORIG"]; done = 1; next } { print }' ${shq(hostsFile)} > ${shq(hostsFile + ".picluster-new")}`,
        "elif [ -e " + shq(saved + ".absent") + " ]; then",
        `  awk '!/^127\\.0\\.1\\.1[ \\t]/' ${shq(hostsFile)} > ${shq(hostsFile + ".picluster-new")}`,
        "fi",
        `if [ -e ${shq(hostsFile + ".picluster-new")} ]; then`,
        `  chmod --reference=${shq(hostsFile)} ${shq(hostsFile + ".picluster-new")}`,
        `  chown --reference=${shq(hostsFile)} ${shq(hostsFile + ".picluster-new")}`,
        `  mv -f ${shq(hostsFile + ".picluster-new")} ${shq(hostsFile)}`,
        `  rm -f ${shq(saved)} ${shq(saved + ".absent")}`,
        `  echo "picluster: restored the 127.0.1.1 line of ${hostsFile}"`,
        "fi",
    ];
}

export interface PrepareInput {
    readonly hostname: string;
    readonly packages: readonly string[];
    /** Reboot when the cgroup flags were added (k3s needs them active). */
    readonly rebootOnCmdlineChange: boolean;
}

/** Pi preparation: OS check, cgroup flags, hostname, packages. Records what it changed. */
export function renderPrepareScript(input: PrepareInput): string {
    const pkgs = input.packages.map(shq).join(" ");
    return script(
        ...renderOsCheckLines(input.hostname),
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
        ...renderHostsLines(input.hostname),
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

/** Undoes renderPrepareScript: cmdline, hostname and its hosts line, and the packages it installed. */
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
        ...renderHostsRestoreLines(),
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

/** Where the presence resource (presence.ts) keeps its marker on the Pi. */
export const PRESENCE_FILE = `${STATE_DIR}/presence`;

/**
 * Claims the Pi: the marker (stdin) is written, then it and /etc/machine-id are printed. The
 * claim is the first thing `up` does on a Pi, so it refuses an unsupported OS first, with the
 * preparation's own check: a refused Pi is left exactly as it was, marker included.
 */
export function renderPresenceClaimScript(input: { hostname: string; path?: string; osRelease?: string }): string {
    const path = input.path ?? PRESENCE_FILE;
    return script(
        ...renderOsCheckLines(input.hostname, input.osRelease),
        "IFS= read -r marker",
        `install -d -m 0700 "$(dirname ${shq(path)})"`,
        `printf '%s\\n' "$marker" > ${shq(path + ".new")}`,
        `mv -f ${shq(path + ".new")} ${shq(path)}`,
        `head -n 1 ${shq(path)}`,
        "cat /etc/machine-id 2>/dev/null || echo",
    );
}

/** Prints the marker ("" when gone), then /etc/machine-id ("" when absent). */
export function renderPresenceReadScript(path = PRESENCE_FILE): string {
    return script(
        `if [ -r ${shq(path)} ]; then head -n 1 ${shq(path)}; else echo; fi`,
        "cat /etc/machine-id 2>/dev/null || echo",
    );
}

/** Removes the marker only when it is the one on stdin (a replacement's marker stays). */
export function renderPresenceReleaseScript(path = PRESENCE_FILE): string {
    return script(
        "IFS= read -r marker",
        `if [ -r ${shq(path)} ] && [ "$(head -n 1 ${shq(path)})" = "$marker" ]; then rm -f ${shq(path)}; fi`,
        `rmdir "$(dirname ${shq(path)})" 2>/dev/null || true`,
    );
}
