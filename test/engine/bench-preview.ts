// Benchmark (not a test): `pulumi preview` of the dev stack with the real engine, next to
// the same program built under mocks, in one run. Usage: tools/bench-preview.sh
import { performance } from "node:perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import { parseInventory } from "../../inventory/schema";
import { buildCluster } from "../../components/cluster";
import { installStrictMocks, resolve, settle } from "../unit/mocks";
import { PROGRAM_FILES, REPO, show, workspace } from "./harness";

async function main(): Promise<void> {
    const ws = workspace(REPO, [...PROGRAM_FILES, "Pulumi.dev.yaml"]);
    try {
        ws.pulumi(["stack", "init", "dev"]);
        ws.pulumi(["config", "set", "--secret", "picluster:sshPrivateKey"], { input: "bench-key" });
        const raw = JSON.parse(ws.pulumi(["config", "--json", "-s", "dev"]).stdout) as Record<string, { objectValue?: unknown; value?: string; secret?: boolean }>;
        const cfg: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(raw)) cfg[k.replace("picluster:", "")] = v.secret ? "<secret>" : v.objectValue ?? v.value;

        const runs = 3;
        const preview: number[] = [];
        for (let i = 0; i < runs; i++) {
            const t = performance.now();
            const r = ws.pulumi(["preview", "-s", "dev"], { netns: "isolated" });
            if (r.status !== 0) throw new Error(show(r));
            preview.push((performance.now() - t) / 1000);
        }
        const mocks: number[] = [];
        for (let i = 0; i < runs; i++) {
            const t = performance.now();
            installStrictMocks({ preview: true });
            const c = buildCluster({ inventory: parseInventory(cfg), sshPrivateKey: pulumi.secret("k"), statsPassword: pulumi.secret("p"), vrrpPassword: pulumi.secret("v") });
            await resolve(c.apiUrl);
            await settle();
            mocks.push((performance.now() - t) / 1000);
        }
        const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
        console.log(`dev stack (26 Pis, 139 resources), median of ${runs}:`);
        console.log(`  pulumi preview (real engine, offline): ${med(preview).toFixed(2)} s  runs: ${preview.map((x) => x.toFixed(2)).join(", ")}`);
        console.log(`  same program under mocks:             ${med(mocks).toFixed(3)} s  runs: ${mocks.map((x) => x.toFixed(3)).join(", ")}`);
        console.log(`  ratio preview/mocks:                  ${(med(preview) / med(mocks)).toFixed(1)}x`);
    } finally {
        ws.cleanup();
    }
}
void main();
