// The k3s scripts: install or reconfigure a node from its config.yaml, uninstall it, read the
// join token and the kubeconfig back from the first server, list and drain nodes.
import { script, shq, STATE_DIR, writeFile } from "../shared/bash";
import { K3S_CONFIG_PATH, K3S_S3_KEYS_FILE, K3S_TOKEN_FILE } from "./nodeConfig";
import { renderPlaceAirgapLines, StagedAirgap } from "./airgap";
import { LB_FLAGS_DIR } from "../../inventory/wellKnown";
import { renderRollingPostLines, renderRollingPreLines, RollingUpgrade } from "./rollingUpgrade";

export interface K3sInstallInput {
    readonly role: "server" | "agent";
    readonly version: string;
    /** https URL of install.sh, or an absolute path on the Pi (air-gapped install). */
    readonly installScript: string;
    /** The air-gap artifacts staged on the Pi: then the installer never downloads. */
    readonly airgap?: StagedAirgap;
    readonly configYaml: string;
    /** Joiners read the join token from stdin; the first server creates it. */
    readonly tokenOnStdin: boolean;
    /**
     * Servers with S3 snapshots (k3s.etcdSnapshots.s3): the S3 access key and secret key follow
     * on stdin, one line each (after the token), into K3S_S3_KEYS_FILE. Without them a server's
     * install removes that file, so turning S3 off leaves no keys on the Pi.
     */
    readonly s3KeysOnStdin?: boolean;
    /**
     * Joiners: the registration address. The install waits until its supervisor answers
     * /ping (k3s pkg/server/router.go), so a join never starts while no server behind the
     * load balancer is up (a joining k3s server exits when it cannot reach it). Agents also
     * get it as K3S_URL; servers read theirs from config.yaml.
     */
    readonly serverUrl?: string;
    readonly readyTimeoutSeconds: number;
    /**
     * The install's `update` (a live node whose k3s would change): rolling-upgrade gates around
     * the installer (rollingUpgrade.ts). An agent then reads the admin kubeconfig from stdin,
     * after the token line.
     */
    readonly rolling?: RollingUpgrade;
}

/** Where the checks below look; tests point them at files of their own. */
export interface CgroupPaths {
    readonly cgroupRoot: string;
    readonly selfCgroup: string;
    readonly cmdline: string;
}
const HOST_CGROUPS: CgroupPaths = { cgroupRoot: "/sys/fs/cgroup", selfCgroup: "/proc/self/cgroup", cmdline: "/proc/cmdline" };

/**
 * Refuses to install k3s on a kernel without the cgroups k3s needs, with the reason instead of
 * k3s's later "API not ready". Follows k3s's own check (pkg/cgroups/cgroups_linux.go, Validate):
 * on the unified hierarchy (cgroup2 mounted at /sys/fs/cgroup, which then holds cgroup.controllers)
 * the root controllers must include cpu, cpuset and memory; on v1 or hybrid, /proc/self/cgroup
 * must list memory. On Raspberry Pi kernels the cmdline flags have been seen not to take effect
 * (raspberrypi/linux#5933, #6980), so the running kernel's /proc/cmdline is shown.
 */
export function renderCgroupCheckLines(paths: CgroupPaths = HOST_CGROUPS): string[] {
    const controllers = `${paths.cgroupRoot}/cgroup.controllers`;
    return [
        "missing_cgroups=''",
        `if [ -f ${shq(controllers)} ]; then`,
        `  have_cgroups=" $(cat ${shq(controllers)}) "`,
        "  for c in cpu cpuset memory; do",
        "    case \"$have_cgroups\" in *\" $c \"*) ;; *) missing_cgroups=\"$missing_cgroups $c\" ;; esac",
        "  done",
        `elif ! grep -q memory ${shq(paths.selfCgroup)}; then`,
        "  missing_cgroups=' memory'",
        "fi",
        "if [ -n \"$missing_cgroups\" ]; then",
        `  echo "picluster: k3s cannot run on $(hostname): the kernel has no\${missing_cgroups} cgroup (k3s would fail with \\"failed to find memory cgroup\\"). The running kernel's command line (${paths.cmdline}) is: $(cat ${shq(paths.cmdline)} 2>/dev/null). It needs cgroup_memory=1 cgroup_enable=memory: check that they are on the single line of the cmdline.txt the firmware reads (/boot/firmware/cmdline.txt on Bookworm) and reboot; some Pi kernels ignore them (raspberrypi/linux#5933)." >&2`,
        "  exit 1",
        "fi",
    ];
}

