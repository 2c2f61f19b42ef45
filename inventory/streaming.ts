// The stack's `picluster:streaming` setting: the video streaming platform deployed on the cluster
// (components/streaming/). Pure, like schema.ts: every refusal is testable without an engine.
// Every field has a default, so `picluster:streaming: {}` (or no key at all) deploys the platform
// with settings that fit a Raspberry Pi 3B+ (1 GiB RAM, 4 Cortex-A53 cores).
import { z } from "zod";
import { DNS_LABEL, DNS_NAME, IPV4 } from "./patterns";
import { describeIssues, InventoryError } from "./issues";
import { API_PORT, STATS_PORT } from "./wellKnown";

// [registry[:port]/]path[:tag][@sha256:digest], Docker's reference grammar (lowercase path).
const IMAGE_REF = /^(?:(?<registry>[a-zA-Z0-9.-]+(?::\d+)?)\/)?(?<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::(?<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?<digest>sha256:[a-f0-9]{64}))?$/;
const CPU = /^([1-9]\d{0,4}m|\d{1,2}(\.\d{1,3})?)$/;
const MEMORY = /^[1-9]\d{0,5}(Ki|Mi|Gi)$/;
const STORAGE = /^[1-9]\d{0,5}(Mi|Gi|Ti)$/;

/**
 * A stream's name: it becomes a file name (live playlist, recordings folder) and a word in the
 * rendered nginx.conf, so letters, digits, '_' and '-' only, 1-64 characters.
 */
export const STREAM_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const STREAM_NAME_RULE = "1-64 characters from A-Z a-z 0-9 _ -";
/** The stream listed when `streams` is not set, so that a fresh stack can go live at once. */
export const DEFAULT_STREAM = "studio";
/** At most this many streams: each gets an equal share of the recordings volume. */
export const MAX_STREAMS = 32;
/**
 * The part of recording.size that the recordings may fill, split equally over the streams; the
 * rest covers what the guard can overshoot between two checks and the filesystem's own use
 * (local-path does not enforce a claim's size: the guard is what keeps the disk from filling).
 */
export const RECORDING_FILL_PERCENT = 90;
/** A share smaller than this holds a few minutes of video at most: refused as a mistake. */
const MIN_SHARE = 128 * 2 ** 20;

/**
 * The streaming server: nginx built from source with nginx-rtmp-module 1.2.2 compiled in, on
 * Debian (the buildpack-deps image). Its build publishes a dated tag per build
 * ("latest-YYYY-MM-DD", a fixed build despite the word) for linux/amd64, linux/arm64,
 * linux/386, linux/arm/v7 and linux/arm/v6 since multi-arch builds were added in March 2024
 * (tiangolo/nginx-rtmp-docker PR #65); this tag is one of those builds. Checked from the
 * project's sources, not pulled here (no registry access): before deploying, run
 * `docker buildx imagetools inspect tiangolo/nginx-rtmp:latest-2024-12-02` or pin a digest.
 */
export const DEFAULT_SERVER_IMAGE = "tiangolo/nginx-rtmp:latest-2024-12-02";
/**
 * The player page: the official nginx image, Alpine variant, published for linux/amd64,
 * arm32v6, arm32v7, arm64v8, i386, ppc64le, riscv64 and s390x like every Docker official image.
 */
export const DEFAULT_PLAYER_IMAGE = "nginx:1.28.0-alpine";

const RESERVED_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];
// Ports the nodes already use: Traefik (80/443 via ServiceLB), the API (6443), kubelet (10250),
// etcd (2379/2380), flannel VXLAN (8472), the HAProxy stats page (8404).
const TAKEN_PORTS = [80, 443, 2379, 2380, API_PORT, STATS_PORT, 8472, 10250];

/** Parses a Kubernetes quantity (the forms this schema accepts) into base units. */
export function quantity(q: string): number {
    const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti)?$/.exec(q);
    if (!m) return NaN;
    const scale: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
    return Number(m[1]) * (m[2] ? scale[m[2]] : 1);
}

const imageRef = (example: string) => z.string({ error: `must be an image reference such as ${example}` })
    .superRefine((s, ctx) => {
        const m = IMAGE_REF.exec(s);
        if (!m?.groups) {
            ctx.addIssue({ code: "custom", message: `is not an image reference: write [registry/]name:tag, e.g. ${example}` });
        } else if (!m.groups.tag && !m.groups.digest) {
            ctx.addIssue({ code: "custom", message: `${s} has no tag: pin a version, e.g. ${example} (or add @sha256:<digest>)` });
        } else if (m.groups.tag === "latest" && !m.groups.digest) {
            ctx.addIssue({ code: "custom", message: `${s} uses the moving tag "latest": pin a version, e.g. ${example}` });
        }
    });

