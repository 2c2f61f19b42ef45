// The video streaming platform on the cluster: RTMP ingest, live HLS, recordings and a player page.
//
//   publishers (OBS/ffmpeg, stream key <name>?key=<publish key>)
//               ──rtmp :1935──▶ Service <name>-rtmp (LoadBalancer, k3s ServiceLB on every node)
//                                              │
//                                              ▼
//                       Deployment <name>-server: nginx + nginx-rtmp (1 pod; nginx.conf from a ConfigMap)
//                         publish keys from a Secret (one generated per listed stream)
//                         live HLS in RAM (emptyDir) · recordings on a PVC (local-path), bounded by a guard
//                                              ▲  /hls/ /recordings/ (Service <name>-server, :8080)
//   viewers ──http :80──▶ Traefik Ingress ─────┤
//                                              └─ /  ──▶ Service <name>-player ──▶ Deployment <name>-player
//                                                        (nginx serving index.html + hls.js, 2 pods)
//
// Everything goes through a kubernetes Provider built from the cluster's kubeconfig output, so it is
// created after the cluster is up and deleted before the cluster is torn down.
//
// This file only creates the resources, in dependency order, with their names and parents; what
// each object holds is built by objects.ts (nginx.conf by nginxConfig.ts, the page by player.ts).
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as random from "@pulumi/random";
import { StreamingSettings } from "../../inventory/streaming";
import { renderPublishKeys } from "./nginxConfig";
import {
    ingressArgs, namespaceArgs, playerDeploymentArgs, playerDisruptionBudgetArgs, playerFilesArgs, playerServiceArgs,
    publishKeysSecretArgs, publishUrl, recordingsClaimArgs, retentionCronJobArgs, rtmpServiceArgs, Scope, serverConfigArgs,
    serverDeploymentArgs, serverServiceArgs, streamingUrls,
} from "./objects";

/** Length of a generated publish key: 32 letters and digits, ~190 bits. */
export const PUBLISH_KEY_LENGTH = 32;

export interface StreamingPlatformArgs {
    /** The cluster's kubeconfig (a secret); the provider is built from it. */
    readonly kubeconfig: pulumi.Input<string>;
    readonly settings: StreamingSettings;
    /**
     * The address put in the URLs when the settings name neither host nor address: any node's
     * address works, since ServiceLB and Traefik answer on every node.
     */
    readonly defaultAddress: string;
    /**
     * What must be finished before anything is sent to the API: the cluster's components (the
     * API load balancer, the servers, the agents). The provider waits for them, and so does
     * every object created through it; `pulumi destroy` removes the platform before them.
     */
    readonly clusterReady?: pulumi.Input<pulumi.Resource>[];
    /** Write the objects as YAML to this folder instead of applying them (no cluster; kubeconfig unused). */
    readonly renderYamlToDirectory?: string;
}

export class StreamingPlatform extends pulumi.ComponentResource {
    /** rtmp://<address>:<port>/<application>: OBS's "Server"; the stream key goes after it. */
    public readonly ingestUrl: pulumi.Output<string>;
    /** http://<address>/: the player page. */
    public readonly playerUrl: pulumi.Output<string>;
    /** Per stream, rtmp://<address>:<port>/<application>/<name>?key=<publish key>. Secret. */
    public readonly publishUrls: pulumi.Output<Record<string, string>>;
    /** Per stream, http://<address>/?live=<name>. */
    public readonly watchUrls: pulumi.Output<Record<string, string>>;
    public readonly namespace: pulumi.Output<string>;
    public readonly provider: k8s.Provider;

