// Ports and time limits that more than one part of the program must agree on: the inventory's
// defaults and refusals, the rendered configs and scripts, and the components. One definition
// each, so that a change here reaches every place that uses it.

/** The k3s API (kube-apiserver's https port on every server, and haproxy's frontend). */
export const API_PORT = 6443;
/** The default port of the agent-check that xinetd serves on each server (`loadBalancer.agentCheckPort`). */
export const DEFAULT_AGENT_CHECK_PORT = 9707;
/** haproxy's authenticated stats page on each load balancer. */
export const STATS_PORT = 8404;
/** haproxy's loopback-only listener on each load balancer that keepalived's track script connects to. */
export const HEALTH_PORT = 8405;
/** How long a k3s server (or the token it writes) may take to become ready after its install. */
export const K3S_READY_TIMEOUT_SECONDS = 300;
/**
 * How long a node's rolling upgrade waits for the servers to be upgraded and for an upgrade
 * slot (agents upgrade `k3s.upgrade.maxUnavailable` at a time, so the last waits longest).
 */
export const UPGRADE_WAIT_SECONDS = 3600;
/** How long a Pi may take to answer SSH again after the reboot its preparation scheduled. */
export const REBOOT_TIMEOUT_SECONDS = 300;
/**
 * `loadBalancer.healthCheck`'s defaults, fitted to Pis: HAProxy's check of each server's
 * /readyz every 400 ms, a 1 s timeout, one failure marks it down, two good checks bring it
 * back (the reasoning is in components/loadBalancer/haproxyConfig.ts).
 */
export const DEFAULT_HEALTH_CHECK = { intervalMs: 400, timeoutMs: 1000, fall: 1, rise: 2 } as const;

/**
 * Flags a server's rolling upgrade sets for its agent-check (readable by `nobody`): while
 * `drain` exists the agent answers `drain`, so the load balancers send the server no new
 * connection before k3s restarts; while `ready` exists it prefixes `ready`, which ends
 * HAProxy's drain state (an agent's `up` alone does not). Only the upgrade sets them.
 */
export const LB_FLAGS_DIR = "/var/lib/picluster-lb";
export const LB_DRAIN_FLAG = `${LB_FLAGS_DIR}/drain`;
export const LB_READY_FLAG = `${LB_FLAGS_DIR}/ready`;
