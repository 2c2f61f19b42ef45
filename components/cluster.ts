// Builds the whole cluster from a validated inventory. Kept apart from index.ts so the
// unit tests can build it under mocks with any inventory.
import * as pulumi from "@pulumi/pulumi";
import { remoteCommand } from "./shared/command";
import { Inventory, Role } from "../inventory/schema";
import { API_PORT, STATS_PORT } from "../inventory/wellKnown";
import { asRoot } from "./shared/bash";
import { Pi } from "./pi/pi";
import { ServerGroup } from "./k3s/serverGroup";
import { AgentPool } from "./k3s/agentPool";
import { renderListNodesScript } from "./k3s/scripts";
import { LoadBalancer } from "./loadBalancer/loadBalancer";
import { etcdSnapshotBeforeUpgrade, snapshotArgs } from "./k3s/snapshots";

/** What each role needs installed; k3s itself comes from its install script. */
export const PACKAGES_BY_ROLE: Record<Role, readonly string[]> = {
    // openssl: the agent-check's client certificate is made on each server (loadBalancer/agentCheck.ts).
    server: ["curl", "xinetd", "openssl"],
    agent: ["curl"],
    loadbalancer: ["haproxy", "keepalived"],
};

/**
 * Why a reflashed first server is not rebuilt: its install initialises etcd (--cluster-init), so
 * rebuilding it would start a second, empty cluster beside the running one.
 */
export const FIRST_SERVER_REBUILD_REFUSAL = (name: string) =>
    `${name} is the first server, which initialised the cluster's etcd; rebuilding it would start a new, empty cluster, ` +
    "so the program refuses to (nothing on it was changed). Put its old SD card back; the README's \"A reflashed Pi\" says what is not built yet.";

export interface ClusterArgs {
    readonly inventory: Inventory;
    readonly sshPrivateKey: pulumi.Input<string>;
    readonly statsPassword: pulumi.Input<string>;
    readonly vrrpPassword: pulumi.Input<string>;
    /** With k3s.etcdSnapshots.s3: the S3 store's keys, a secret. */
    readonly etcdS3Keys?: pulumi.Output<{ accessKey: string; secretKey: string }>;
}

export interface Cluster {
    readonly servers: ServerGroup;
    readonly loadBalancer: LoadBalancer;
    readonly agents: AgentPool;
    readonly apiUrl: pulumi.Output<string>;
    /** k3s.yaml rewritten to the load-balanced endpoint; secret. */
    readonly kubeconfig: pulumi.Output<string>;
    readonly nodes: pulumi.Output<string[]>;
    readonly statsUrls: string[];
}

export function rewriteKubeconfig(k3sYaml: string, apiUrl: string): string {
    return k3sYaml.replace(new RegExp(`server: https://(127\\.0\\.0\\.1|localhost|\\[::1\\]):${API_PORT}`, "g"), `server: ${apiUrl}`);
}

export function buildCluster(args: ClusterArgs): Cluster {
    const inv = args.inventory;
    const pis = new Map<string, Pi>();
    for (const host of inv.hosts) {
        pis.set(host.name, new Pi(host.name, {
            host, ssh: inv.ssh, privateKey: args.sshPrivateKey, packages: PACKAGES_BY_ROLE[host.role],
            ...(host.name === inv.servers[0]?.name ? { refuseRebuild: FIRST_SERVER_REBUILD_REFUSAL(host.name) } : {}),
        }));
    }
    const pick = (names: readonly { name: string }[]) => names.map((h) => pis.get(h.name) as Pi);
    const tlsSans = [...inv.loadBalancers.map((h) => h.address), ...(inv.vip ? [inv.vip] : [])];

    // The load balancers come first: the joining servers register through them. Their
    // per-server agent certificate waits for that server's install, which exists once the
    // server group is built below: handed over as promises that it then fulfils.
    const installFulfilers: ((install: pulumi.Resource) => void)[] = [];
    const serverInstalls = inv.servers.map(() => new Promise<pulumi.Resource>((resolve) => installFulfilers.push(resolve)));
    const loadBalancer = new LoadBalancer("api-lb", {
        balancers: pick(inv.loadBalancers), servers: pick(inv.servers), serverInstalls,
        settings: inv.loadBalancer, vip: inv.vip,
        statsPassword: args.statsPassword, vrrpPassword: args.vrrpPassword,
    });
    // A change of the k3s settings first saves an etcd snapshot and copies it off the Pis; the
    // rolling upgrade (the installs' updates) starts only then. The Pis are prepared first, so a
    // new cluster's check (no k3s anywhere yet) never meets a Pi that is rebooting.
    const snapshotBeforeUpgrade = etcdSnapshotBeforeUpgrade("etcd-snapshot-before-upgrade", {
        ...snapshotArgs(inv, args.sshPrivateKey),
        upgradeTriggers: [JSON.stringify(inv.k3s)],
    }, { dependsOn: pick(inv.servers).map((p) => p.ready) });
    const servers = new ServerGroup("control-plane", {
        servers: pick(inv.servers), k3s: inv.k3s, tlsSans,
        joinAddress: `https://${inv.apiAddress}:${API_PORT}`, joinUrl: loadBalancer.apiUrl,
        beforeInstalls: [snapshotBeforeUpgrade],
        ...(args.etcdS3Keys ? { etcdS3Keys: args.etcdS3Keys } : {}),
    });
    servers.installs.forEach((install, i) => installFulfilers[i](install));
    // Agents join through the LB once it is configured (the URL is data from the LB)
    // and once the first server is up (the token is data read back from it); they do
    // not wait for the other servers, which join one by one meanwhile.
    const apiUrl = loadBalancer.apiUrl;
    const kubeconfig = pulumi.secret(pulumi.all([servers.kubeconfig, apiUrl]).apply(([k, url]) => rewriteKubeconfig(k, url)));
    const agents = new AgentPool("agents", {
        agents: pick(inv.agents), k3sVersion: inv.k3s.version, installScript: inv.k3s.installScript, airgap: inv.k3s.airgap,
        token: servers.token, serverUrl: apiUrl, controlNode: servers.first, controlPlane: servers.installs,
        adminKubeconfig: kubeconfig, upgrade: inv.k3s.upgrade,
    });
    const nodeNames = [...inv.servers, ...inv.agents].map((h) => h.name);
    const listNodes = remoteCommand("node-list", {
        connection: servers.first.connection,
        create: apiUrl.apply((url) => asRoot(renderListNodesScript(url, nodeNames))),
        // Re-read the list whenever the inventory's node set changes.
        triggers: [nodeNames.join(",")],
    }, { dependsOn: [...servers.installs, ...agents.installs] });
    return {
        servers, loadBalancer, agents, apiUrl,
        kubeconfig,
        nodes: listNodes.stdout.apply((out) => out.split("\n").map((l) => l.trim()).filter((l) => l.length > 0)),
        statsUrls: inv.loadBalancers.map((h) => `http://${h.address}:${STATS_PORT}/`),
    };
}
