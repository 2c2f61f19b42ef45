// The rolling upgrade: what a re-run of a node's install does when it would change k3s on a
// node that is in the cluster (a new k3s.version, or a config change that restarts k3s).
//
// Pulumi runs it as the install's `update` (the command provider runs `update`, not `create`,
// when an input changes), so the first `up` of a cluster stays as parallel as before and only
// a change of a live node goes through these gates:
// - Servers are updated one at a time: each server's install depends on the one before it,
//   so Pulumi starts the next update only once this one has succeeded. Each is cordoned and
//   drained, upgraded, and must be back (its Node Ready with the new kubeletVersion, its etcd
//   answering through its own apiserver's /readyz/etcd, the API answering through the
//   registration address) before it is uncordoned and the next one goes.
// - Agents start their updates together, but each first waits until every server's Node
//   reports the new version (Kubernetes' skew policy: a kubelet must not be newer than the
//   apiserver), then takes one of `maxUnavailable` upgrade slots: Leases named
//   picluster-upgrade-<n> in kube-system, created atomically (a create of an existing name
//   fails). It drains, upgrades, uncordons and gives the slot back, deleting exactly its own
//   Lease (a delete precondition on its uid).
// - A failure stops the rollout where it is: the failing node records itself in the Lease
//   picluster-upgrade-stopped (and an agent keeps its slot), so every agent still waiting
//   gives up at once, untouched, naming it (later servers never start: each waits for the one
//   before). The next `up` resumes: its waiting agents ignore that earlier stop (they compare
//   the Lease's uid with the one they saw when they began), the failed node takes its own slot
//   back and clears the stop once it is back in service.
// kubectl drain and cordon are Kubernetes' own (k3s ships kubectl as `k3s kubectl`); the
// Lease-as-lock follows client-go's resourcelock (tools/leaderelection/resourcelock/leaselock.go:
// holderIdentity names the holder; creation is the atomic step).
import { shq } from "../shared/bash";
import { LB_DRAIN_FLAG, LB_FLAGS_DIR, LB_READY_FLAG } from "../../inventory/wellKnown";
import { AGENT_INTERVAL_MS } from "../loadBalancer/haproxyConfig";

/** Two agent-check intervals and a second: HAProxy has asked the agent at least once since. */
const AGENT_SETTLE_SECONDS = Math.ceil((2 * AGENT_INTERVAL_MS) / 1000) + 1;

export interface RollingUpgrade {
    readonly nodeName: string;
    /** Agents: how many may be upgrading at once. */
    readonly maxUnavailable: number;
    /** How long `kubectl drain` may take; a node that cannot be drained stays cordoned and un-upgraded. */
    readonly drainTimeoutSeconds: number;
    /** Bound on waiting for the servers (agents) and for a slot. */
    readonly waitSeconds: number;
    /** How long the upgraded node may take to be back. */
    readonly readyTimeoutSeconds: number;
    /** Servers: the registration address, which must answer before the next server goes. */
    readonly apiUrl?: string;
}

export const STOP_LEASE = "picluster-upgrade-stopped";
export const SLOT_LEASE_PREFIX = "picluster-upgrade-";

function leaseManifest(name: string, holderVar: string): string {
    return `printf '%s\\n' 'apiVersion: coordination.k8s.io/v1' 'kind: Lease' 'metadata:' '  name: ${name}' '  namespace: kube-system' 'spec:' "  holderIdentity: ${holderVar}"`;
}

/**
 * Shell functions every rolling step uses. `kc` is kubectl with the node's credentials: a
 * server's own admin kubeconfig, or (agent) the admin kubeconfig it read from stdin.
 */
function helperLines(role: "server" | "agent", r: RollingUpgrade): string[] {
    return [
        `node=${shq(r.nodeName)}`,
        // A server's own API is down while its k3s restarts, and after an upgrade that failed
        // there (when the next up resumes): its kubectl goes through the registration address,
        // with its admin kubeconfig's credentials (that address is in every server's tls-san).
        `kubectl_cmd=(/usr/local/bin/k3s kubectl${role === "agent" ? " --kubeconfig \"$upgrade_kubeconfig\"" : r.apiUrl ? ` --server ${shq(r.apiUrl)}` : ""})`,
        "kc() { timeout 60 \"${kubectl_cmd[@]}\" --request-timeout=20s \"$@\"; }",
        "# On failure once this node's upgrade has begun: record it, so that the rest stays as it is.",
        "mark_stopped() {",
        `  kc -n kube-system delete lease ${STOP_LEASE} --ignore-not-found >/dev/null 2>&1 || true`,
        `  ${leaseManifest(STOP_LEASE, "$node")} | kc create -f - >/dev/null 2>&1 || true`,
        `  echo "picluster: the rolling upgrade stops at $node: it stays cordoned; the nodes not yet upgraded are untouched" >&2`,
        "}",
        "back_in_service() {  # the Node Ready with the wanted kubelet version",
        "  [ \"$(kc get node \"$node\" -o 'jsonpath={.status.nodeInfo.kubeletVersion} {.status.conditions[?(@.type==\"Ready\")].status}' 2>/dev/null)\" = \"$want True\" ]",
        "}",
    ];
}

