// The video streaming platform on the cluster: RTMP ingest, live HLS, recordings and a player page.
//
//   publishers (OBS/ffmpeg) ──rtmp :1935──▶ Service <name>-rtmp (LoadBalancer, k3s ServiceLB on every node)
//                                              │
//                                              ▼
//                       Deployment <name>-server: nginx + nginx-rtmp (1 pod; nginx.conf from a ConfigMap)
//                         live HLS in RAM (emptyDir) · recordings on a PVC (local-path)
//                                              ▲  /hls/ /recordings/ (Service <name>-server, :8080)
//   viewers ──http :80──▶ Traefik Ingress ─────┤
//                                              └─ /  ──▶ Service <name>-player ──▶ Deployment <name>-player
//                                                        (nginx serving index.html + hls.js, 2 pods)
//
// Everything goes through a kubernetes Provider built from the cluster's kubeconfig output, so it is
// created after the cluster is up and deleted before the cluster is torn down.
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { StreamingSettings } from "../inventory/streaming";
import { HEALTH_URL_PATH, HLS_URL_PATH, RECORDINGS_URL_PATH, renderNginxRtmpConfig } from "../render/nginxRtmp";
import { HLS_JS_FILE, HLS_JS_MODULE_PATH, renderPlayerPage } from "../render/playerPage";

/** Ports and paths inside the server pod. */
export const SERVER_RTMP_PORT = 1935;
export const SERVER_HTTP_PORT = 8080;
const CONFIG_DIR = "/etc/picluster-streaming";
const DATA_DIR = "/var/lib/streaming";
const HLS_DIR = `${DATA_DIR}/hls`;
const RECORDINGS_DIR = `${DATA_DIR}/recordings`;
const RUN_DIR = `${DATA_DIR}/run`;
const PLAYER_ROOT = "/usr/share/nginx/html";
/** k3s's bundled Traefik registers this IngressClass. */
export const TRAEFIK_INGRESS_CLASS = "traefik";

/** nginx runs its master as root and switches workers to an unprivileged user; nothing else. */
const NGINX_CAPABILITIES = ["CHOWN", "SETUID", "SETGID"];

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

/** Resource requests/limits from the validated settings. */
function resources(r: StreamingSettings["resources"]["server"]): k8s.types.input.core.v1.ResourceRequirements {
    return {
        requests: { cpu: r.cpuRequest, memory: r.memoryRequest },
        limits: { cpu: r.cpuLimit, memory: r.memoryLimit },
    };
}

function containerSecurity(extraCaps: readonly string[] = []): k8s.types.input.core.v1.SecurityContext {
    return {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"], add: [...NGINX_CAPABILITIES, ...extraCaps] },
    };
}

/** The URLs users see, from the settings. */
export function streamingUrls(settings: StreamingSettings, defaultAddress: string): { ingestUrl: string; playerUrl: string } {
    const addr = settings.host ?? settings.address ?? defaultAddress;
    return {
        ingestUrl: `rtmp://${addr}:${settings.rtmpPort}/${settings.application}`,
        playerUrl: `http://${addr}/`,
    };
}

/** The nginx.conf the server pod mounts. */
export function serverNginxConf(settings: StreamingSettings): string {
    return renderNginxRtmpConfig({
        rtmpPort: SERVER_RTMP_PORT,
        httpPort: SERVER_HTTP_PORT,
        application: settings.application,
        hlsDir: HLS_DIR,
        hlsFragmentSeconds: settings.hls.fragmentSeconds,
        hlsPlaylistSeconds: settings.hls.playlistSeconds,
        recordingsDir: settings.recording.enabled ? RECORDINGS_DIR : undefined,
        recordingFragmentSeconds: settings.recording.fragmentSeconds,
        recordingMaxHours: settings.recording.maxHours,
        pidFile: `${RUN_DIR}/nginx.pid`,
        tempDir: RUN_DIR,
        errorLog: "stderr",
        accessLog: "/dev/stdout",
    });
}

export class StreamingPlatform extends pulumi.ComponentResource {
    /** rtmp://<address>:<port>/<application>: OBS's "Server"; the stream key goes after it. */
    public readonly ingestUrl: pulumi.Output<string>;
    /** http://<address>/: the player page. */
    public readonly playerUrl: pulumi.Output<string>;
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

        const partOf = { "app.kubernetes.io/part-of": "picluster-streaming", "app.kubernetes.io/managed-by": "pulumi" };
        const serverLabels = { "app.kubernetes.io/name": "nginx-rtmp", "app.kubernetes.io/instance": name };
        const playerLabels = { "app.kubernetes.io/name": "player", "app.kubernetes.io/instance": name };

        const ns = new k8s.core.v1.Namespace(`${name}-ns`, {
            metadata: { name: s.namespace, labels: partOf },
        }, child());
        const namespace = ns.metadata.name;
        this.namespace = namespace;
        const meta = (suffix: string, labels: Record<string, string>) => ({
            name: `${name}-${suffix}`, namespace, labels: { ...partOf, ...labels },
        });

