// The Kubernetes objects of the streaming platform, as plain data: one function per object that
// builds its arguments from the validated settings. No resource is created here and nothing
// needs the Pulumi runtime (only its types), so each object can be tested on its own;
// platform.ts creates them. Where one object names another (a volume's ConfigMap, a route's
// Service), the caller passes that name, an Output of the other resource in the component, so
// that the engine also learns the dependency.
import type * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { recordingShareBytes, StreamingSettings } from "../../inventory/streaming";
import {
    CONTROL_URL_PATH, HEALTH_URL_PATH, HLS_URL_PATH, publishStreamKey, RECORD_APPLICATION, RECORDINGS_URL_PATH, renderNginxRtmpConfig,
} from "./nginxConfig";
import { HLS_JS_FILE, hlsJsSource, renderPlayerPage } from "./player";
import { recordingGuard, retentionSweep } from "./scripts";

/** Ports and paths inside the server pod. */
export const SERVER_RTMP_PORT = 1935;
export const SERVER_HTTP_PORT = 8080;
const CONFIG_DIR = "/etc/picluster-streaming";
const DATA_DIR = "/var/lib/streaming";
const HLS_DIR = `${DATA_DIR}/hls`;
const RECORDINGS_DIR = `${DATA_DIR}/recordings`;
const RUN_DIR = `${DATA_DIR}/run`;
/** The publish keys (a Secret): beside the config, not inside its read-only mount. */
const PUBLISH_KEYS_DIR = "/etc/picluster-streaming-keys";
export const PUBLISH_KEYS_FILE = "publish-keys.conf";
/** The recording guard's flags and heartbeat, in the pod's run folder (shared by both containers). */
const RECORDING_STOP_DIR = `${RUN_DIR}/recording-full`;
const GUARD_ALIVE_FILE = `${RUN_DIR}/recording-guard.alive`;
/** How often the guard measures the recordings: at ~3 Mbit/s a stream overshoots its share by ~2 MB at most. */
export const GUARD_INTERVAL_SECONDS = 5;
const PLAYER_ROOT = "/usr/share/nginx/html";
/** The player pods' HTTP port (nginx's default server). */
const PLAYER_HTTP_PORT = 80;
/** k3s's bundled Traefik registers this IngressClass. */
export const TRAEFIK_INGRESS_CLASS = "traefik";
/** The daily retention sweep's time (04:17, off the hour that other jobs pick). */
const RETENTION_SCHEDULE = "17 4 * * *";
/** nginx's workers run as nobody (65534) and write the recordings as that user. */
const NOBODY = 65534;

/** nginx runs its master as root and switches workers to an unprivileged user; nothing else. */
const NGINX_CAPABILITIES = ["CHOWN", "SETUID", "SETGID"];

/** Where the objects go: the component's name (every object's name starts with it) and its namespace. */
export interface Scope {
    readonly name: string;
    /** The Namespace object's name (an Output of it in the component: everything waits for it). */
    readonly namespace: pulumi.Input<string>;
}

type Labels = Record<string, string>;

export const PART_OF: Labels = { "app.kubernetes.io/part-of": "picluster-streaming", "app.kubernetes.io/managed-by": "pulumi" };
export const serverLabels = (name: string): Labels => ({ "app.kubernetes.io/name": "nginx-rtmp", "app.kubernetes.io/instance": name });
export const playerLabels = (name: string): Labels => ({ "app.kubernetes.io/name": "player", "app.kubernetes.io/instance": name });