/** Agents only: the servers run the wanted version, and a slot is ours. Bounded by waitSeconds. */
function agentGateLines(r: RollingUpgrade): string[] {
    const slots = Array.from({ length: r.maxUnavailable }, (_, k) => `${SLOT_LEASE_PREFIX}${k}`).join(" ");
    return [
        "# A node that stopped the rollout in this up: the holder of a stop Lease made since this",
        "# step began, unless that is this node or a node no longer in the cluster. A stop left by an",
        "# earlier up is ignored: its node resumes in this up and clears it once it is back (a new",
        "# failure there makes a new Lease, with a new uid).",
        `stop_lease() { kc -n kube-system get lease ${STOP_LEASE} --ignore-not-found -o 'jsonpath={.metadata.uid} {.spec.holderIdentity}' 2>/dev/null; }`,
        "earlier_stop='?'",
        "for _ in 1 2 3; do if earlier_stop=$(stop_lease); then break; fi; earlier_stop='?'; sleep 2; done",
        "stopped_at() {",
        "  local s h; s=$(stop_lease) || return 1",
        "  { [ -n \"$s\" ] && [ \"$s\" != \"$earlier_stop\" ]; } || return 1",
        "  h=${s#* }",
        "  [ -n \"$h\" ] && [ \"$h\" != \"$node\" ] && [ -n \"$(kc get node \"$h\" --ignore-not-found -o name 2>/dev/null)\" ] && printf '%s' \"$h\"",
        "}",
        "refuse_if_stopped() {",
        "  local h; if h=$(stopped_at); then",
        `    echo "picluster: the rolling upgrade stopped at $h (its upgrade failed): $node was not touched. Fix $h, then run pulumi up again" >&2`,
        "    exit 1",
        "  fi",
        "}",
        `wait_end=$(( $(date +%s) + ${r.waitSeconds} ))`,
        "next_note=0",
        "note() {  # progress, at most every 30 s",
        "  if [ \"$(date +%s)\" -ge \"$next_note\" ]; then echo \"picluster: $node: $1\"; next_note=$(( $(date +%s) + 30 )); fi",
        "}",
        "give_up() {",
        `  echo "picluster: $node: $1 within ${r.waitSeconds}s; $node was not touched: run pulumi up again once the rest is done" >&2`,
        "  exit 1",
        "}",
        "while :; do",
        "  refuse_if_stopped",
        "  # Each server as name=version/unschedulable/Ready: done is $want, schedulable, Ready (uncordoned, so its checks passed).",
        "  behind=$(kc get nodes -l node-role.kubernetes.io/control-plane=true -o 'jsonpath={range .items[*]}{.metadata.name}={.status.nodeInfo.kubeletVersion}/{.spec.unschedulable}/{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}' 2>/dev/null | grep -v -- \"=$want//True\\$\" || true)",
        "  if kc get nodes -l node-role.kubernetes.io/control-plane=true -o name >/dev/null 2>&1 && [ -z \"$behind\" ]; then break; fi",
        "  [ \"$(date +%s)\" -lt \"$wait_end\" ] || give_up \"the servers did not all reach $want ($(printf '%s' \"$behind\" | tr '\\n' ' '))\"",
        "  note \"waiting for every server to run $want first (still: $(printf '%s' \"$behind\" | tr '\\n' ' '))\"",
        "  sleep 3",
        "done",
        "# Deletes exactly the Lease of that uid (the API's delete precondition): a holder giving its",
        "# slot back, or a waiter clearing a finished holder's, never deletes a newer Lease of the same",
        "# name (the 26-Pi lab saw it: a finished holder's delete took the next holder's slot away,",
        "# and four agents were upgrading at once). Gone or newer: nothing to do.",
        "delete_lease() {",
        "  printf '{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"preconditions\":{\"uid\":\"%s\"}}' \"$2\" |",
        "    kc delete --raw \"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/$1\" -f - >/dev/null 2>&1",
        "}",
        "slot='' slot_uid=''",
        "while [ -z \"$slot\" ]; do",
        "  refuse_if_stopped",
        "  busy=''",
        `  for s in ${slots}; do`,
        "    lease=$(kc -n kube-system get lease \"$s\" --ignore-not-found -o 'jsonpath={.spec.holderIdentity} {.metadata.uid}' 2>/dev/null) || { busy=\"$busy ?\"; continue; }",
        "    h=${lease% *} uid=${lease##* }",
        "    if [ -z \"$lease\" ]; then",
        `      if ${leaseManifest("'\"$s\"'", "$node")} | kc create -f - >/dev/null 2>&1; then slot=$s; break; fi`,
        "    elif [ \"$h\" = \"$node\" ]; then slot=$s; break",
        "    else",
        "      # A holder that is gone, or back in service with the wanted version, is done with it.",
        "      st=$(kc get node \"$h\" --ignore-not-found -o 'jsonpath={.status.nodeInfo.kubeletVersion}/{.spec.unschedulable}' 2>/dev/null) || st='?'",
        "      if [ -z \"$st\" ] || [ \"$st\" = \"$want/\" ]; then delete_lease \"$s\" \"$uid\" || true; fi",
        "      busy=\"$busy $h\"",
        "    fi",
        "  done",
        "  if [ -n \"$slot\" ]; then",
        "    # Ours, read back: its uid is what giving it back deletes.",
        "    lease=$(kc -n kube-system get lease \"$slot\" -o 'jsonpath={.spec.holderIdentity} {.metadata.uid}' 2>/dev/null) || lease=''",
        "    if [ \"${lease% *}\" = \"$node\" ]; then slot_uid=${lease##* }; break; fi",
        "    slot=''",
        "  fi",
        `  [ "$(date +%s)" -lt "$wait_end" ] || give_up "no upgrade slot came free (held by$busy; k3s.upgrade.maxUnavailable is ${r.maxUnavailable})"`,
        "  note \"waiting for an upgrade slot (held by$busy)\"",
        "  sleep 2",
        "done",
        "echo \"picluster: $node holds upgrade slot $slot\"",
    ];
}

