// What the program declares for a stack, counted under the strict mocks by the same
// buildStack() that index.ts calls: the engine tests compare it with `pulumi preview`, and the
// preview benchmark times both sides.
import * as pulumi from "@pulumi/pulumi";
import { parseInventory } from "../../inventory/schema";
import { buildStack } from "../../components/stack";
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
    const stack = buildStack({ inventory: parseInventory(raw), sshPrivateKey: pulumi.secret("k") });
    await resolve(stack.apiEndpoint);
    await settle();
    // + the stack resource itself, which the mocks do not see.
    return registered.length + 1;
}

/** The "+ N to create" figure of a preview's output. */
export function previewCreates(stdout: string): number | undefined {
    const m = /\+ (\d+) to create/.exec(stdout);
    return m ? Number(m[1]) : undefined;
}
