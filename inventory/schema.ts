// The stack's inventory: which Pis exist, what each one does and how to reach them.
// Everything here is pure (no Pulumi calls) so that every refusal can be tested
// without an engine, and so that bad input is refused before any resource exists.
import { z } from "zod";
import { DNS_LABEL, IPV4, K3S_RELEASE } from "./patterns";
import { contains, networkSize, overlaps, parseCidr } from "./networks";
import { streamingSchema, StreamingSettings } from "./streaming";
import { CONFIG_NAMESPACE, describeIssues, InventoryError, keyPath } from "./issues";
import { API_PORT, DEFAULT_AGENT_CHECK_PORT, DEFAULT_HEALTH_CHECK } from "./wellKnown";

// Config keys are written `picluster:<key>` in Pulumi.<stack>.yaml; refusals are worded in issues.ts.
export { CONFIG_NAMESPACE, InventoryError };

export const ROLES = ["server", "agent", "loadbalancer"] as const;
export type Role = (typeof ROLES)[number];

// k3s release tags look like v1.33.5+k3s1; a channel name ("stable") is not a pin.
// `ssh-keyscan` output minus the host name: "<type> <base64>".
const HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}$/;
// The SSH client of @pulumi/command (golang.org/x/crypto/ssh, pulumi-command v1.2.1
// provider/pkg/provider/remote/connection.go) offers exactly the pinned key's type as the host-key
// algorithm; for an RSA key that is "ssh-rsa" (SHA-1 signatures), which OpenSSH 8.8 and later
// (Raspberry Pi OS Bookworm has 9.2) refuse: the connection could never be made.
const RSA_PIN = "is an ssh-rsa key, which cannot be pinned: the SSH client of @pulumi/command would only accept it with SHA-1 signatures, which OpenSSH 8.8 and later (Raspberry Pi OS Bookworm) refuse, so every connection would fail; pin the Pi's ed25519 key instead: `ssh-keyscan -t ed25519 <address>`, without the leading address";

const ipv4 = () =>
    z.string({ error: "must be an IPv4 address written as text, e.g. \"10.10.50.194\"" })
        .regex(IPV4, { message: `is not an IPv4 address: use four numbers 0-255 separated by dots, e.g. 10.10.50.194` });

const hostSchema = z.strictObject({
    name: z.string({ error: "is required: the Pi's hostname, e.g. rasp00" })
        .regex(DNS_LABEL, { message: "must be a lowercase hostname (letters, digits, '-'; at most 63 characters), e.g. rasp00" }),
    address: ipv4(),
    role: z.enum(ROLES, { error: `must be one of ${ROLES.join(", ")}` }),
    hostKey: z.string()
        // Checked first: an RSA key has the right shape but can never be used (see RSA_PIN).
        .refine((k) => !k.startsWith("ssh-rsa "), { message: RSA_PIN, abort: true })
        .regex(HOST_KEY, {
            message: "must be the host's public key as '<type> <base64>', e.g. the output of `ssh-keyscan -t ed25519 <address>` without the leading address",
        }).optional(),
});