/** Installs (or reconfigures) k3s from a rendered config.yaml. Safe to re-run. */
export function renderK3sInstallScript(input: K3sInstallInput): string {
    const service = input.role === "server" ? "k3s" : "k3s-agent";
    const rolling = input.rolling;
    const fetch = input.installScript.startsWith("https://")
        ? [
            "installer=$(mktemp)",
            rolling ? "installer_tmp=$installer" : "trap 'rm -f \"$installer\"' EXIT",
            `timeout 300 curl -sfL --retry 3 -o "$installer" ${shq(input.installScript)}`,
        ]
        : [
            `installer=${shq(input.installScript)}`,
            `[ -f "$installer" ] || { echo "picluster: air-gapped install script $installer is missing on $(hostname)" >&2; exit 1; }`,
        ];
    const airgap = input.airgap ? [
        ...renderPlaceAirgapLines(input.airgap),
        "# k3s's installer then checks that the binary is there and downloads nothing.",
        "export INSTALL_K3S_SKIP_DOWNLOAD=true",
    ] : [];
    const indent = (lines: string[], by = "  ") => lines.map((l) => by + l);
    return script(
        ...(rolling ? [
            "upgrading='' installer_tmp='' upgrade_kubeconfig=''",
            "# A failure once this node's upgrade has begun stops the rollout here (mark_stopped).",
            "on_exit() {",
            "  local rc=$?",
            "  if [ \"$rc\" -ne 0 ] && [ -n \"$upgrading\" ]; then mark_stopped; fi",
            "  rm -f \"$installer_tmp\" \"$upgrade_kubeconfig\"",
            "}",
            "trap on_exit EXIT",
        ] : []),
        ...renderCgroupCheckLines(),
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
        ...(input.role === "server" ? renderS3KeysLines(input.s3KeysOnStdin ?? false) : []),
        ...(rolling && input.role === "agent" ? [
            "# The admin kubeconfig (the registration address), for the drain and the upgrade slot; removed on exit.",
            "upgrade_kubeconfig=$(mktemp)",
            "cat > \"$upgrade_kubeconfig\"",
        ] : []),
        ...writeFile(K3S_CONFIG_PATH, input.configYaml, "0600"),
        `want=${shq(input.version)}`,
        "have=$(/usr/local/bin/k3s --version 2>/dev/null | head -n 1 | cut -d' ' -f3 || true)",
        "# Written only once k3s is up with this version and config: an install that was",
        "# interrupted (or a config that changed) runs the installer again.",
        // With S3 keys, their file counts too: new keys restart k3s (one server at a time).
        `done_marker="$want $(sha256sum ${shq(K3S_CONFIG_PATH)} | cut -d' ' -f1)${input.s3KeysOnStdin ? ` $(sha256sum ${shq(K3S_S3_KEYS_FILE)} | cut -d' ' -f1)` : ""}${input.airgap ? " " + input.airgap.binary.sha256 : ""}"`,
        `if [ "$have" = "$want" ] && [ -x /usr/local/bin/${service}-uninstall.sh ] && [ "$(cat ${shq(k3sMarker(service))} 2>/dev/null)" = "$done_marker" ]; then`,
        `  echo "picluster: k3s $want already installed with this config on $(hostname)"`,
        "else",
        ...(rolling ? [
            `  if [ -n "$have" ] && [ -x /usr/local/bin/${service}-uninstall.sh ]; then`,
            ...indent(renderRollingPreLines(input.role, rolling), "    "),
            "  fi",
        ] : []),
        ...fetch.map((l) => "  " + l),
        ...airgap.map((l) => "  " + l),
        ...(input.serverUrl ? renderAwaitRegistrationLines(input.serverUrl, input.readyTimeoutSeconds).map((l) => "  " + l) : []),
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
        ...(rolling ? ["if [ -n \"$upgrading\" ]; then", ...indent(renderRollingPostLines(input.role, rolling)), "fi"] : []),
        `install -d -m 0700 ${shq(STATE_DIR)}`,
        `printf '%s\\n' "$done_marker" > ${shq(k3sMarker(service))}`,
        `echo "picluster: k3s ${input.role} ready on $(hostname)"`,
    );
}

