// Wiring only: read the validated stack settings, build one Pi component per host,
// then the control plane, the load balancer(s) and the agents, and export how to
// reach the cluster. See README.md for the dependency graph.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { loadStackSettings } from "./config";
import { buildCluster } from "./components/cluster";

const settings = loadStackSettings();

const statsPassword = new random.RandomPassword("haproxy-stats-password", { length: 24, special: false });
// keepalived's PASS authentication takes at most 8 characters.
const vrrpPassword = new random.RandomPassword("vrrp-password", { length: 8, special: false });

const cluster = buildCluster({
    inventory: settings.inventory,
    sshPrivateKey: settings.sshPrivateKey,
    statsPassword: statsPassword.result,
    vrrpPassword: vrrpPassword.result,
});

export const apiEndpoint = cluster.apiUrl;
export const kubeconfig = cluster.kubeconfig;
export const nodes = cluster.nodes;
export const haproxyStats = cluster.statsUrls;
export const haproxyStatsPassword = pulumi.secret(statsPassword.result);