    constructor(name: string, args: StreamingPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
        super("picluster:streaming:Platform", name, {}, opts);
        const s = args.settings;
        const urls = streamingUrls(s, args.defaultAddress);

        this.provider = new k8s.Provider(`${name}-k8s`, args.renderYamlToDirectory
            // Render mode talks to no cluster (the provider refuses a kubeconfig with it).
            ? { renderYamlToDirectory: args.renderYamlToDirectory }
            : {
                kubeconfig: pulumi.secret(args.kubeconfig),
                // When the cluster itself is gone, `pulumi destroy`/`refresh` drop these objects
                // from the state instead of failing on an unreachable API.
                deleteUnreachable: true,
            }, { parent: this, dependsOn: args.clusterReady ?? [] });
        const child = (dependsOn: pulumi.Resource[] = []): pulumi.CustomResourceOptions => ({ parent: this, provider: this.provider, dependsOn });

        const ns = new k8s.core.v1.Namespace(`${name}-ns`, namespaceArgs(s), child());
        this.namespace = ns.metadata.name;
        const scope: Scope = { name, namespace: this.namespace };

        // One publish key per listed stream. Letters and digits only (special: false), so it
        // goes into an RTMP URL and OBS's key field as it is. `rotation` is its keeper: a new
        // value makes a new key. The result is a secret; it leaves this component only inside
        // the publish keys Secret and the secret publishUrls output.
        const keys = s.streams.map((st) => ({
            name: st.name,
            key: new random.RandomPassword(`${name}-publish-key-${st.name}`, {
                length: PUBLISH_KEY_LENGTH, special: false, keepers: { rotation: String(st.rotation) },
            }, { parent: this }).result,
        }));
        const keyValues = pulumi.all(keys.map((k) => k.key));
        const keysFile = pulumi.secret(keyValues.apply((vs) => renderPublishKeys(keys.map((k, i) => ({ name: k.name, key: vs[i] })))));

        // The streaming server.
        const serverConfig = new k8s.core.v1.ConfigMap(`${name}-server-config`, serverConfigArgs(scope, s), child());
        const publishKeys = new k8s.core.v1.Secret(`${name}-publish-keys`, publishKeysSecretArgs(scope, keysFile), child());
        const recordingsArgs = recordingsClaimArgs(scope, s);
        const recordings = recordingsArgs && new k8s.core.v1.PersistentVolumeClaim(`${name}-recordings`, recordingsArgs, child([ns]));
        const server = new k8s.apps.v1.Deployment(`${name}-server`, serverDeploymentArgs(scope, s, {
            config: serverConfig.metadata.name, publishKeys: publishKeys.metadata.name, recordingsClaim: recordings?.metadata.name,
        }), child([ns]));
        const serverHttp = new k8s.core.v1.Service(`${name}-server`, serverServiceArgs(scope), child([ns]));
        new k8s.core.v1.Service(`${name}-rtmp`, rtmpServiceArgs(scope, s), child([ns]));

        // The player page.
        const playerFiles = new k8s.core.v1.ConfigMap(`${name}-player-files`, playerFilesArgs(scope, s, urls.ingestUrl), child());
        const player = new k8s.apps.v1.Deployment(`${name}-player`, playerDeploymentArgs(scope, s, { files: playerFiles.metadata.name }), child([ns]));
        const playerSvc = new k8s.core.v1.Service(`${name}-player`, playerServiceArgs(scope), child([ns]));
        const pdb = playerDisruptionBudgetArgs(scope, s);
        if (pdb) new k8s.policy.v1.PodDisruptionBudget(`${name}-player`, pdb, child([ns]));

        // The way in over HTTP, once both backends are there.
        new k8s.networking.v1.Ingress(`${name}`, ingressArgs(scope, s, {
            serverService: serverHttp.metadata.name, playerService: playerSvc.metadata.name,
        }), child([server, player]));

        const retention = retentionCronJobArgs(scope, s, recordings?.metadata.name);
        if (retention) new k8s.batch.v1.CronJob(`${name}-retention`, retention, child([ns]));

        this.ingestUrl = pulumi.output(urls.ingestUrl);
        this.playerUrl = pulumi.output(urls.playerUrl);
        this.publishUrls = pulumi.secret(keyValues.apply((vs) => Object.fromEntries(
            keys.map((k, i) => [k.name, publishUrl(urls.ingestUrl, k.name, vs[i])]))));
        this.watchUrls = pulumi.output(urls.watchUrls);
        this.registerOutputs({
            ingestUrl: this.ingestUrl, playerUrl: this.playerUrl, publishUrls: this.publishUrls, watchUrls: this.watchUrls,
            namespace: this.namespace,
        });
    }
}
