// The etcd snapshot taken before the cluster goes away, copied to the operator's machine.
// `pulumi destroy` runs k3s's uninstall on every Pi, which deletes each server's etcd database
// and its local snapshots (scheduled by etcd-snapshot-schedule-cron, nodeConfig.ts) and every
// node's local-path volumes. So one local command, deleted before any k3s install (it depends
// on all of them), saves a snapshot on the first server that answers (`k3s etcd-snapshot save`,
// k3s's own command) and copies it over SSH into `k3s.etcdSnapshots.copyTo`. The server list is
// its trigger, so a change of the server set replaces it, and the old one's delete (ordered
// before the old servers' uninstalls, on which it depends) saves a snapshot too.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { localCommand } from "../shared/command";
import { asRoot, script, shq } from "../shared/bash";
import { Inventory } from "../../inventory/schema";

export const SNAPSHOT_NAME = "picluster-before-destroy";
export const UPGRADE_SNAPSHOT_NAME = "picluster-before-upgrade";
/** k3s's default snapshot directory (pkg/etcd/snapshot.go snapshotDir). */
export const SNAPSHOT_DIR = "/var/lib/rancher/k3s/server/db/snapshots";
/** How long destroy spends on the snapshot at most (a server is tried only within it; each try is bounded at 90 s). */
export const SNAPSHOT_DEADLINE_SECONDS = 120;

export interface SnapshotSource {
    readonly name: string;
    readonly address: string;
    readonly port: number;
    readonly user: string;
    /** The pinned host key (`ssh-ed25519 AAAA...`), if the inventory has one. */
    readonly hostKey?: string;
}

export interface CopySnapshotInput {
    /** Servers to try, in order; the first that saves a snapshot is used. */
    readonly servers: readonly SnapshotSource[];
    /** Absolute folder on this machine. */
    readonly copyTo: string;
    readonly connectTimeoutSeconds: number;
    /** No further server is tried after this long, so destroy stays bounded on a dead cluster. */
    readonly deadlineSeconds: number;
    /**
     * "destroy" (the default): no snapshot is reported, not fatal, and the data about to go is
     * named. "upgrade": a cluster that exists but saved no snapshot fails, so nothing is
     * upgraded without one; Pis without k3s yet (a new cluster) need none.
     */
    readonly purpose?: "destroy" | "upgrade";
}

function knownHostsLine(s: SnapshotSource): string {
    const host = s.port === 22 ? s.address : `[${s.address}]:${s.port}`;
    return `${host} ${s.hostKey}`;
}

/**
 * Runs on the operator's machine with the SSH private key on stdin: saves a snapshot on the
 * first server that answers and copies it into copyTo (mode 0600: it holds every Secret of the
 * cluster). No server answering is reported, not fatal: destroy must end on a dead cluster.
 */
export function renderCopySnapshotScript(input: CopySnapshotInput): string {
    if (input.servers.length === 0) throw new Error("renderCopySnapshotScript: at least one server is required");
    // On the server, as root: k3s's own save, then the file on stdout and its name on stderr.
    // k3s logs "Snapshot <name> saved." (logrus, on stderr); the stand-in prints the same words.
    const upgrade = input.purpose === "upgrade";
    const saveAndSend = asRoot(script(
        "if [ ! -x /usr/local/bin/k3s ] || [ ! -d /var/lib/rancher/k3s/server/db ]; then echo 'picluster-no-cluster-here' >&2; exit 3; fi",
        `out=$(k3s etcd-snapshot save --name ${upgrade ? UPGRADE_SNAPSHOT_NAME : SNAPSHOT_NAME} 2>&1) || { printf '%s\\n' "$out" >&2; exit 1; }`,
        `name=$(printf '%s\\n' "$out" | sed -n 's/.*Snapshot \\([^ "/]*\\) saved\\..*/\\1/p' | tail -n 1)`,
        `if [ -z "$name" ] || [ ! -f ${SNAPSHOT_DIR}/"$name" ]; then printf 'no snapshot file named in: %s\\n' "$out" >&2; exit 1; fi`,
        `echo "snapshot-name: $name" >&2`,
        `cat ${SNAPSHOT_DIR}/"$name"`,
    ));
    const tries = input.servers.flatMap((s) => [
        `if [ "$SECONDS" -ge "$deadline" ]; then echo "picluster: no time left to try ${s.name} (${input.deadlineSeconds} s for the snapshot)" >&2; else`,
        s.hostKey
            ? `printf '%s\\n' ${shq(knownHostsLine(s))} > "$work/known_hosts"; strict=yes`
            : `: > "$work/known_hosts"; strict=accept-new`,
        `if on ${shq(s.user)} ${shq(s.address)} ${s.port} > "$dest/.incoming" 2> "$work/err"; then`,
        "  name=$(sed -n 's/^snapshot-name: //p' \"$work/err\" | tail -n 1)",
        "  mv -f \"$dest/.incoming\" \"$dest/$name\"",
        `  echo "picluster: etcd snapshot $name of ${s.name} copied to $dest/$name"`,
        "  echo \"picluster: restore it into this stack's servers with tools/restore-etcd -s <stack> $dest/$name\"",
        "  warn_data; exit 0",
        "fi",
        "if grep -q picluster-no-cluster-here \"$work/err\"; then no_cluster=$((no_cluster + 1)); fi",
        `echo "picluster: ${s.name} saved no etcd snapshot: $(tail -n 2 "$work/err" | tr '\\n' ' ')" >&2`,
        "rm -f \"$dest/.incoming\"",
        "fi",
    ]);
    return script(
        "umask 077",
        `dest=${shq(input.copyTo)}`,
        "mkdir -p \"$dest\"",
        "work=$(mktemp -d)",
        "trap 'rm -rf \"$work\"' EXIT",
        "# The SSH private key, from stdin: never on a command line. ssh needs its last line ended.",
        "key=$(cat); printf '%s\\n' \"$key\" > \"$work/key\"; unset key",
        `deadline=$(( SECONDS + ${input.deadlineSeconds} ))`,
        `remote=${shq(saveAndSend)}`,
        "on() {  # user address port: runs $remote there",
        "  timeout 90 ssh -F /dev/null -i \"$work/key\" -o IdentitiesOnly=yes -o BatchMode=yes -o LogLevel=ERROR " +
            `-o ConnectTimeout=${input.connectTimeoutSeconds} -o ServerAliveInterval=5 -o ServerAliveCountMax=3 ` +
            "-o UserKnownHostsFile=\"$work/known_hosts\" -o StrictHostKeyChecking=\"$strict\" -p \"$3\" \"$1@$2\" \"$remote\"",
        "}",
        "no_cluster=0",
        // Only destroy deletes data; an upgrade keeps it.
        upgrade ? "warn_data() { :; }" : "warn_data() {\n" +
            `  echo "picluster: k3s's uninstall now deletes every server's etcd data and local snapshots (${SNAPSHOT_DIR}) and every node's local-path volumes (/var/lib/rancher/k3s/storage)"\n}`,
        ...tries,
        ...(upgrade ? [
            `if [ "$no_cluster" -eq ${input.servers.length} ]; then echo "picluster: no server runs k3s yet: a new cluster needs no snapshot"; exit 0; fi`,
            "echo \"picluster: no server saved an etcd snapshot, so nothing is upgraded (a rolling upgrade starts from a snapshot in $dest); see the messages above, then run pulumi up again\" >&2",
            "exit 1",
        ] : [
            "echo \"picluster: no server saved an etcd snapshot; nothing was copied to $dest\" >&2",
            "warn_data",
        ]),
    );
}