/** Metadata of a named object: <component>-<suffix> in the namespace, labelled as part of the platform. */
function meta(scope: Scope, suffix: string, labels: Labels) {
    return { name: `${scope.name}-${suffix}`, namespace: scope.namespace, labels: { ...PART_OF, ...labels } };
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

export interface StreamingUrls {
    /** rtmp://<address>:<port>/<application>: OBS's "Server". */
    readonly ingestUrl: string;
    /** http://<address>/: the player page. */
    readonly playerUrl: string;
    /** Per stream, the page playing it: http://<address>/?live=<name>. */
    readonly watchUrls: Record<string, string>;
}

/** The URLs users see, from the settings. */
export function streamingUrls(settings: StreamingSettings, defaultAddress: string): StreamingUrls {
    const addr = settings.host ?? settings.address ?? defaultAddress;
    const playerUrl = `http://${addr}/`;
    return {
        ingestUrl: `rtmp://${addr}:${settings.rtmpPort}/${settings.application}`,
        playerUrl,
        watchUrls: Object.fromEntries(settings.streams.map((st) => [st.name, `${playerUrl}?live=${st.name}`])),
    };
}

/** A stream's publish URL, key included (a secret wherever it goes): ffmpeg's target as it is. */
export function publishUrl(ingestUrl: string, name: string, key: string): string {
    return `${ingestUrl}/${publishStreamKey(name, key)}`;
}

/** The nginx.conf the server pod mounts. */
export function serverNginxConf(settings: StreamingSettings): string {
    return renderNginxRtmpConfig({
        rtmpPort: SERVER_RTMP_PORT,
        httpPort: SERVER_HTTP_PORT,
        application: settings.application,
        streams: settings.streams.map((st) => st.name),
        publishKeysFile: `${PUBLISH_KEYS_DIR}/${PUBLISH_KEYS_FILE}`,
        hlsDir: HLS_DIR,
        hlsFragmentSeconds: settings.hls.fragmentSeconds,
        hlsPlaylistSeconds: settings.hls.playlistSeconds,
        recordingsDir: settings.recording.enabled ? RECORDINGS_DIR : undefined,
        recordingFragmentSeconds: settings.recording.fragmentSeconds,
        recordingMaxHours: settings.recording.maxHours,
        recordingStopDir: RECORDING_STOP_DIR,
        pidFile: `${RUN_DIR}/nginx.pid`,
        tempDir: RUN_DIR,
        errorLog: "stderr",
        accessLog: "/dev/stdout",
    });
}

/** The platform's own namespace (the settings refuse Kubernetes' own). */
export function namespaceArgs(s: StreamingSettings): k8s.core.v1.NamespaceArgs {
    return { metadata: { name: s.namespace, labels: PART_OF } };
}

// --- the streaming server -------------------------------------------------------------------

/** nginx.conf, mounted into the server pod. Auto-named: a new text is a new ConfigMap, and the pod rolls. */
export function serverConfigArgs(scope: Scope, s: StreamingSettings): k8s.core.v1.ConfigMapArgs {
    return {
        metadata: { namespace: scope.namespace, labels: { ...PART_OF, ...serverLabels(scope.name) } },
        data: { "nginx.conf": serverNginxConf(s) },
    };
}

/**
 * The publish keys file (renderPublishKeys), a secret Input, as a Secret the server mounts.
 * Auto-named like the ConfigMap: the kubernetes provider replaces an auto-named Secret whose
 * data changes, so a new key is a new Secret name in the pod template, and the server rolls
 * (the recordings volume stays; live streams reconnect).
 */
export function publishKeysSecretArgs(scope: Scope, keysFile: pulumi.Input<string>): k8s.core.v1.SecretArgs {
    return {
        metadata: { namespace: scope.namespace, labels: { ...PART_OF, ...serverLabels(scope.name) } },
        type: "Opaque",
        stringData: { [PUBLISH_KEYS_FILE]: keysFile },
    };
}

/** The recordings volume, or undefined when recording is off. */
export function recordingsClaimArgs(scope: Scope, s: StreamingSettings): k8s.core.v1.PersistentVolumeClaimArgs | undefined {
    if (!s.recording.enabled) return undefined;
    return {
        metadata: meta(scope, "recordings", serverLabels(scope.name)),
        spec: {
            accessModes: ["ReadWriteOnce"],
            storageClassName: s.recording.storageClass,
            resources: { requests: { storage: s.recording.size } },
        },
    };
}

export interface ServerRefs {
    /** The server ConfigMap's name. */
    readonly config: pulumi.Input<string>;
    /** The publish keys Secret's name (see publishKeysSecretArgs). */
    readonly publishKeys: pulumi.Input<string>;
    /** The recordings claim's name, when recording is on (see recordingsClaimArgs). */
    readonly recordingsClaim: pulumi.Input<string> | undefined;
}

export function serverDeploymentArgs(scope: Scope, s: StreamingSettings, refs: ServerRefs): k8s.apps.v1.DeploymentArgs {
    const labels = serverLabels(scope.name);
    const volumes: k8s.types.input.core.v1.Volume[] = [
        { name: "config", configMap: { name: refs.config } },
        // Read by nginx's master (root) when it loads nginx.conf; nobody else.
        { name: "publish-keys", secret: { secretName: refs.publishKeys, defaultMode: 0o400 } },
        // Live segments live ~15 s: RAM (tmpfs) spares the SD card; counted in the memory limit.
        { name: "hls", emptyDir: s.hls.inMemory ? { medium: "Memory", sizeLimit: s.hls.sizeLimit } : { sizeLimit: s.hls.sizeLimit } },
        { name: "run", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
    ];
    const mounts: k8s.types.input.core.v1.VolumeMount[] = [
        { name: "config", mountPath: CONFIG_DIR, readOnly: true },
        { name: "publish-keys", mountPath: PUBLISH_KEYS_DIR, readOnly: true },
        { name: "hls", mountPath: HLS_DIR },
        { name: "run", mountPath: RUN_DIR },
    ];
    const guard: k8s.types.input.core.v1.Container[] = [];
    if (refs.recordingsClaim !== undefined) {
        volumes.push({ name: "recordings", persistentVolumeClaim: { claimName: refs.recordingsClaim } });
        mounts.push({ name: "recordings", mountPath: RECORDINGS_DIR });
        guard.push(recordingGuardContainer(s));
    }
    return {
        metadata: meta(scope, "server", labels),
        spec: {
            // One ingest point: nginx-rtmp keeps live streams in one process, and a local-path
            // volume is on one node. Recreate: the old pod lets go of the volume and the port first.
            replicas: 1,
            strategy: { type: "Recreate" },
            selector: { matchLabels: labels },
            template: {
                metadata: { labels: { ...PART_OF, ...labels } },
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
                    }, ...guard],
                    volumes,
                },
            },
        },
    };
}