/**
 * The S3 keys from stdin into a root-only drop-in, quoted as YAML single-quoted scalars (a quote
 * doubled) with shell builtins only, so no process ever has them in its arguments; or, without
 * S3, the drop-in removed.
 */
export function renderS3KeysLines(onStdin: boolean, file = K3S_S3_KEYS_FILE): string[] {
    if (!onStdin) return [`rm -f ${shq(file)}`];
    const dir = file.slice(0, file.lastIndexOf("/"));
    return [
        "IFS= read -r s3_access_key || true",
        "IFS= read -r s3_secret_key || true",
        "if [ -z \"$s3_access_key\" ] || [ -z \"$s3_secret_key\" ]; then",
        "  echo 'picluster: the S3 keys (picluster:etcdS3AccessKey, picluster:etcdS3SecretKey) did not arrive on stdin' >&2",
        "  exit 1",
        "fi",
        "sq=\"'\"",
        `install -d -m 0700 ${shq(dir)}`,
        `( umask 077; printf 'etcd-s3-access-key: %s\\netcd-s3-secret-key: %s\\n' "$sq\${s3_access_key//$sq/$sq$sq}$sq" "$sq\${s3_secret_key//$sq/$sq$sq}$sq" > ${shq(file + ".picluster-new")} )`,
        `mv -f ${shq(file + ".picluster-new")} ${shq(file)}`,
    ];
}

/** Waits (bounded) until the registration address answers k3s's unauthenticated /ping. */
function renderAwaitRegistrationLines(serverUrl: string, timeoutSeconds: number): string[] {
    const ping = shq(serverUrl.replace(/\/$/, "") + "/ping");
    return [
        `deadline=$(( $(date +%s) + ${timeoutSeconds} ))`,
        `until [ "$(curl -sk --max-time 5 ${ping} 2>/dev/null)" = pong ]; do`,
        "  if [ \"$(date +%s)\" -ge \"$deadline\" ]; then",
        `    echo "picluster: no k3s server answered at ${serverUrl} within ${timeoutSeconds}s (the load balancer has no server up?)" >&2`,
        "    exit 1",
        "  fi",
        "  sleep 2",
        "done",
    ];
}

function k3sMarker(service: string): string {
    return `${STATE_DIR}/${service}.installed`;
}

/**
 * Removes k3s from a node. A server first leaves etcd the way k3s removes members: it asks the
 * cluster (through the registration address, so never only its own API) to remove its member with
 * the `etcd.k3s.cattle.io/remove` annotation, which k3s's member controller on the elected leader
 * acts on (k3s pkg/etcd/member_controller.go: it sets `removed-node-name` once the member is
 * gone). Then k3s is stopped at once: k3s exits when its member is removed and systemd restarts it
 * 5 s later, and a restart after the removal wipes its data and rejoins as a new member. Only then
 * is the Node deleted and k3s uninstalled. k3s keeps running until the removal is committed, so
 * the remaining members keep quorum even when going from two to one. The last etcd server does
 * not leave (there is nothing to leave); a member still there after the wait fails the delete.
 */