const cpu = () => z.string({ error: "must be a CPU quantity written as text, e.g. \"250m\" or \"1\"" })
    .regex(CPU, { message: "must be a CPU quantity such as \"250m\" (millicores) or \"1\" (cores)" });
const memory = () => z.string({ error: "must be a memory quantity written as text, e.g. \"128Mi\"" })
    .regex(MEMORY, { message: "must be a memory quantity such as \"128Mi\" or \"1Gi\" (Ki, Mi or Gi)" });

const resourcesSchema = (d: { cpuRequest: string; memoryRequest: string; cpuLimit: string; memoryLimit: string }) => z.strictObject({
    cpuRequest: cpu().default(d.cpuRequest),
    memoryRequest: memory().default(d.memoryRequest),
    cpuLimit: cpu().default(d.cpuLimit),
    memoryLimit: memory().default(d.memoryLimit),
}, object("{ cpuLimit: \"1\", memoryLimit: 256Mi }")).superRefine((r, ctx) => {
    if (quantity(r.cpuRequest) > quantity(r.cpuLimit)) {
        ctx.addIssue({ code: "custom", path: ["cpuRequest"], message: `${r.cpuRequest} is more than cpuLimit ${r.cpuLimit}` });
    }
    if (quantity(r.memoryRequest) > quantity(r.memoryLimit)) {
        ctx.addIssue({ code: "custom", path: ["memoryRequest"], message: `${r.memoryRequest} is more than memoryLimit ${r.memoryLimit}` });
    }
    if (quantity(r.memoryLimit) > 768 * 2 ** 20) {
        ctx.addIssue({ code: "custom", path: ["memoryLimit"], message: `${r.memoryLimit} does not fit a Raspberry Pi 3B+ (1 GiB, of which k3s and the OS use ~250 MiB): use at most 768Mi` });
    }
    if (quantity(r.cpuLimit) > 4) {
        ctx.addIssue({ code: "custom", path: ["cpuLimit"], message: `${r.cpuLimit} is more than a Pi's 4 cores: use at most "4"` });
    }
}).prefault({});

const object = (example: string) => ({ error: `must be an object (a YAML mapping), e.g. ${example}` });

const streamSchema = z.strictObject({
    name: z.string({ error: "must be a stream name written as text, e.g. studio" })
        .regex(STREAM_NAME_PATTERN, { message: `must be a stream name such as studio (${STREAM_NAME_RULE})` }),
    /**
     * Raise it (1, 2, ...) to get a new publish key on the next `pulumi up`: it is the
     * generated key's keeper, so a new value replaces the key and the old one stops working.
     */
    rotation: z.number({ error: "must be a whole number, e.g. 1" }).int({ message: "must be a whole number" })
        .min(0, { message: "must be 0 or more" }).max(1_000_000, { message: "must be at most 1000000" }).default(0),
}, { error: "must be a stream name such as studio, or a mapping such as { name: studio, rotation: 1 }" });

/** `- studio` is short for `- { name: studio }`. */
const streamsSchema = z.preprocess(
    (v: unknown) => (Array.isArray(v) ? v.map((x: unknown) => (typeof x === "string" ? { name: x } : x)) : v),
    z.array(streamSchema, { error: "must be a list of stream names, e.g. [studio, garden_cam]" })
        .min(1, { message: "must list at least one stream (to publish nothing, set streaming.enabled: false)" })
        .max(MAX_STREAMS, { message: `must list at most ${MAX_STREAMS} streams` })
        .superRefine((list, ctx) => {
            const seen = new Map<string, number>();
            list.forEach((st, i) => {
                const first = seen.get(st.name);
                if (first !== undefined) {
                    ctx.addIssue({ code: "custom", path: [i, "name"], message: `${st.name} is listed twice (also at streams[${first}]): list each stream once` });
                } else {
                    seen.set(st.name, i);
                }
            });
        }),
).default([{ name: DEFAULT_STREAM, rotation: 0 }]);