/**
 * The recording guard (scripts.ts, recordingGuard) beside nginx: the same run folder (its flags
 * are what `rec` checks) and the recordings, read-only. The player image's busybox has the du and
 * wget it needs; it runs as nobody, like the retention sweep.
 */
function recordingGuardContainer(s: StreamingSettings): k8s.types.input.core.v1.Container {
    const shareKiB = Math.floor(recordingShareBytes(s.recording.size, s.streams.length) / 1024);
    // Alive: a round finished within the last minute (a round takes a few du calls).
    const alive = { exec: { command: ["/bin/sh", "-c", `test -n "$(find ${GUARD_ALIVE_FILE} -mmin -1 2>/dev/null)"`] } };
    return {
        name: "recording-guard",
        image: s.images.player,
        imagePullPolicy: "IfNotPresent",
        command: ["/bin/sh", "-c", recordingGuard({
            recordingsDir: RECORDINGS_DIR,
            stopDir: RECORDING_STOP_DIR,
            streams: s.streams.map((st) => st.name),
            shareKiB,
            dropUrl: `http://127.0.0.1:${SERVER_HTTP_PORT}${CONTROL_URL_PATH}drop/publisher?app=${RECORD_APPLICATION}&name=`,
            intervalSeconds: GUARD_INTERVAL_SECONDS,
            aliveFile: GUARD_ALIVE_FILE,
        })],
        readinessProbe: { ...alive, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
        livenessProbe: { ...alive, initialDelaySeconds: 30, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 },
        resources: { requests: { cpu: "10m", memory: "8Mi" }, limits: { cpu: "100m", memory: "32Mi" } },
        securityContext: {
            runAsUser: NOBODY, runAsGroup: NOBODY, runAsNonRoot: true,
            allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] },
        },
        volumeMounts: [
            { name: "run", mountPath: RUN_DIR },
            { name: "recordings", mountPath: RECORDINGS_DIR, readOnly: true },
        ],
    };
}

