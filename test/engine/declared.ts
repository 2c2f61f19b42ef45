// What the program declares for a stack, counted under the strict mocks exactly as index.ts
// wires it (cluster, streaming platform when enabled, the stack and its two random passwords):
// the engine tests compare it with `pulumi preview`, and the preview benchmark times both sides.
import * as pulumi from "@pulumi/pulumi";
import { parseInventory } from "../../inventory/schema";
import { buildCluster } from "../../components/cluster";
import { StreamingPlatform } from "../../components/streaming";
import { installStrictMocks, settle, resolve } from "../unit/mocks";

/** The `picluster:` keys of `pulumi config --json`, secrets replaced by a placeholder. */
export function stackConfig(json: string): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    const all = JSON.parse(json) as Record<string, { value?: string; objectValue?: unknown; secret?: boolean }>;
    for (const [key, v] of Object.entries(all)) {
        if (!key.startsWith("picluster:")) continue;
        const name = key.slice("picluster:".length);
        if (v.secret) raw[name] = "<secret>";
        else if (v.value !== "") raw[name] = v.objectValue ?? v.value;
    }
    return raw;
}

/** Resources the program declares for a stack's config, counted by running it under mocks. */
export async function declaredResourceCount(raw: Record<string, unknown>): Promise<number> {
    const registered = installStrictMocks({ preview: true });
    const inventory = parseInventory(raw);
    const cluster = buildCluster({
        inventory, sshPrivateKey: pulumi.secret("k"), statsPassword: pulumi.secret("p"), vrrpPassword: pulumi.secret("v"),
    });
    if (inventory.streaming.enabled) {
        // As index.ts wires it.
        new StreamingPlatform("streaming", {
            kubeconfig: cluster.kubeconfig, settings: inventory.streaming,
            defaultAddress: inventory.servers[0].address, clusterReady: [cluster.servers, cluster.loadBalancer, cluster.agents],
        });
    }
    await resolve(cluster.apiUrl);
    await settle();
    // + the stack itself and the two random passwords that index.ts declares.
    return registered.length + 1 + 2;
}

/** The "+ N to create" figure of a preview's output. */
export function previewCreates(stdout: string): number | undefined {
    const m = /\+ (\d+) to create/.exec(stdout);
    return m ? Number(m[1]) : undefined;
}
