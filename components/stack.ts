// The whole stack from validated settings: the two generated passwords, the cluster, and the
// streaming platform on it. index.ts calls this and exports what it returns; the tests and the
// preview benchmark call it too, so none of them has to copy the wiring.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { StackSettings } from "../config";
import { buildCluster, Cluster } from "./cluster";
import { StreamingPlatform } from "./streaming/platform";
import { etcdSnapshotOnDestroy, snapshotArgs } from "./k3s/snapshots";

export interface StackOutputs {
    readonly cluster: Cluster;
    readonly apiEndpoint: pulumi.Output<string>;
    /** Secret. */
    readonly kubeconfig: pulumi.Output<string>;
    readonly nodes: pulumi.Output<string[]>;
    readonly haproxyStats: string[];
    /** Secret. */
    readonly haproxyStatsPassword: pulumi.Output<string>;
    readonly streamingIngestUrl?: pulumi.Output<string>;
    readonly streamingPlayerUrl?: pulumi.Output<string>;
    /** Per stream, the RTMP URL with its publish key: secret. */
    readonly streamingPublishUrls?: pulumi.Output<Record<string, string>>;
    /** Per stream, the player page playing it. */
    readonly streamingWatchUrls?: pulumi.Output<Record<string, string>>;
    /**
     * The k3s version the cluster runs: known only once every server and agent install has
     * completed, so an `up` that failed halfway leaves the previous value in the stack
     * (config.ts reads it back to refuse a downgrade or a skipped minor version).
     */
    readonly k3sVersion: pulumi.Output<string>;
}

export function buildStack(settings: StackSettings): StackOutputs {
    const statsPassword = new random.RandomPassword("haproxy-stats-password", { length: 24, special: false });
    // keepalived's PASS authentication takes at most 8 characters.
    const vrrpPassword = new random.RandomPassword("vrrp-password", { length: 8, special: false });

    const cluster = buildCluster({
        inventory: settings.inventory,
        sshPrivateKey: settings.sshPrivateKey,
        statsPassword: statsPassword.result,
        vrrpPassword: vrrpPassword.result,
        ...(settings.etcdS3Keys ? { etcdS3Keys: settings.etcdS3Keys } : {}),
    });

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

    // Deleted first on destroy (it depends on every install and the platform): saves an etcd
    // snapshot and copies it to this machine before k3s's uninstall deletes the data.
    const inv = settings.inventory;
    etcdSnapshotOnDestroy("etcd-snapshot", snapshotArgs(inv, settings.sshPrivateKey), { dependsOn: [...cluster.servers.installs, ...cluster.agents.installs, ...(streaming ? [streaming] : [])] });

    return {
        cluster,
        apiEndpoint: cluster.apiUrl,
        kubeconfig: cluster.kubeconfig,
        nodes: cluster.nodes,
        haproxyStats: cluster.statsUrls,
        haproxyStatsPassword: pulumi.secret(statsPassword.result),
        streamingIngestUrl: streaming?.ingestUrl,
        streamingPlayerUrl: streaming?.playerUrl,
        streamingPublishUrls: streaming?.publishUrls,
        streamingWatchUrls: streaming?.watchUrls,
        k3sVersion: pulumi.all([...cluster.servers.installs, ...cluster.agents.installs].map((i) => i.id))
            .apply(() => inv.k3s.version),
    };
}