/** The server's HTTP side (HLS, recordings) inside the cluster, for the Ingress. */
export function serverServiceArgs(scope: Scope): k8s.core.v1.ServiceArgs {
    const labels = serverLabels(scope.name);
    return {
        metadata: meta(scope, "server", labels),
        spec: {
            type: "ClusterIP",
            selector: labels,
            ports: [{ name: "http", port: SERVER_HTTP_PORT, targetPort: "http", protocol: "TCP" }],
        },
    };
}

/** RTMP from outside: k3s's ServiceLB (klipper-lb) opens the port on every node. */
export function rtmpServiceArgs(scope: Scope, s: StreamingSettings): k8s.core.v1.ServiceArgs {
    const labels = serverLabels(scope.name);
    return {
        metadata: meta(scope, "rtmp", labels),
        spec: {
            type: "LoadBalancer",
            selector: labels,
            ports: [{ name: "rtmp", port: s.rtmpPort, targetPort: "rtmp", protocol: "TCP" }],
        },
    };
}

// --- the player page ------------------------------------------------------------------------

/** The page and hls.js, mounted as the player's web root. Auto-named like the server's config. */
export function playerFilesArgs(scope: Scope, s: StreamingSettings, ingestUrl: string): k8s.core.v1.ConfigMapArgs {
    return {
        metadata: { namespace: scope.namespace, labels: { ...PART_OF, ...playerLabels(scope.name) } },
        data: {
            "index.html": renderPlayerPage({
                title: s.title,
                ingestUrl,
                hlsPath: HLS_URL_PATH,
                recordingsPath: s.recording.enabled ? RECORDINGS_URL_PATH : undefined,
                fragmentSeconds: s.hls.fragmentSeconds,
                liveSyncSeconds: s.player.liveSyncSeconds,
            }),
            [HLS_JS_FILE]: hlsJsSource(),
        },
    };
}

export interface PlayerRefs {
    /** The player ConfigMap's name. */
    readonly files: pulumi.Input<string>;
}

export function playerDeploymentArgs(scope: Scope, s: StreamingSettings, refs: PlayerRefs): k8s.apps.v1.DeploymentArgs {
    const labels = playerLabels(scope.name);
    return {
        metadata: meta(scope, "player", labels),
        spec: {
            replicas: s.player.replicas,
            strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
            selector: { matchLabels: labels },
            template: {
                metadata: { labels: { ...PART_OF, ...labels } },
                spec: {
                    securityContext: { seccompProfile: { type: "RuntimeDefault" } },
                    // Spread over Pis, so the page survives one dying.
                    topologySpreadConstraints: [{
                        maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway",
                        labelSelector: { matchLabels: labels },
                    }],
                    containers: [{
                        name: "nginx",
                        image: s.images.player,
                        imagePullPolicy: "IfNotPresent",
                        ports: [{ name: "http", containerPort: PLAYER_HTTP_PORT, protocol: "TCP" }],
                        readinessProbe: {
                            httpGet: { path: "/", port: "http" },
                            periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2,
                        },
                        livenessProbe: {
                            httpGet: { path: "/", port: "http" },
                            initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3,
                        },
                        resources: resources(s.resources.player),
                        // Port 80 is below 1024.
                        securityContext: containerSecurity(["NET_BIND_SERVICE"]),
                        volumeMounts: [{ name: "files", mountPath: PLAYER_ROOT, readOnly: true }],
                    }],
                    volumes: [{ name: "files", configMap: { name: refs.files } }],
                },
            },
        },
    };
}

export function playerServiceArgs(scope: Scope): k8s.core.v1.ServiceArgs {
    const labels = playerLabels(scope.name);
    return {
        metadata: meta(scope, "player", labels),
        spec: {
            type: "ClusterIP",
            selector: labels,
            ports: [{ name: "http", port: PLAYER_HTTP_PORT, targetPort: "http", protocol: "TCP" }],
        },
    };
}