export function renderK3sUninstallScript(input: { role: "server" | "agent"; nodeName: string; apiUrl?: string }): string {
    const uninstall = input.role === "server" ? "/usr/local/bin/k3s-uninstall.sh" : "/usr/local/bin/k3s-agent-uninstall.sh";
    return script(
        ...(input.role === "server" && input.apiUrl ? renderLeaveEtcdLines(input.nodeName, input.apiUrl) : []),
        `if [ -x ${uninstall} ]; then timeout 300 ${uninstall}; fi`,
        `rm -f ${shq(K3S_CONFIG_PATH)} ${shq(K3S_TOKEN_FILE)}${input.role === "server" ? " " + shq(K3S_S3_KEYS_FILE) : ""}`,
        `rm -f ${shq(k3sMarker(input.role === "server" ? "k3s" : "k3s-agent"))}`,
        ...(input.role === "server" ? [`rm -rf ${shq(LB_FLAGS_DIR)}`] : []),
        "# k3s's own uninstall leaves the node password and /var/lib/rancher behind.",
        "rm -rf /etc/rancher/node",
        "rmdir /etc/rancher/k3s /etc/rancher /var/lib/rancher 2>/dev/null || true",
        `echo "picluster: k3s removed from $(hostname)"`,
    );
}

/** Where k3s marks a server whose etcd member was removed (k3s pkg/etcd/etcd.go: DBDir + "tombstone"). */
const ETCD_TOMBSTONE = "/var/lib/rancher/k3s/server/db/etcd/tombstone";

/** The Node annotations of k3s's etcd controllers: removed-node-name (pkg/etcd/member_controller.go removedNodeNameAnnotation) and the member name (set by pkg/etcd/metadata_controller.go). */
const REMOVED_NODE_NAME = "'jsonpath={.metadata.annotations.etcd\\.k3s\\.cattle\\.io/removed-node-name}'";
const MEMBER_NODE_NAME = "'jsonpath={.metadata.annotations.etcd\\.k3s\\.cattle\\.io/node-name}'";

/** `kubectl_at SERVER ARGS...`: k3s's kubectl, bounded, at SERVER ("" = this server's own API). */
const KUBECTL_AT_FN = "kubectl_at() { local server=$1; shift; timeout 20 /usr/local/bin/k3s kubectl ${server:+--server \"$server\"} --request-timeout=10s \"$@\"; }";

/** Asks k3s's member controller to remove NODE's etcd member (the remove annotation), retried for 60 s; needs $api. */
function renderMarkForRemovalLines(kubectl: string, nodeName: string): string[] {
    return [
        "deadline=$(( $(date +%s) + 60 ))",
        `until ${kubectl} annotate node ${shq(nodeName)} etcd.k3s.cattle.io/remove=true --overwrite >/dev/null; do`,
        `  [ "$(date +%s)" -lt "$deadline" ] || { echo "picluster: could not mark the etcd member of ${nodeName} for removal within 60s (API: $api)" >&2; exit 1; }`,
        "  sleep 2",
        "done",
    ];
}

/** Deletes NODE's Node object, retried: the API may be briefly away (a server restarting, a failover). */
function renderDeleteNodeLines(kubectl: string, nodeName: string): string[] {
    return [
        "for attempt in 1 2 3 4 5; do",
        `  if ${kubectl} delete node ${shq(nodeName)} --ignore-not-found --timeout=60s >/dev/null; then break; fi`,
        `  [ "$attempt" -lt 5 ] || { echo "picluster: could not delete node ${nodeName} after 5 attempts" >&2; exit 1; }`,
        "  sleep 5",
        "done",
    ];
}

const indent = (by: string, lines: string[]) => lines.map((l) => by + l);

/** Seconds the leave waits for k3s to report the member removed. */
export const MEMBER_REMOVAL_TIMEOUT_SECONDS = 120;

