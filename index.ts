// Wiring only: read the validated stack settings, build one Pi component per host,
// then the control plane, the load balancer(s) and the agents, and export how to
// reach the cluster. See README.md for the dependency graph.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { loadStackSettings } from "./config";
import { buildCluster } from "./components/cluster";
import { StreamingPlatform } from "./components/streaming";

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

// The video platform, deployed through a Kubernetes provider built from the cluster's
// kubeconfig output, so it waits for the cluster and is destroyed before it.
const streamingSettings = settings.inventory.streaming;
const streaming = streamingSettings.enabled
    ? new StreamingPlatform("streaming", {
        kubeconfig: cluster.kubeconfig,
        settings: streamingSettings,
        // ServiceLB and Traefik answer on every node; the first server is one.
        defaultAddress: settings.inventory.servers[0].address,
        clusterReady: [cluster.servers, cluster.loadBalancer, cluster.agents],
    })
    : undefined;
export const streamingIngestUrl = streaming?.ingestUrl;
export const streamingPlayerUrl = streaming?.playerUrl;