/** A file on the operator's machine with the sha256 it must have (k3s publishes one per release asset). */
function airgapFileSchema(what: string) {
    return z.strictObject({
        path: z.string({ error: `is required: the path on this machine of ${what}` })
            .regex(/^[^\s'"]+$/, { message: `must be a path on this machine (no spaces or quotes) of ${what}` }),
        sha256: z.string({
            error: (issue) => issue.input === undefined
                ? "is required: the file's sha256 as k3s publishes it (sha256sum-<arch>.txt of the release)"
                : "must be written as text: put the sha256 in quotes (YAML reads a hash of only digits as a number)",
        })
            .regex(/^[0-9a-f]{64}$/, { message: "must be 64 lowercase hex digits, as printed by `sha256sum <file>`" }),
    });
}

/** Each node's share of the pod network (kube-controller-manager's --node-cidr-mask-size default). */
export const NODE_CIDR_PREFIX = 24;

/** An IPv4 network such as 10.42.0.0/16, checked as a network; `sizeProblem` refuses a prefix. */
function networkSchema(fallback: string, sizeProblem: (prefix: number) => string | undefined) {
    return z.string({ error: `must be an IPv4 network written as text, e.g. "${fallback}"` }).superRefine((text, ctx) => {
        const parsed = parseCidr(text);
        const problem = parsed.ok ? sizeProblem(parsed.network.prefix) : `must be an IPv4 network such as ${fallback}: ${parsed.problem}`;
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    }).default(fallback);
}

const CRON_MESSAGE = "must be a 5-field cron schedule such as \"0 */12 * * *\" (k3s's etcd-snapshot-schedule-cron)";
const COPY_TO_MESSAGE = "must be a folder on this machine (relative to the project folder, or absolute) without quotes, e.g. etcd-snapshots";
/** k3s's own snapshot defaults (every 12 hours, 5 kept); copies land in the project's etcd-snapshots/. */
const DEFAULT_SNAPSHOTS = { scheduleCron: "0 */12 * * *", retention: 5, copyTo: "etcd-snapshots" } as const;
const DEFAULT_UPGRADE = { maxUnavailable: 1, drainTimeoutSeconds: 120 } as const;

// S3 bucket names: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a
// letter or digit (AWS's bucket naming rules, which MinIO and Garage follow too).
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/**
 * k3s's own upload of every snapshot to an S3-compatible store, as its server flags name it
 * (k3s pkg/cli/cmds/server.go: --etcd-s3, -endpoint (default s3.amazonaws.com), -bucket, -folder,
 * -region (default us-east-1), -insecure, -skip-ssl-verify). The keys are stack secrets
 * (picluster:etcdS3AccessKey, picluster:etcdS3SecretKey), never part of this object.
 */
const etcdS3Schema = z.strictObject({
    endpoint: z.string({ error: "must be the S3 endpoint as text" })
        .regex(/^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/, { message: "must be the S3 endpoint as host or host:port without a scheme, e.g. \"s3.amazonaws.com\" or \"nas.lan:9000\" (use insecure: true for plain http)" })
        .default("s3.amazonaws.com"),
    bucket: z.string({ error: "is required: the bucket k3s uploads its snapshots to, e.g. pi-etcd-snapshots" })
        .regex(S3_BUCKET, { message: "must be an S3 bucket name: 3-63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit" }),
    folder: z.string().regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, { message: "must be a folder in the bucket such as k3s or clusters/home (letters, digits, . _ - and /)" }).optional(),
    region: z.string().regex(/^[a-z0-9-]{1,40}$/, { message: "must be an S3 region such as us-east-1" }).default("us-east-1"),
    /** Plain http to the endpoint (a NAS on the LAN without TLS). */
    insecure: z.boolean({ error: "must be true or false: true talks plain http to the endpoint" }).default(false),
    skipSslVerify: z.boolean({ error: "must be true or false: true accepts any certificate from the endpoint" }).default(false),
});

const k3sSchema = z.strictObject({
    version: z.string({ error: "is required: pin a k3s release such as v1.33.5+k3s1" })
        .regex(K3S_RELEASE, { message: "must be a pinned k3s release such as v1.33.5+k3s1 (not a channel like 'stable' or 'latest')" }),
    // Where the install script comes from: an https URL (the normal online install) or
    // an absolute path on each Pi where the script was placed beforehand (the k3s air-gapped
    // install, INSTALL_K3S_SKIP_DOWNLOAD=true; the binary then comes from `airgap`).
    installScript: z.string()
        .refine((s) => /^https:\/\/\S+$/.test(s) || /^\/[^\s'"]+$/.test(s), {
            message: "must be an https:// URL of the k3s install script or an absolute path on the Pis (air-gapped install), e.g. https://get.k3s.io",
        })
        .default("https://get.k3s.io"),
    // What an air-gapped install needs on each Pi besides install.sh, shipped by the program
    // from the operator's machine (see components/k3s/airgap.ts): k3s's real uninstall deletes
    // /usr/local/bin/k3s and /var/lib/rancher/k3s, so a binary placed by hand beforehand would be
    // gone for every reinstall (destroy then up, scaling a Pi in and out, replacing a Pi).
    airgap: z.strictObject({
        binary: airgapFileSchema("the k3s binary for the Pis' architecture, e.g. ./airgap/k3s-arm64"),
        images: airgapFileSchema("k3s's images tarball, e.g. ./airgap/k3s-airgap-images-arm64.tar.zst").optional(),
    }).optional(),
    // The pods' network: each node gets a /24 of it (kube-controller-manager's default
    // --node-cidr-mask-size, which k3s keeps), so it must be /24 or larger.
    clusterCidr: networkSchema("10.42.0.0/16", (prefix) => prefix > NODE_CIDR_PREFIX
        ? `is a /${prefix}, smaller than the /${NODE_CIDR_PREFIX} each node takes from it: use a /16 such as 10.42.0.0/16`
        : undefined),
    // The Services' network. kube-apiserver refuses one larger than a /12
    // (cmd/kube-apiserver/app/options/validation.go, maxCIDRBits = 20), and k3s puts the cluster
    // DNS at its 10th address (pkg/cli/server/server.go, ClusterDNS), so it needs at least a /28.
    serviceCidr: networkSchema("10.43.0.0/16", (prefix) => prefix < 12
        ? `is a /${prefix}: kube-apiserver refuses a service network larger than a /12; use a /16 such as 10.43.0.0/16`
        : prefix > 28 ? `is a /${prefix}: k3s puts the cluster DNS at the network's 10th address, so it needs at least a /28; use a /16 such as 10.43.0.0/16` : undefined),
    // etcd snapshots the k3s way on every server (etcd-snapshot-schedule-cron and -retention,
    // k3s's defaults), and the one saved before destroy or a change of the server set, copied to
    // `copyTo` on this machine (components/k3s/snapshots.ts).
    etcdSnapshots: z.strictObject({
        scheduleCron: z.string({ error: CRON_MESSAGE }).regex(/^\S+(\s+\S+){4}$/, { message: CRON_MESSAGE }).default(DEFAULT_SNAPSHOTS.scheduleCron),
        retention: boundedInt(1, 1000, "scheduled snapshots each server keeps, e.g. 5").default(DEFAULT_SNAPSHOTS.retention),
        copyTo: z.string({ error: COPY_TO_MESSAGE }).regex(/^[^\0\n'"]+$/, { message: COPY_TO_MESSAGE }).default(DEFAULT_SNAPSHOTS.copyTo),
        s3: etcdS3Schema.optional(),
    }).default({ ...DEFAULT_SNAPSHOTS }),
    // How a change of a running cluster (a new version, a server config change) rolls out:
    // servers one at a time, agents `maxUnavailable` at a time, each drained first
    // (components/k3s/rollingUpgrade.ts).
    upgrade: z.strictObject({
        maxUnavailable: boundedInt(1, 100, "agents upgraded at the same time, e.g. 1").default(DEFAULT_UPGRADE.maxUnavailable),
        drainTimeoutSeconds: boundedInt(10, 3600, "seconds a node's drain may take before its upgrade stops, e.g. 120").default(DEFAULT_UPGRADE.drainTimeoutSeconds),
    }).default({ ...DEFAULT_UPGRADE }),
    // Bundled components to turn off on every server (a cluster-wide setting).
    disable: z.array(z.enum(["traefik", "servicelb", "local-storage", "metrics-server", "coredns"], {
        error: "lists an unknown component: use traefik, servicelb, local-storage, metrics-server or coredns",
    })).default([]),
});

/** A whole number in [min, max]; every refusal says what the number means and its range. */
function boundedInt(min: number, max: number, meaning: string) {
    const message = `must be a whole number from ${min} to ${max}: ${meaning}`;
    return z.number({ error: message }).int({ message }).min(min, { message }).max(max, { message });
}

const loadBalancerSchema = z.strictObject({
    agentCheckPort: z.number().int().min(1).max(65535).default(DEFAULT_AGENT_CHECK_PORT),
    // The agent-check keeps full weight up to and including this 5-minute load per CPU (%).
    busyPercent: z.number().int().min(1).max(1000).default(90),
    // Above busyPercent the weight falls linearly and reaches its floor at this load.
    overloadPercent: z.number().int().min(2).max(1000).default(100),
    // keepalived's VRRP router id; must be unique on the LAN segment.
    vrrpRouterId: z.number().int().min(1).max(255).default(51),
    // The LAN interface that carries the VIP on the load-balancer Pis.
    interface: z.string().regex(/^[a-zA-Z0-9_.-]{1,15}$/, { message: "must be a network interface name such as eth0" }).default("eth0"),
    // How HAProxy checks each server's /readyz; the defaults fit Pis (see haproxyConfig.ts).
    healthCheck: z.strictObject({
        intervalMs: boundedInt(100, 60_000, "milliseconds between checks, e.g. 400").default(DEFAULT_HEALTH_CHECK.intervalMs),
        timeoutMs: boundedInt(100, 60_000, "milliseconds a check may take, e.g. 1000 (above your slowest server's answer)").default(DEFAULT_HEALTH_CHECK.timeoutMs),
        fall: boundedInt(1, 10, "failed checks in a row that mark a server down, e.g. 1").default(DEFAULT_HEALTH_CHECK.fall),
        rise: boundedInt(1, 10, "good checks in a row that bring it back, e.g. 2").default(DEFAULT_HEALTH_CHECK.rise),
    }).default({ ...DEFAULT_HEALTH_CHECK }),
});

const sshSchema = z.strictObject({
    user: z.string({ error: "is required: the SSH login on every Pi, e.g. pirate" })
        .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { message: "must be a Unix user name such as pirate" }),
    port: z.number().int().min(1).max(65535).default(22),
    // Bounded dialing, so that a dead Pi fails `up`/`destroy` in about
    // dialAttempts x perDialTimeoutSeconds instead of hanging.
    perDialTimeoutSeconds: z.number().int().min(1).max(120).default(10),
    dialAttempts: z.number().int().min(1).max(60).default(6),
});

/** The raw shape of the stack's `picluster:*` config, before cross-field checks. */
export const rawInventorySchema = z.strictObject({
    hosts: z.array(hostSchema, { error: "is required: a list of Pis, each with name, address and role" })
        .min(1, { message: "must list at least one Pi" }),
    vip: ipv4().optional(),
    ssh: sshSchema,
    k3s: k3sSchema,
    loadBalancer: loadBalancerSchema.default({
        agentCheckPort: DEFAULT_AGENT_CHECK_PORT, busyPercent: 90, overloadPercent: 100, vrrpRouterId: 51, interface: "eth0",
        healthCheck: { ...DEFAULT_HEALTH_CHECK },
    }),
    streaming: streamingSchema,
    sshPrivateKey: z.literal("<secret>", { error: "is required as a secret: run `pulumi config set --secret picluster:sshPrivateKey < ~/.ssh/id_ed25519`" }),
    // The S3 store's keys for k3s.etcdSnapshots.s3 (checked together in crossChecks).
    etcdS3AccessKey: z.literal("<secret>").optional(),
    etcdS3SecretKey: z.literal("<secret>").optional(),
});

export type RawInventory = z.infer<typeof rawInventorySchema>;
export type HostSpec = RawInventory["hosts"][number];
export type K3sSettings = RawInventory["k3s"];
export type LoadBalancerSettings = RawInventory["loadBalancer"];
export type SshSettings = RawInventory["ssh"];

/** A validated inventory with roles resolved; the only type components see. */
export interface Inventory {
    readonly hosts: readonly HostSpec[];
    /** Servers in join order: the first one runs `--cluster-init`. */
    readonly servers: readonly HostSpec[];
    readonly agents: readonly HostSpec[];
    readonly loadBalancers: readonly HostSpec[];
    /** The address clients and agents use for the API: the VIP, else the first load balancer. */
    readonly apiAddress: string;
    readonly vip?: string;
    readonly ssh: SshSettings;
    readonly k3s: K3sSettings;
    readonly loadBalancer: LoadBalancerSettings;
    readonly streaming: StreamingSettings;
}

/**
 * Validates the stack's config. `raw` holds the namespace's keys with the secret ones
 * replaced by the placeholder "<secret>" (their values never reach this function).
 */
export function parseInventory(raw: Record<string, unknown>): Inventory {
    const parsed = rawInventorySchema.safeParse(raw);
    if (!parsed.success) {
        throw new InventoryError(describeIssues(parsed.error.issues));
    }
    const inv = parsed.data;
    const problems = crossChecks(inv);
    if (problems.length > 0) throw new InventoryError(problems);

    const byRole = (role: Role) => inv.hosts.filter((h) => h.role === role);
    const loadBalancers = byRole("loadbalancer");
    return {
        hosts: inv.hosts,
        servers: byRole("server"),
        agents: byRole("agent"),
        loadBalancers,
        apiAddress: inv.vip ?? loadBalancers[0].address,
        vip: inv.vip,
        ssh: inv.ssh,
        k3s: inv.k3s,
        loadBalancer: inv.loadBalancer,
        streaming: inv.streaming,
    };
}

function crossChecks(inv: RawInventory): string[] {
    const problems: string[] = [];
    const firstIndexOfName = new Map<string, number>();
    const firstIndexOfAddress = new Map<string, number>();
    inv.hosts.forEach((h, i) => {
        const prev = firstIndexOfName.get(h.name);
        if (prev !== undefined) {
            const other = inv.hosts[prev];
            problems.push(other.role !== h.role
                ? `${keyPath(["hosts", i, "name"])}: ${h.name} is listed as ${other.role} (hosts[${prev}]) and as ${h.role}: a Pi has exactly one role; keep one entry`
                : `${keyPath(["hosts", i, "name"])}: duplicate name ${h.name} (also hosts[${prev}]); every Pi needs its own hostname`);
        } else {
            firstIndexOfName.set(h.name, i);
        }
        const prevAddr = firstIndexOfAddress.get(h.address);
        if (prevAddr !== undefined) {
            problems.push(`${keyPath(["hosts", i, "address"])}: duplicate address ${h.address} (also hosts[${prevAddr}] ${inv.hosts[prevAddr].name}); give each Pi its own address`);
        } else {
            firstIndexOfAddress.set(h.address, i);
        }
    });

    const servers = inv.hosts.filter((h) => h.role === "server").length;
    if (servers === 0) {
        problems.push(`${keyPath(["hosts"])}: no host has role server; list an odd number (1, 3, 5 or 7) of servers`);
    } else if (servers % 2 === 0) {
        problems.push(`${keyPath(["hosts"])}: ${servers} servers is an even number; embedded etcd needs an odd count (1, 3, 5, 7) to keep quorum: add or remove one server`);
    }
    const lbs = inv.hosts.filter((h) => h.role === "loadbalancer").length;
    if (lbs === 0) {
        problems.push(`${keyPath(["hosts"])}: no host has role loadbalancer; agents and kubectl reach the API through one, so list at least one (two with a vip for HA)`);
    }
    if (inv.vip !== undefined) {
        const clash = inv.hosts.findIndex((h) => h.address === inv.vip);
        if (clash >= 0) {
            problems.push(`${keyPath(["vip"])}: ${inv.vip} is also the address of hosts[${clash}] ${inv.hosts[clash].name}; choose a free address on the same LAN for the virtual IP`);
        }
        if (lbs === 1) {
            problems.push(`${keyPath(["vip"])}: a virtual IP needs at least two loadbalancer hosts to move between; add a second loadbalancer or remove vip`);
        }
    }
    if (inv.k3s.installScript.startsWith("/") && inv.k3s.airgap === undefined) {
        problems.push(`${keyPath(["k3s", "installScript"])}: ${inv.k3s.installScript} is an air-gapped install, which also needs ${keyPath(["k3s", "airgap", "binary"])} ({path, sha256} of the k3s binary on this machine): k3s's uninstall deletes /usr/local/bin/k3s, so a binary placed on the Pis by hand would be gone for every reinstall`);
    }
    problems.push(...etcdS3Checks(inv));
    problems.push(...networkChecks(inv));
    problems.push(...streamingNeeds(inv));
    const lb = inv.loadBalancer;
    if (lb.overloadPercent <= lb.busyPercent) {
        problems.push(`${keyPath(["loadBalancer", "overloadPercent"])}: ${lb.overloadPercent} must be greater than busyPercent (${lb.busyPercent})`);
    }
    if (lb.agentCheckPort === API_PORT) {
        problems.push(`${keyPath(["loadBalancer", "agentCheckPort"])}: ${API_PORT} is the Kubernetes API port; use another port such as ${DEFAULT_AGENT_CHECK_PORT}`);
    }
    return problems;
}

/** S3 snapshots need both keys, and keys are only for S3 snapshots. */
function etcdS3Checks(inv: RawInventory): string[] {
    const s3 = keyPath(["k3s", "etcdSnapshots", "s3"]);
    const keys = [
        { key: keyPath(["etcdS3AccessKey"]), set: inv.etcdS3AccessKey !== undefined },
        { key: keyPath(["etcdS3SecretKey"]), set: inv.etcdS3SecretKey !== undefined },
    ];
    if (inv.k3s.etcdSnapshots.s3 !== undefined) {
        return keys.filter((k) => !k.set).map((k) =>
            `${k.key}: is required with ${s3}: store the S3 store's key as a secret with \`pulumi config set --secret ${k.key}\` (it reaches the servers on stdin, never on a command line)`);
    }
    return keys.filter((k) => k.set).map((k) =>
        `${k.key}: is set but ${s3} is not: add ${s3} {bucket, endpoint, ...} to upload snapshots there, or remove the key with \`pulumi config rm ${k.key}\``);
}

/** The pod and service networks are apart from each other and from every Pi's address and the VIP. */
function networkChecks(inv: RawInventory): string[] {
    const problems: string[] = [];
    const pods = parseCidr(inv.k3s.clusterCidr);
    const services = parseCidr(inv.k3s.serviceCidr);
    if (!pods.ok || !services.ok) return problems; // already refused by the schema
    const nets = [
        { key: keyPath(["k3s", "clusterCidr"]), what: "pod network", net: pods.network },
        { key: keyPath(["k3s", "serviceCidr"]), what: "service network", net: services.network },
    ];
    if (overlaps(pods.network, services.network)) {
        problems.push(`${nets[1].key}: ${inv.k3s.serviceCidr} overlaps the pod network ${inv.k3s.clusterCidr} (${nets[0].key}); give them separate ranges such as 10.42.0.0/16 and 10.43.0.0/16`);
    }
    const nodes = inv.hosts.filter((h) => h.role !== "loadbalancer").length;
    const slots = networkSize(pods.network.prefix) / networkSize(NODE_CIDR_PREFIX);
    if (slots < nodes) {
        problems.push(`${nets[0].key}: ${inv.k3s.clusterCidr} holds ${slots} node network(s) of /${NODE_CIDR_PREFIX}, but the cluster has ${nodes} servers and agents: use a larger network such as 10.42.0.0/16`);
    }
    for (const { key, what, net } of nets) {
        inv.hosts.forEach((h, i) => {
            if (contains(net, h.address)) {
                problems.push(`${keyPath(["hosts", i, "address"])}: ${h.address} (${h.name}) lies inside the ${what} ${net.text} (${key}): pods could not reach it; move ${key} to a range the LAN does not use`);
            }
        });
        if (inv.vip !== undefined && contains(net, inv.vip)) {
            problems.push(`${keyPath(["vip"])}: ${inv.vip} lies inside the ${what} ${net.text} (${key}): pods could not reach the API through it; move ${key} to a range the LAN does not use`);
        }
    }
    return problems;
}

/** The streaming platform relies on k3s's bundled Traefik, ServiceLB and local-path: refused when turned off. */
function streamingNeeds(inv: RawInventory): string[] {
    const s = inv.streaming;
    if (!s.enabled) return [];
    const needs: { component: string; why: string }[] = [
        { component: "traefik", why: "serves its player page and playlists through an Ingress of class traefik" },
        { component: "servicelb", why: "publishes its RTMP port on the nodes' addresses through a LoadBalancer Service" },
    ];
    if (s.recording.enabled && s.recording.storageClass === "local-path") {
        needs.push({ component: "local-storage", why: "keeps its recordings on a local-path volume (streaming.recording.storageClass)" });
    }
    return needs.filter((n) => inv.k3s.disable.includes(n.component as K3sSettings["disable"][number]))
        .map((n) => `${keyPath(["k3s", "disable"])}: turns off ${n.component}, which the streaming platform needs: it ${n.why}; remove ${n.component} from the list or set ${keyPath(["streaming", "enabled"])}: false`);
}