/** Keeps one player pod through a node drain; undefined with a single replica (it would block the drain). */
export function playerDisruptionBudgetArgs(scope: Scope, s: StreamingSettings): k8s.policy.v1.PodDisruptionBudgetArgs | undefined {
    if (s.player.replicas < 2) return undefined;
    const labels = playerLabels(scope.name);
    return {
        metadata: meta(scope, "player", labels),
        spec: { minAvailable: 1, selector: { matchLabels: labels } },
    };
}

// --- HTTP from outside: k3s's Traefik -------------------------------------------------------

export interface IngressRefs {
    /** The server Service's and the player Service's names. */
    readonly serverService: pulumi.Input<string>;
    readonly playerService: pulumi.Input<string>;
}

/** The live and recorded HLS paths go to the server, everything else to the player. */
export function ingressArgs(scope: Scope, s: StreamingSettings, refs: IngressRefs): k8s.networking.v1.IngressArgs {
    const backend = (service: pulumi.Input<string>, port: number) => ({ service: { name: service, port: { number: port } } });
    const prefix = (urlPath: string) => urlPath.replace(/\/$/, "");
    return {
        metadata: meta(scope, "web", {}),
        spec: {
            ingressClassName: TRAEFIK_INGRESS_CLASS,
            rules: [{
                ...(s.host ? { host: s.host } : {}),
                http: {
                    paths: [
                        { path: prefix(HLS_URL_PATH), pathType: "Prefix", backend: backend(refs.serverService, SERVER_HTTP_PORT) },
                        ...(s.recording.enabled
                            ? [{ path: prefix(RECORDINGS_URL_PATH), pathType: "Prefix", backend: backend(refs.serverService, SERVER_HTTP_PORT) }]
                            : []),
                        { path: "/", pathType: "Prefix", backend: backend(refs.playerService, PLAYER_HTTP_PORT) },
                    ],
                },
            }],
        },
    };
}

// --- recordings retention: a daily sweep on the volume's node -------------------------------

/**
 * The daily sweep of old recordings, or undefined when there is no recordings volume
 * (`recordingsClaim` undefined) or retention is off (retentionDays 0).
 */
export function retentionCronJobArgs(
    scope: Scope, s: StreamingSettings, recordingsClaim: pulumi.Input<string> | undefined,
): k8s.batch.v1.CronJobArgs | undefined {
    if (recordingsClaim === undefined || s.recording.retentionDays <= 0) return undefined;
    return {
        metadata: meta(scope, "retention", serverLabels(scope.name)),
        spec: {
            schedule: RETENTION_SCHEDULE,
            concurrencyPolicy: "Forbid",
            successfulJobsHistoryLimit: 1,
            failedJobsHistoryLimit: 1,
            jobTemplate: {
                spec: {
                    backoffLimit: 1,
                    activeDeadlineSeconds: 600,
                    template: {
                        metadata: { labels: { ...PART_OF, "app.kubernetes.io/name": "retention" } },
                        spec: {
                            restartPolicy: "Never",
                            securityContext: { seccompProfile: { type: "RuntimeDefault" } },
                            containers: [{
                                name: "sweep",
                                // The player image: its busybox find is all this needs.
                                image: s.images.player,
                                imagePullPolicy: "IfNotPresent",
                                command: ["/bin/sh", "-c", retentionSweep(RECORDINGS_DIR, s.recording.retentionDays)],
                                resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "200m", memory: "32Mi" } },
                                // nginx's workers write the recordings as nobody: so does the sweep.
                                securityContext: {
                                    runAsUser: NOBODY, runAsGroup: NOBODY, runAsNonRoot: true,
                                    allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] },
                                },
                                volumeMounts: [{ name: "recordings", mountPath: RECORDINGS_DIR }],
                            }],
                            volumes: [{ name: "recordings", persistentVolumeClaim: { claimName: recordingsClaim } }],
                        },
                    },
                },
            },
        },
    };
}