export interface EtcdSnapshotOnDestroyArgs {
    readonly servers: readonly SnapshotSource[];
    /** As in the stack config: relative to the project folder, or absolute. */
    readonly copyTo: string;
    readonly connectTimeoutSeconds: number;
    /** Secret. */
    readonly privateKey: pulumi.Input<string>;
}

/** Both snapshot commands' arguments, from the inventory: every server to try, the folder, the key. */
export function snapshotArgs(inv: Inventory, privateKey: pulumi.Input<string>): EtcdSnapshotOnDestroyArgs {
    return {
        servers: inv.servers.map((h) => ({ name: h.name, address: h.address, port: inv.ssh.port, user: inv.ssh.user, hostKey: h.hostKey })),
        copyTo: inv.k3s.etcdSnapshots.copyTo,
        connectTimeoutSeconds: inv.ssh.perDialTimeoutSeconds,
        privateKey,
    };
}

/** The local command whose delete saves and copies the snapshot; depend on it from nothing, make it depend on every install. */
export function etcdSnapshotOnDestroy(name: string, args: EtcdSnapshotOnDestroyArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
    const copyTo = path.resolve(args.copyTo);
    return localCommand(name, {
        create: `echo ${shq(`picluster: before destroy, or when the servers change, an etcd snapshot is saved and copied to ${copyTo}`)}`,
        delete: renderCopySnapshotScript({ servers: args.servers, copyTo, connectTimeoutSeconds: args.connectTimeoutSeconds, deadlineSeconds: SNAPSHOT_DEADLINE_SECONDS }),
        interpreter: ["/bin/bash", "-c"],
        stdin: pulumi.secret(args.privateKey),
        logging: "stdoutAndStderr",
        // A changed script alone is an update (the command provider runs `create` again); the
        // server set as a trigger makes it a replacement, whose old delete saves the snapshot.
        triggers: args.servers.map((s) => `${s.name}@${s.address}:${s.port}`),
    }, opts);
}

export interface EtcdSnapshotBeforeUpgradeArgs extends EtcdSnapshotOnDestroyArgs {
    /** What a rolling upgrade follows: a change of these replaces the command, which saves a snapshot. */
    readonly upgradeTriggers: readonly string[];
}

/**
 * The local command that saves and copies a snapshot before a rolling upgrade: its create runs
 * again (a replacement) whenever the k3s settings change, and the first server's install (so
 * every server's, chained behind it) waits for it. On a new cluster it finds no k3s and passes.
 */
export function etcdSnapshotBeforeUpgrade(name: string, args: EtcdSnapshotBeforeUpgradeArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
    const copyTo = path.resolve(args.copyTo);
    return localCommand(name, {
        create: renderCopySnapshotScript({
            servers: args.servers, copyTo, connectTimeoutSeconds: args.connectTimeoutSeconds, deadlineSeconds: SNAPSHOT_DEADLINE_SECONDS, purpose: "upgrade",
        }),
        // Only the server list changed (its triggers did not): no node's k3s changes, so no
        // snapshot is due here (the destroy-time command saves one as the server set changes).
        update: `echo ${shq("picluster: the servers changed, the k3s settings did not: no snapshot before an upgrade is due")}`,
        interpreter: ["/bin/bash", "-c"],
        stdin: pulumi.secret(args.privateKey),
        logging: "stdoutAndStderr",
        triggers: [...args.upgradeTriggers],
    }, opts);
}