export const streamingSchema = z.strictObject({
    /** false leaves the platform out of the stack (and removes it from a running one). */
    enabled: z.boolean({ error: "must be true or false" }).default(true),
    namespace: z.string({ error: "must be a namespace name written as text, e.g. streaming" })
        .regex(DNS_LABEL, { message: "must be a Kubernetes namespace name: lowercase letters, digits and '-', at most 63, e.g. streaming" })
        .refine((s) => !RESERVED_NAMESPACES.includes(s), { message: `must not be one of Kubernetes' own namespaces (${RESERVED_NAMESPACES.join(", ")})` })
        .default("streaming"),
    /** The page's title. */
    title: z.string({ error: "must be text" }).trim().min(1, { message: "must not be empty" }).max(100, { message: "must be at most 100 characters" })
        .default("picluster streams"),
    /** Host name for the Ingress rule and the URLs (DNS pointing at the nodes); omit to answer any host. */
    host: z.string({ error: "must be a DNS name written as text, e.g. stream.pi.lan" })
        .regex(DNS_NAME, { message: "must be a lowercase DNS name such as stream.pi.lan (no scheme, no port, no path)" }).optional(),
    /** Address used in the ingest and player URLs when no host is set; defaults to the first server's address. */
    address: z.string({ error: "must be an IPv4 address or DNS name written as text" })
        .refine((s) => IPV4.test(s) || DNS_NAME.test(s), { message: "must be an IPv4 address such as 10.10.50.194 or a DNS name such as rasp04.lan" }).optional(),
    /** RTMP port opened on every node by k3s's ServiceLB. */
    rtmpPort: z.number({ error: "must be a port number, e.g. 1935" }).int({ message: "must be a whole number" })
        .min(1, { message: "must be 1-65535" }).max(65535, { message: "must be 1-65535" })
        .refine((p) => !TAKEN_PORTS.includes(p), { message: `is already used on the nodes (${TAKEN_PORTS.join(", ")} are taken): keep 1935` })
        .default(1935),
    /** RTMP application: publish to rtmp://<address>:<rtmpPort>/<application>/<stream key>. */
    application: z.string({ error: "must be a name written as text, e.g. live" })
        .regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/, { message: "must be a name such as live (a letter, then letters, digits, '_' or '-'; at most 32)" })
        .refine((s) => s !== "rec", { message: "\"rec\" is reserved for the recordings; use another name such as live" })
        .default("live"),
    /**
     * The streams that may be published, each a name (or { name, rotation }). Each gets its own
     * generated publish key; a publish under any other name, or without the stream's key, is
     * refused before a byte is written. At most one publisher per stream at a time, so the list
     * is also the most publishers (and recordings) at once.
     */
    streams: streamsSchema,
    hls: z.strictObject({
        /** Segment length; the encoder must send a keyframe at least this often. */
        fragmentSeconds: z.number({ error: "must be a number of seconds" }).int({ message: "must be a whole number of seconds" })
            .min(1, { message: "must be 1-10 seconds" }).max(10, { message: "must be 1-10 seconds" }).default(1),
        playlistSeconds: z.number({ error: "must be a number of seconds" }).int({ message: "must be a whole number of seconds" })
            .min(3, { message: "must be 3-120 seconds" }).max(120, { message: "must be 3-120 seconds" }).default(10),
        /** Keep live segments in RAM (tmpfs) instead of on the SD card. */
        inMemory: z.boolean({ error: "must be true or false" }).default(true),
        /** Size cap of the live segment folder. */
        sizeLimit: memory().default("64Mi"),
    }, object("{ fragmentSeconds: 1, playlistSeconds: 10 }")).superRefine((h, ctx) => {
        if (h.playlistSeconds < 3 * h.fragmentSeconds) {
            ctx.addIssue({ code: "custom", path: ["playlistSeconds"], message: `${h.playlistSeconds} is less than 3 fragments (3 x fragmentSeconds = ${3 * h.fragmentSeconds}); players need at least 3 segments` });
        }
    }).prefault({}),
    player: z.strictObject({
        /** Pods serving the page (static; spread over nodes). */
        replicas: z.number({ error: "must be a number" }).int({ message: "must be a whole number" })
            .min(1, { message: "must be 1-10" }).max(10, { message: "must be 1-10" }).default(2),
        /** How far behind the live edge the page plays (seconds). */
        liveSyncSeconds: z.number({ error: "must be a number of seconds" })
            .min(0.5, { message: "must be 0.5-30 seconds" }).max(30, { message: "must be 0.5-30 seconds" }).default(1.5),
    }, object("{ replicas: 2 }")).prefault({}),
    recording: z.strictObject({
        enabled: z.boolean({ error: "must be true or false" }).default(true),
        /** PersistentVolumeClaim size. */
        size: z.string({ error: "must be a storage size written as text, e.g. \"8Gi\"" })
            .regex(STORAGE, { message: "must be a storage size such as \"8Gi\" (Mi, Gi or Ti)" }).default("8Gi"),
        /** k3s ships local-path: the volume lives on one node's disk. */
        storageClass: z.string({ error: "must be a storage class name written as text" })
            .regex(DNS_NAME, { message: "must be a storage class name such as local-path" }).default("local-path"),
        fragmentSeconds: z.number({ error: "must be a number of seconds" }).int({ message: "must be a whole number of seconds" })
            .min(1, { message: "must be 1-30 seconds" }).max(30, { message: "must be 1-30 seconds" }).default(4),
        /** The longest recording listed in one playlist. */
        maxHours: z.number({ error: "must be a number of hours" }).int({ message: "must be a whole number of hours" })
            .min(1, { message: "must be 1-48 hours" }).max(48, { message: "must be 1-48 hours" }).default(12),
        /** Recordings untouched for this many days are deleted daily; 0 keeps everything. */
        retentionDays: z.number({ error: "must be a number of days" }).int({ message: "must be a whole number of days" })
            .min(0, { message: "must be 0 (keep forever) to 3650" }).max(3650, { message: "must be 0 (keep forever) to 3650" }).default(14),
    }, object("{ enabled: true, size: 8Gi }")).prefault({}),
    images: z.strictObject({
        server: imageRef(DEFAULT_SERVER_IMAGE).default(DEFAULT_SERVER_IMAGE),
        player: imageRef(DEFAULT_PLAYER_IMAGE).default(DEFAULT_PLAYER_IMAGE),
    }, object(`{ server: ${DEFAULT_SERVER_IMAGE} }`)).prefault({}),
    resources: z.strictObject({
        // nginx-rtmp remuxes without transcoding: ~2-5 % of a Pi 3B+ core per 3 Mbit/s stream,
        // and ~10 MiB of RAM plus the in-memory live segments (hls.sizeLimit counts here).
        server: resourcesSchema({ cpuRequest: "100m", memoryRequest: "96Mi", cpuLimit: "1", memoryLimit: "256Mi" }),
        player: resourcesSchema({ cpuRequest: "10m", memoryRequest: "16Mi", cpuLimit: "200m", memoryLimit: "64Mi" }),
    }, object("{ server: { memoryLimit: 256Mi } }")).prefault({}),
}, object("{ host: stream.pi.lan, recording: { size: 8Gi } }")).superRefine((s, ctx) => {
    if (s.hls.inMemory && quantity(s.hls.sizeLimit) + 32 * 2 ** 20 > quantity(s.resources.server.memoryLimit)) {
        ctx.addIssue({
            code: "custom", path: ["hls", "sizeLimit"],
            message: `${s.hls.sizeLimit} of in-memory segments needs resources.server.memoryLimit of at least sizeLimit + 32Mi (now ${s.resources.server.memoryLimit}); raise it or set hls.inMemory: false`,
        });
    }
    const r = s.recording;
    if (r.retentionDays > 0 && r.retentionDays * 24 <= r.maxHours) {
        ctx.addIssue({
            code: "custom", path: ["recording", "retentionDays"],
            message: `${r.retentionDays} day(s) would delete segments that a playlist still lists (recording.maxHours is ${r.maxHours}): keep more than ${Math.floor(r.maxHours / 24)} day(s), or 0 to keep everything`,
        });
    }
    if (r.enabled && recordingShareBytes(r.size, s.streams.length) < MIN_SHARE) {
        ctx.addIssue({
            code: "custom", path: ["recording", "size"],
            message: `${r.size} split over ${s.streams.length} streams leaves ${Math.floor(recordingShareBytes(r.size, s.streams.length) / 2 ** 20)}Mi of recordings each (${RECORDING_FILL_PERCENT} % of the volume, shared equally): raise recording.size or list fewer streams`,
        });
    }
    if (s.player.liveSyncSeconds > s.hls.playlistSeconds - s.hls.fragmentSeconds) {
        ctx.addIssue({
            code: "custom", path: ["player", "liveSyncSeconds"],
            message: `${s.player.liveSyncSeconds} s is further back than the playlist reaches (hls.playlistSeconds - hls.fragmentSeconds = ${s.hls.playlistSeconds - s.hls.fragmentSeconds} s)`,
        });
    }
}).prefault({});

export type StreamingSettings = z.infer<typeof streamingSchema>;
export type StreamSettings = StreamingSettings["streams"][number];

/**
 * Each stream's share of the recordings volume (bytes): RECORDING_FILL_PERCENT of `size`,
 * split equally. A stream whose recordings reach it stops recording (its live stream goes on)
 * until the retention sweep frees room.
 */
export function recordingShareBytes(size: string, streams: number): number {
    return Math.floor((quantity(size) * RECORDING_FILL_PERCENT) / 100 / streams);
}

/** Validates `picluster:streaming` alone; the message lists every problem, one per line, naming the key. */
export function parseStreamingSettings(raw: unknown): StreamingSettings {
    const parsed = streamingSchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    throw new InventoryError(describeIssues(parsed.error.issues, ["streaming"]));
}
