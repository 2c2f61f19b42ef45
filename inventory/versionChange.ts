// Which k3s version changes the program accepts, decided before any resource is registered
// (so before any SSH connection): the version the cluster runs is the stack's last
// `k3sVersion` output (written only by an `up` that completed), the new one is
// `picluster:k3s.version`.
//
// k3s's upgrade docs: upgrade one minor version at a time (the Kubernetes version skew
// policy: kube-apiserver instances may differ by one minor version at most, and an apiserver
// skipping a minor may not read what the skipped one stored), and there is no supported
// downgrade (etcd's data, migrated by the newer apiserver, may not be readable by the older).

import { K3S_RELEASE } from "./patterns";

export interface K3sVersion {
    readonly major: number;
    readonly minor: number;
    readonly patch: number;
    /** The k3s packaging revision, the N of `+k3sN`. */
    readonly revision: number;
}

export function parseK3sVersion(text: string): K3sVersion | undefined {
    const m = K3S_RELEASE.exec(text);
    if (!m) return undefined;
    return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), revision: Number(m[4]) };
}

function compare(a: K3sVersion, b: K3sVersion): number {
    return a.major - b.major || a.minor - b.minor || a.patch - b.patch || a.revision - b.revision;
}

/**
 * The problem with moving the cluster from `running` to `wanted`, or undefined when the move is
 * fine (no change, a patch or revision bump, or the next minor). `running` undefined: a new
 * cluster, or one whose last up never completed, so anything goes. `key` names the setting.
 */
export function versionChangeProblem(running: string | undefined, wanted: string, key: string): string | undefined {
    if (running === undefined || running === wanted) return undefined;
    const from = parseK3sVersion(running);
    const to = parseK3sVersion(wanted);
    if (!from || !to) return undefined; // the schema refuses a malformed wanted; an unreadable running one gives no verdict
    if (compare(to, from) < 0) {
        return `${key}: ${wanted} is older than ${running}, which the cluster runs; k3s does not support downgrades ` +
            `(etcd holds data the newer version migrated). Set it back to ${running} or a newer release.`;
    }
    if (to.major !== from.major) {
        return `${key}: ${wanted} changes the major version of ${running}, which the cluster runs; upgrade within v${from.major} one minor version at a time.`;
    }
    if (to.minor > from.minor + 1) {
        const next = `v${from.major}.${from.minor + 1}`;
        return `${key}: ${wanted} skips ${to.minor - from.minor - 1 === 1 ? next : `${next} to v${from.major}.${to.minor - 1}`} from ${running}, which the cluster runs; ` +
            `k3s upgrades one minor version at a time: set a ${next} release first, run \`pulumi up\`, then ${wanted}.`;
    }
    return undefined;
}
