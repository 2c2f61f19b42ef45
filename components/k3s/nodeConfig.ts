// /etc/rancher/k3s/config.yaml: the k3s flags as data, one file per node.
import { K3sSettings } from "../../inventory/schema";

export const K3S_CONFIG_PATH = "/etc/rancher/k3s/config.yaml";
/** The join token is kept out of config.yaml (which is world-readable by default). */
export const K3S_TOKEN_FILE = "/etc/rancher/k3s/picluster-token";
/**
 * The S3 store's keys: a root-only drop-in that k3s merges into config.yaml (k3s
 * pkg/configfilearg/parser.go reads `<config>.d/*.yaml`), written from stdin by the install,
 * because config.yaml's text travels on the install's command line.
 */
export const K3S_S3_KEYS_FILE = "/etc/rancher/k3s/config.yaml.d/picluster-etcd-s3-keys.yaml";

export type K3sNodeConfig =
    | { readonly kind: "first-server"; readonly nodeName: string; readonly nodeIp: string; readonly tlsSans: readonly string[]; readonly k3s: K3sSettings }
    | { readonly kind: "joining-server"; readonly nodeName: string; readonly nodeIp: string; readonly joinUrl: string; readonly tlsSans: readonly string[]; readonly k3s: K3sSettings }
    | { readonly kind: "agent"; readonly nodeName: string; readonly nodeIp: string; readonly joinUrl: string };

// JSON strings are valid YAML scalars and need no further escaping rules.
const q = (s: string) => JSON.stringify(s);
const list = (key: string, items: readonly string[]) =>
    items.length === 0 ? [] : [`${key}:`, ...items.map((i) => `  - ${q(i)}`)];

/** Renders a node's config.yaml. Servers share every cluster-wide key. */
export function renderK3sConfig(node: K3sNodeConfig): string {
    const lines = [
        "# Managed by picluster (Pulumi). Local edits are overwritten on the next `pulumi up`.",
        `node-name: ${q(node.nodeName)}`,
        `node-ip: ${q(node.nodeIp)}`,
    ];
    if (node.kind === "first-server") lines.push("cluster-init: true");
    if (node.kind !== "first-server") {
        lines.push(`server: ${q(node.joinUrl)}`, `token-file: ${q(K3S_TOKEN_FILE)}`);
    }
    if (node.kind !== "agent") {
        // Cluster-wide keys: identical on every server, or etcd members disagree.
        lines.push(
            "write-kubeconfig-mode: \"0600\"",
            `cluster-cidr: ${q(node.k3s.clusterCidr)}`,
            `service-cidr: ${q(node.k3s.serviceCidr)}`,
            ...list("tls-san", node.tlsSans),
            ...list("disable", node.k3s.disable),
            `etcd-snapshot-schedule-cron: ${q(node.k3s.etcdSnapshots.scheduleCron)}`,
            `etcd-snapshot-retention: ${node.k3s.etcdSnapshots.retention}`,
            ...etcdS3Lines(node.k3s.etcdSnapshots.s3),
        );
    }
    return lines.join("\n") + "\n";
}

/** k3s's S3 upload of each snapshot (its server flags, pkg/cli/cmds/server.go); the keys are in K3S_S3_KEYS_FILE. */
function etcdS3Lines(s3: K3sSettings["etcdSnapshots"]["s3"]): string[] {
    if (s3 === undefined) return [];
    return [
        "etcd-s3: true",
        `etcd-s3-endpoint: ${q(s3.endpoint)}`,
        `etcd-s3-bucket: ${q(s3.bucket)}`,
        `etcd-s3-region: ${q(s3.region)}`,
        ...(s3.folder !== undefined ? [`etcd-s3-folder: ${q(s3.folder)}`] : []),
        ...(s3.insecure ? ["etcd-s3-insecure: true"] : []),
        ...(s3.skipSslVerify ? ["etcd-s3-skip-ssl-verify: true"] : []),
    ];
}
