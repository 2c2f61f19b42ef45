// Checks shared by the mocks test and the render-to-YAML test: what every object of the
// streaming platform must satisfy. Returns the problems found, one line each.
import { quantity } from "../../inventory/streaming";

export interface K8sObject {
    apiVersion: string;
    kind: string;
    metadata?: { name?: string; namespace?: string; [k: string]: unknown };
    spec?: unknown;
    data?: unknown;
    [k: string]: unknown;
}

/**
 * The GA API version of each kind we use, served by Kubernetes 1.25 through 1.35 (k3s pins
 * v1.33). Older versions were removed: extensions/v1beta1 and networking.k8s.io/v1beta1 Ingress
 * (1.22), policy/v1beta1 PodDisruptionBudget and batch/v1beta1 CronJob (1.25).
 */
export const SERVED_API_VERSIONS: Record<string, readonly string[]> = {
    Namespace: ["v1"],
    ConfigMap: ["v1"],
    Secret: ["v1"],
    Service: ["v1"],
    PersistentVolumeClaim: ["v1"],
    Deployment: ["apps/v1"],
    Ingress: ["networking.k8s.io/v1"],
    PodDisruptionBudget: ["policy/v1"],
    CronJob: ["batch/v1"],
};

// A Pi 3B+ has 1 GiB; k3s and the OS take ~250 MiB.
const PI_MEMORY_LIMIT = 768 * 2 ** 20;
const PINNED = /^[^@\s]+(:(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})(@sha256:[a-f0-9]{64})?$|^[^@\s:]+@sha256:[a-f0-9]{64}$/;

interface Container {
    name: string; image?: string;
    readinessProbe?: unknown; livenessProbe?: unknown;
    resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

function podSpec(o: K8sObject): { containers?: Container[] } | undefined {
    type Pod = { containers?: Container[] };
    const spec = o.spec as { template?: { spec?: Pod }; jobTemplate?: { spec?: { template?: { spec?: Pod } } } } | undefined;
    if (o.kind === "Deployment") return spec?.template?.spec;
    if (o.kind === "CronJob") return spec?.jobTemplate?.spec?.template?.spec;
    return undefined;
}

export function checkObjects(objects: readonly K8sObject[]): string[] {
    const problems: string[] = [];
    for (const o of objects) {
        const id = `${o.kind} ${o.metadata?.name ?? "?"}`;
        const served = SERVED_API_VERSIONS[o.kind];
        if (!served) problems.push(`${id}: kind not expected here`);
        else if (!served.includes(o.apiVersion)) problems.push(`${id}: ${o.apiVersion} is not served by current Kubernetes (use ${served.join(" or ")})`);

        const pod = podSpec(o);
        for (const c of pod?.containers ?? []) {
            const cid = `${id} container ${c.name}`;
            if (!c.image || !PINNED.test(c.image)) problems.push(`${cid}: image ${c.image ?? "(none)"} is not pinned to a version`);
            // A Job's pod runs to completion: probes are for long-running servers.
            if (o.kind === "Deployment") {
                if (!c.readinessProbe) problems.push(`${cid}: no readinessProbe`);
                if (!c.livenessProbe) problems.push(`${cid}: no livenessProbe`);
            }
            for (const kind of ["requests", "limits"] as const) {
                for (const r of ["cpu", "memory"]) {
                    if (!c.resources?.[kind]?.[r]) problems.push(`${cid}: resources.${kind}.${r} missing`);
                }
            }
            const mem = c.resources?.limits?.memory;
            if (mem && quantity(mem) > PI_MEMORY_LIMIT) problems.push(`${cid}: memory limit ${mem} does not fit a Pi 3B+ (at most 768Mi)`);
            const cpu = c.resources?.limits?.cpu;
            if (cpu && quantity(cpu) > 4) problems.push(`${cid}: cpu limit ${cpu} is more than a Pi's 4 cores`);
        }
        if (o.kind === "PersistentVolumeClaim") {
            const spec = o.spec as { storageClassName?: string; resources?: { requests?: { storage?: string } } } | undefined;
            if (!spec?.storageClassName) problems.push(`${id}: no storageClassName (want local-path)`);
            if (!spec?.resources?.requests?.storage) problems.push(`${id}: no storage size requested`);
        }
    }
    return problems;
}