/** Before the installer runs on a live node: the gates, then cordon and drain. */
export function renderRollingPreLines(role: "server" | "agent", r: RollingUpgrade): string[] {
    return [
        ...helperLines(role, r),
        // Servers go one at a time (each update depends on the one before), so none waits on a stop.
        ...(role === "server" ? [] : agentGateLines(r)),
        "upgrading=yes",
        ...(role === "server" ? [
            "# The load balancers first: the agent-check answers `drain`, so no new connection comes",
            "# here, and those already here finish before k3s restarts.",
            `install -d -m 0755 ${shq(LB_FLAGS_DIR)}`,
            `rm -f ${shq(LB_READY_FLAG)}; touch ${shq(LB_DRAIN_FLAG)}`,
            `echo "picluster: $node: the load balancers send it no new connection (agent-check: drain)"`,
            `sleep ${AGENT_SETTLE_SECONDS}`,
        ] : []),
        `echo "picluster: rolling upgrade of $node: k3s \${have:-?} -> $want; cordon and drain"`,
        "# kubectl drain cordons first.",
        `if ! timeout ${r.drainTimeoutSeconds + 30} "\${kubectl_cmd[@]}" drain "$node" ` +
            `--ignore-daemonsets --delete-emptydir-data --force --timeout=${r.drainTimeoutSeconds}s >/dev/null; then`,
        `  echo "picluster: $node could not be drained within ${r.drainTimeoutSeconds}s (a PodDisruptionBudget, or a pod that will not stop?); nothing was upgraded" >&2`,
        "  exit 1",
        "fi",
    ];
}

/** After the installer: back in service (and for a server, etcd and the API), uncordon, free the slot. */
export function renderRollingPostLines(role: "server" | "agent", r: RollingUpgrade): string[] {
    const what = role === "server" ? "Node Ready, /readyz/etcd, the API at the registration address" : "Node Ready";
    return [
        role === "server" && r.apiUrl
            // Its own etcd through its own apiserver, then the API through the registration address.
            ? `back() { back_in_service && [ "$(timeout 30 /usr/local/bin/k3s kubectl --request-timeout=20s get --raw=/readyz/etcd 2>/dev/null)" = ok ] && [ "$(kc get --raw=/readyz 2>/dev/null)" = ok ]; }`
            : "back() { back_in_service; }",
        `back_end=$(( $(date +%s) + ${r.readyTimeoutSeconds} ))`,
        "until back; do",
        "  if [ \"$(date +%s)\" -ge \"$back_end\" ]; then",
        `    echo "picluster: $node did not come back with $want within ${r.readyTimeoutSeconds}s (${what})" >&2`,
        "    exit 1",
        "  fi",
        "  sleep 2",
        "done",
        "kc uncordon \"$node\" >/dev/null",
        ...(role === "server" ? [
            "# Back behind the load balancers: `ready` ends HAProxy's drain state.",
            `touch ${shq(LB_READY_FLAG)}; rm -f ${shq(LB_DRAIN_FLAG)}`,
            `sleep ${AGENT_SETTLE_SECONDS}`,
            `rm -f ${shq(LB_READY_FLAG)}`,
        ] : []),
        ...(role === "agent" ? ["delete_lease \"$slot\" \"$slot_uid\" || echo \"picluster: $node: upgrade slot $slot was cleared already (a waiter saw it done)\""] : []),
        `if [ "$(kc -n kube-system get lease ${STOP_LEASE} --ignore-not-found -o 'jsonpath={.spec.holderIdentity}' 2>/dev/null)" = "$node" ]; then kc -n kube-system delete lease ${STOP_LEASE} >/dev/null; fi`,
        "upgrading=''",
        "echo \"picluster: $node runs $want and is back in service\"",
    ];
}
