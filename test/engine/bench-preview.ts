// Benchmark (not a test): `pulumi preview` of the dev stack with the real engine, next to
// the same program built under mocks, in one run. Usage: tools/bench-preview.sh
import { performance } from "node:perf_hooks";
import { declaredResourceCount, previewCreates, stackConfig } from "./declared";
import { PROGRAM_FILES, REPO, show, workspace } from "./harness";

async function main(): Promise<void> {
    const ws = workspace(REPO, [...PROGRAM_FILES, "Pulumi.dev.yaml"]);
    try {
        ws.pulumi(["stack", "init", "dev"]);
        ws.pulumi(["config", "set", "--secret", "picluster:sshPrivateKey"], { input: "bench-key" });
        const cfg = stackConfig(ws.pulumi(["config", "--json", "-s", "dev"]).stdout);
        const runs = 3;
        const preview: number[] = [];
        let creates: number | undefined;
        for (let i = 0; i < runs; i++) {
            const t = performance.now();
            const r = ws.pulumi(["preview", "-s", "dev"], { netns: "isolated" });
            if (r.status !== 0) throw new Error(show(r));
            creates = previewCreates(r.stdout);
            preview.push((performance.now() - t) / 1000);
        }
        const mocks: number[] = [];
        let declared = 0;
        for (let i = 0; i < runs; i++) {
            const t = performance.now();
            declared = await declaredResourceCount(cfg);
            mocks.push((performance.now() - t) / 1000);
        }
        const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
        // Both sides must be the same program, or the ratio says nothing.
        if (creates !== declared) throw new Error(`preview creates ${creates} resources but the mocked program declares ${declared}`);
        console.log(`dev stack (${cfg.hosts instanceof Array ? cfg.hosts.length : "?"} Pis, ${declared} resources on both sides), median of ${runs}:`);
        console.log(`  pulumi preview (real engine, offline): ${med(preview).toFixed(2)} s  runs: ${preview.map((x) => x.toFixed(2)).join(", ")}`);
        console.log(`  same program under mocks:             ${med(mocks).toFixed(3)} s  runs: ${mocks.map((x) => x.toFixed(3)).join(", ")}`);
        console.log(`  ratio preview/mocks:                  ${(med(preview) / med(mocks)).toFixed(1)}x`);
    } finally {
        ws.cleanup();
    }
}
main().catch((e: unknown) => {
    console.error(`bench-preview: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
});