        // --- the streaming server ---------------------------------------------------------------
        const serverConfig = new k8s.core.v1.ConfigMap(`${name}-server-config`, {
            metadata: { namespace, labels: { ...partOf, ...serverLabels } },
            data: { "nginx.conf": serverNginxConf(s) },
        }, child());

        const volumes: k8s.types.input.core.v1.Volume[] = [
            { name: "config", configMap: { name: serverConfig.metadata.name } },
            // Live segments live ~15 s: RAM (tmpfs) spares the SD card; counted in the memory limit.
            { name: "hls", emptyDir: s.hls.inMemory ? { medium: "Memory", sizeLimit: s.hls.sizeLimit } : { sizeLimit: s.hls.sizeLimit } },
            { name: "run", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
        ];
        const mounts: k8s.types.input.core.v1.VolumeMount[] = [
            { name: "config", mountPath: CONFIG_DIR, readOnly: true },
            { name: "hls", mountPath: HLS_DIR },
            { name: "run", mountPath: RUN_DIR },
        ];
        let recordings: k8s.core.v1.PersistentVolumeClaim | undefined;
        if (s.recording.enabled) {
            recordings = new k8s.core.v1.PersistentVolumeClaim(`${name}-recordings`, {
                metadata: meta("recordings", serverLabels),
                spec: {
                    accessModes: ["ReadWriteOnce"],
                    storageClassName: s.recording.storageClass,
                    resources: { requests: { storage: s.recording.size } },
                },
            }, child([ns]));
            volumes.push({ name: "recordings", persistentVolumeClaim: { claimName: recordings.metadata.name } });
            mounts.push({ name: "recordings", mountPath: RECORDINGS_DIR });
        }

        const server = new k8s.apps.v1.Deployment(`${name}-server`, {
            metadata: meta("server", serverLabels),
            spec: {
                // One ingest point: nginx-rtmp keeps live streams in one process, and a local-path
                // volume is on one node. Recreate: the old pod lets go of the volume and the port first.
                replicas: 1,
                strategy: { type: "Recreate" },
                selector: { matchLabels: serverLabels },
                template: {
                    metadata: { labels: { ...partOf, ...serverLabels } },
                    spec: {
                        securityContext: { seccompProfile: { type: "RuntimeDefault" } },
                        terminationGracePeriodSeconds: 10,
                        // Reschedule within ~30 s of a node failing (default 300 s) when no
                        // node-bound volume holds the pod back.
                        tolerations: [
                            { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 30 },
                            { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 30 },
                        ],
                        containers: [{
                            name: "nginx-rtmp",
                            image: s.images.server,
                            imagePullPolicy: "IfNotPresent",
                            command: ["nginx", "-c", `${CONFIG_DIR}/nginx.conf`],
                            ports: [
                                { name: "rtmp", containerPort: SERVER_RTMP_PORT, protocol: "TCP" },
                                { name: "http", containerPort: SERVER_HTTP_PORT, protocol: "TCP" },
                            ],
                            readinessProbe: {
                                httpGet: { path: HEALTH_URL_PATH, port: "http" },
                                periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2,
                            },
                            livenessProbe: {
                                tcpSocket: { port: "rtmp" },
                                initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3,
                            },
                            resources: resources(s.resources.server),
                            securityContext: containerSecurity(),
                            volumeMounts: mounts,
                        }],
                        volumes,
                    },
                },
            },
        }, child([ns]));

        const serverHttp = new k8s.core.v1.Service(`${name}-server`, {
            metadata: meta("server", serverLabels),
            spec: {
                type: "ClusterIP",
                selector: serverLabels,
                ports: [{ name: "http", port: SERVER_HTTP_PORT, targetPort: "http", protocol: "TCP" }],
            },
        }, child([ns]));

        // RTMP from outside: k3s's ServiceLB (klipper-lb) opens the port on every node.
        new k8s.core.v1.Service(`${name}-rtmp`, {
            metadata: meta("rtmp", serverLabels),
            spec: {
                type: "LoadBalancer",
                selector: serverLabels,
                ports: [{ name: "rtmp", port: s.rtmpPort, targetPort: "rtmp", protocol: "TCP" }],
            },
        }, child([ns]));

        // --- the player page --------------------------------------------------------------------
        const playerFiles = new k8s.core.v1.ConfigMap(`${name}-player-files`, {
            metadata: { namespace, labels: { ...partOf, ...playerLabels } },
            data: {
                "index.html": renderPlayerPage({
                    title: s.title,
                    ingestUrl: urls.ingestUrl,
                    hlsPath: HLS_URL_PATH,
                    recordingsPath: s.recording.enabled ? RECORDINGS_URL_PATH : undefined,
                    fragmentSeconds: s.hls.fragmentSeconds,
                    liveSyncSeconds: s.player.liveSyncSeconds,
                }),
                [HLS_JS_FILE]: readFileSync(require.resolve(HLS_JS_MODULE_PATH), "utf8"),
            },
        }, child());

        const player = new k8s.apps.v1.Deployment(`${name}-player`, {
            metadata: meta("player", playerLabels),
            spec: {
                replicas: s.player.replicas,
                strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
                selector: { matchLabels: playerLabels },
                template: {
                    metadata: { labels: { ...partOf, ...playerLabels } },
                    spec: {
                        securityContext: { seccompProfile: { type: "RuntimeDefault" } },
                        // Spread over Pis, so the page survives one dying.
                        topologySpreadConstraints: [{
                            maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway",
                            labelSelector: { matchLabels: playerLabels },
                        }],
                        containers: [{
                            name: "nginx",
                            image: s.images.player,
                            imagePullPolicy: "IfNotPresent",
                            ports: [{ name: "http", containerPort: 80, protocol: "TCP" }],
                            readinessProbe: {
                                httpGet: { path: "/", port: "http" },
                                periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2,
                            },
                            livenessProbe: {
                                httpGet: { path: "/", port: "http" },
                                initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3,
                            },
                            resources: resources(s.resources.player),
                            securityContext: containerSecurity(["NET_BIND_SERVICE"]),
                            volumeMounts: [{ name: "files", mountPath: PLAYER_ROOT, readOnly: true }],
                        }],
                        volumes: [{ name: "files", configMap: { name: playerFiles.metadata.name } }],
                    },
                },
            },
        }, child([ns]));

        const playerSvc = new k8s.core.v1.Service(`${name}-player`, {
            metadata: meta("player", playerLabels),
            spec: {
                type: "ClusterIP",
                selector: playerLabels,
                ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
            },
        }, child([ns]));

        if (s.player.replicas >= 2) {
            new k8s.policy.v1.PodDisruptionBudget(`${name}-player`, {
                metadata: meta("player", playerLabels),
                spec: { minAvailable: 1, selector: { matchLabels: playerLabels } },
            }, child([ns]));
        }

        // --- HTTP from outside: k3s's Traefik ---------------------------------------------------
        const backend = (svc: k8s.core.v1.Service, port: number) => ({ service: { name: svc.metadata.name, port: { number: port } } });
        new k8s.networking.v1.Ingress(`${name}`, {
            metadata: meta("web", {}),
            spec: {
                ingressClassName: TRAEFIK_INGRESS_CLASS,
                rules: [{
                    ...(s.host ? { host: s.host } : {}),
                    http: {
                        paths: [
                            { path: HLS_URL_PATH.replace(/\/$/, ""), pathType: "Prefix", backend: backend(serverHttp, SERVER_HTTP_PORT) },
                            ...(s.recording.enabled
                                ? [{ path: RECORDINGS_URL_PATH.replace(/\/$/, ""), pathType: "Prefix", backend: backend(serverHttp, SERVER_HTTP_PORT) }]
                                : []),
                            { path: "/", pathType: "Prefix", backend: backend(playerSvc, 80) },
                        ],
                    },
                }],
            },
        }, child([server, player]));

        // --- recordings retention: a daily sweep on the volume's node ---------------------------
        if (recordings && s.recording.retentionDays > 0) {
            const days = s.recording.retentionDays;
            new k8s.batch.v1.CronJob(`${name}-retention`, {
                metadata: meta("retention", serverLabels),
                spec: {
                    schedule: "17 4 * * *",
                    concurrencyPolicy: "Forbid",
                    successfulJobsHistoryLimit: 1,
                    failedJobsHistoryLimit: 1,
                    jobTemplate: {
                        spec: {
                            backoffLimit: 1,
                            activeDeadlineSeconds: 600,
                            template: {
                                metadata: { labels: { ...partOf, "app.kubernetes.io/name": "retention" } },
                                spec: {
                                    restartPolicy: "Never",
                                    securityContext: { seccompProfile: { type: "RuntimeDefault" } },
                                    containers: [{
                                        name: "sweep",
                                        // The player image: its busybox find is all this needs.
                                        image: s.images.player,
                                        imagePullPolicy: "IfNotPresent",
                                        command: ["/bin/sh", "-c", [
                                            `find ${RECORDINGS_DIR} -mindepth 2 -name '*.ts' -mtime +${days} -print -delete`,
                                            `find ${RECORDINGS_DIR} -mindepth 2 -maxdepth 2 -name index.m3u8 -mtime +${days} -print -delete`,
                                            `find ${RECORDINGS_DIR} -mindepth 1 -maxdepth 1 -type d -empty -print -delete`,
                                        ].join(" && ")],
                                        resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "200m", memory: "32Mi" } },
                                        // nginx's workers write the recordings as nobody (65534): so does the sweep.
                                        securityContext: {
                                            runAsUser: 65534, runAsGroup: 65534, runAsNonRoot: true,
                                            allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] },
                                        },
                                        volumeMounts: [{ name: "recordings", mountPath: RECORDINGS_DIR }],
                                    }],
                                    volumes: [{ name: "recordings", persistentVolumeClaim: { claimName: recordings.metadata.name } }],
                                },
                            },
                        },
                    },
                },
            }, child([ns]));
        }

        this.ingestUrl = pulumi.output(urls.ingestUrl);
        this.playerUrl = pulumi.output(urls.playerUrl);
        this.registerOutputs({ ingestUrl: this.ingestUrl, playerUrl: this.playerUrl, namespace: this.namespace });
    }
}