function renderLeaveEtcdLines(nodeName: string, apiUrl: string): string[] {
    const n = shq(nodeName);
    const removed = REMOVED_NODE_NAME;
    const member = MEMBER_NODE_NAME;
    return [
        KUBECTL_AT_FN,
        `api=${shq(apiUrl)}`,
        "vip() { kubectl_at \"$api\" \"$@\"; }",
        "if [ -x /usr/local/bin/k3s ] && [ -s /etc/rancher/k3s/k3s.yaml ]; then",
        "  # The other etcd servers: asked of the local API first, else through the registration address.",
        "  etcd_nodes=''",
        "  asked=no",
        "  for attempt in 1 2 3 4 5 6; do",
        "    for server in '' \"$api\"; do",
        "      if etcd_nodes=$(kubectl_at \"$server\" get nodes -l node-role.kubernetes.io/etcd -o 'jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}' 2>/dev/null); then asked=yes; break 2; fi",
        "    done",
        "    sleep 5",
        "  done",
        `  others=$(printf '%s\\n' "$etcd_nodes" | grep -vx -- ${n} | grep -c . || true)`,
        "  if [ \"$asked\" = no ]; then",
        `    echo "picluster: warning: no Kubernetes API answered (here or at $api): uninstalling ${nodeName} without leaving etcd" >&2`,
        "  elif [ \"$others\" -eq 0 ]; then",
        `    echo "picluster: ${nodeName} is the last etcd server: nothing to leave"`,
        "  else",
        `    echo "picluster: ${nodeName} leaves etcd: asking the cluster to remove its member ($others other etcd servers remain)"`,
        ...indent("    ", renderMarkForRemovalLines("vip", nodeName)),
        "    # k3s writes a tombstone and exits once its own etcd says the member is gone; systemd",
        "    # starts it again 5 s later, and that start would wipe its data and rejoin as a new member",
        "    # (k3s pkg/etcd/etcd.go Register). The leader may be this very server: its API cannot",
        "    # report the removal until another server takes over the lease (15 s), so a watch on the",
        "    # tombstone, not the API, stops k3s in time.",
        `    tombstone=${shq(ETCD_TOMBSTONE)}`,
        "    (",
        `      end=$(( $(date +%s) + ${MEMBER_REMOVAL_TIMEOUT_SECONDS} + 10 ))`,
        `      while [ "$(date +%s)" -lt "$end" ]; do`,
        `        if [ -e "$tombstone" ]; then`,
        `          echo "picluster: k3s on ${nodeName} found its etcd member removed: stopping it before systemd starts it again"`,
        `          timeout 120 systemctl stop k3s || true`,
        `          exit 0`,
        `        fi`,
        `        sleep 0.2`,
        `      done`,
        `    ) &`,
        `    tombstone_watch=$!`,
        `    trap 'kill "$tombstone_watch" 2>/dev/null || true' EXIT`,
        `    deadline=$(( $(date +%s) + ${MEMBER_REMOVAL_TIMEOUT_SECONDS} ))`,
        `    until [ -n "$(vip get node ${n} -o ${removed} 2>/dev/null)" ]; do`,
        `      if [ "$(date +%s)" -ge "$deadline" ]; then`,
        `        echo "picluster: the etcd member of ${nodeName} is still in the cluster after ${MEMBER_REMOVAL_TIMEOUT_SECONDS}s (k3s's member controller did not set etcd.k3s.cattle.io/removed-node-name); k3s stays installed on ${nodeName}: check the leader's k3s log, then run this again" >&2`,
        `        exit 1`,
        `      fi`,
        `      sleep 0.5`,
        `    done`,
        `    # At once: a restart after the removal would rejoin as a new member.`,
        `    kill "$tombstone_watch" 2>/dev/null || true`,
        `    wait "$tombstone_watch" 2>/dev/null || true`,
        `    timeout 120 systemctl stop k3s`,
        `    if [ -n "$(vip get node ${n} -o ${member} 2>/dev/null)" ]; then`,
        `      echo "picluster: ${nodeName} rejoined etcd as a new member before k3s could be stopped; k3s is stopped now: run this again to remove that member" >&2`,
        "      exit 1",
        "    fi",
        `    echo "picluster: the cluster removed the etcd member of ${nodeName} ($(vip get node ${n} -o ${removed}))"`,
        ...indent("    ", renderDeleteNodeLines("vip", nodeName)),
        "  fi",
        "fi",
    ];
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

/**
 * Runs on a server: lists, one per line, the inventory's nodes that the cluster has. It asks
 * through the registration address (in the servers' tls-san), so it answers while this
 * server's own k3s is down. Only the inventory's names: a Pi dropped from the inventory loses
 * its Node in the delete phase, after this runs in the same up, and the list is re-read only
 * when the inventory changes, so listing it would leave it in the output for good. A Node the
 * inventory does not name is reported on stderr instead.
 */
export function renderListNodesScript(apiUrl: string, inventoryNames: readonly string[]): string {
    return script(
        `listed=$(timeout 60 /usr/local/bin/k3s kubectl --server ${shq(apiUrl)} get nodes -o 'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}')`,
        `wanted=(${inventoryNames.map(shq).join(" ")})`,
        'for n in "${wanted[@]}"; do',
        '  if grep -qxF -- "$n" <<<"$listed"; then echo "$n"; fi',
        "done",
        "while read -r n; do",
        '  [ -n "$n" ] || continue',
        '  case " ${wanted[*]} " in *" $n "*) ;; *) echo "picluster: Node $n is in the cluster but not in the inventory (a Pi dropped by this up loses it after this list)" >&2 ;; esac',
        'done <<<"$listed"',
    );
}

/** The drain resource's create step: it only says what its delete will do (from the first server). */
export function renderDrainNoticeScript(nodeName: string): string {
    return `echo 'picluster: ${nodeName} will be drained from here when it is removed'`;
}

/** Runs on a server when an agent is removed: drain it, then delete its Node. */
export function renderDrainScript(nodeName: string): string {
    const n = shq(nodeName);
    return script(
        "if [ ! -x /usr/local/bin/k3s ]; then",
        `  echo "picluster: k3s is gone from $(hostname); nothing to drain for ${nodeName}"`,
        "  exit 0",
        "fi",
        `ready=$(timeout 30 /usr/local/bin/k3s kubectl get node ${n} --ignore-not-found -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' || echo unknown)`,
        "# A Node that no longer reports (a dead or reflashed Pi) cannot evict anything: its drain",
        "# would only wait out its timeout. Its pods are rescheduled when the Node is deleted.",
        "if [ \"$ready\" = True ]; then",
        `  timeout 150 /usr/local/bin/k3s kubectl drain ${n} --ignore-daemonsets --delete-emptydir-data --force --timeout=120s \\`,
        `    || echo "picluster: warning: drain of ${nodeName} did not finish; deleting it anyway" >&2`,
        "else",
        `  echo "picluster: ${nodeName} is not Ready (\${ready:-no Node}): not draining it, only deleting its Node"`,
        "fi",
        "# The API may be briefly away (a server restarting, the load balancer failing over):",
        "# retry within a bound, and fail rather than leave a Node behind.",
        ...renderDeleteNodeLines("timeout 90 /usr/local/bin/k3s kubectl", nodeName),
        `echo "picluster: ${nodeName} drained and removed from the cluster"`,
    );
}


/** How long forgetting a Node waits for it to stop reporting Ready (the controller-manager's grace is 40-50 s). */
export const FORGET_NOT_READY_WAIT_SECONDS = 90;

/**
 * Runs on the first server when a Pi's resources are (re)created: if the cluster still has a
 * Node of that name from an earlier life of the Pi (it was reflashed: presence.ts), the old
 * Node is forgotten before the Pi joins again: its etcd member removed the k3s way (a server:
 * the `etcd.k3s.cattle.io/remove` annotation, acted on by the member controller on the leader,
 * k3s pkg/etcd/member_controller.go), the Node deleted, and its node-password Secret gone (a
 * reflashed Pi has a new node password and would be refused with "Node password rejected",
 * k3s-io/k3s#802). A Node that still reports Ready is a live Pi, not a reflashed one: it is left
 * alone (its install's own delete removes it properly when it moves).
 */
export function renderForgetNodeScript(input: { nodeName: string; etcdMember: boolean; apiUrl: string }): string {
    const n = shq(input.nodeName);
    const name = input.nodeName;
    const removed = REMOVED_NODE_NAME;
    const member = MEMBER_NODE_NAME;
    return script(
        KUBECTL_AT_FN,
        `api=${shq(input.apiUrl)}`,
        "# This server's own API first, else the registration address.",
        "k() { kubectl_at '' \"$@\" 2>/dev/null || kubectl_at \"$api\" \"$@\"; }",
        "if [ ! -x /usr/local/bin/k3s ]; then",
        `  echo "picluster: no k3s on $(hostname) yet: ${name} has no old Node to forget"`,
        "  exit 0",
        "fi",
        "asked=no",
        "for attempt in 1 2 3 4 5 6; do",
        `  if found=$(k get node ${n} --ignore-not-found -o name); then asked=yes; break; fi`,
        "  sleep 5",
        "done",
        `[ "$asked" = yes ] || { echo "picluster: no Kubernetes API answered (here or at $api): cannot tell whether ${name} has an old Node to forget" >&2; exit 1; }`,
        "if [ -z \"$found\" ]; then",
        `  echo "picluster: ${name} has no Node in the cluster: nothing to forget"`,
        "  exit 0",
        "fi",
        `ready() { k get node ${n} -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' || echo unknown; }`,
        `deadline=$(( $(date +%s) + ${FORGET_NOT_READY_WAIT_SECONDS} ))`,
        `echo "picluster: ${name} has a Node from before; waiting up to ${FORGET_NOT_READY_WAIT_SECONDS}s for it to stop reporting Ready"`,
        "while [ \"$(ready)\" = True ]; do",
        "  if [ \"$(date +%s)\" -ge \"$deadline\" ]; then",
        `    echo "picluster: ${name}'s Node still reports Ready after ${FORGET_NOT_READY_WAIT_SECONDS}s: it is a live k3s, not a reflashed Pi, so it stays"`,
        "    exit 0",
        "  fi",
        "  sleep 2",
        "done",
        `echo "picluster: ${name}'s old Node no longer reports (Ready=$(ready)): forgetting it"`,
        ...(input.etcdMember ? [
            `if [ -n "$(k get node ${n} -o ${member})" ] && [ -z "$(k get node ${n} -o ${removed})" ]; then`,
            `  echo "picluster: asking the cluster to remove ${name}'s old etcd member"`,
            ...indent("  ", renderMarkForRemovalLines("k", name)),
            `  deadline=$(( $(date +%s) + ${MEMBER_REMOVAL_TIMEOUT_SECONDS} ))`,
            `  until [ -n "$(k get node ${n} -o ${removed} 2>/dev/null)" ]; do`,
            `    if [ "$(date +%s)" -ge "$deadline" ]; then`,
            `      echo "picluster: ${name}'s old etcd member is still in the cluster after ${MEMBER_REMOVAL_TIMEOUT_SECONDS}s (k3s's member controller did not set etcd.k3s.cattle.io/removed-node-name); check the leader's k3s log, then run this again" >&2`,
            "      exit 1",
            "    fi",
            "    sleep 0.5",
            "  done",
            `  echo "picluster: the cluster removed ${name}'s old etcd member ($(k get node ${n} -o ${removed}))"`,
            "fi",
        ] : []),
        ...renderDeleteNodeLines("k", name),
        "# k3s deletes the node-password Secret with the Node; make sure before the Pi joins again.",
        `k -n kube-system delete secret ${shq(`${name}.node-password.k3s`)} --ignore-not-found >/dev/null`,
        `echo "picluster: forgot ${name}'s old Node${input.etcdMember ? " and etcd member" : ""}; it joins as new"`,
    );
}

/** The forget resource's delete: nothing (the install's delete leaves the cluster properly). */
export function renderForgetDeleteNotice(nodeName: string): string {
    return `echo 'picluster: nothing to forget for ${nodeName} on removal (its uninstall left the cluster)'`;
}
