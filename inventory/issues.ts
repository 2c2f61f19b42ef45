// How a refusal is worded, for every key of the stack: the full key path
// (`picluster:hosts[3].address`, `picluster:streaming.hls.fragmentSeconds`), then what is wrong
// and how to fix it, one line per problem, all problems at once.
import { z } from "zod";

export const CONFIG_NAMESPACE = "picluster";

/** Raised for bad input; its message lists every problem, one per line, each naming the key. */
export class InventoryError extends Error {
    constructor(readonly problems: readonly string[]) {
        super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "InventoryError";
    }
}

/** `["hosts", 3, "address"]` -> `picluster:hosts[3].address`. */
export function keyPath(path: readonly PropertyKey[]): string {
    let out = CONFIG_NAMESPACE;
    path.forEach((p, i) => {
        if (typeof p === "number") out += `[${p}]`;
        else out += i === 0 ? `:${String(p)}` : `.${String(p)}`;
    });
    return out;
}

/** One line per problem of a failed zod parse; `under` is the key path the parsed value sits at. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], under: readonly PropertyKey[] = []): string[] {
    return issues.flatMap((issue) => issue.code === "unrecognized_keys"
        ? issue.keys.map((k) => `${keyPath([...under, ...issue.path, k])}: unknown key; remove it or check its spelling against Pulumi.yaml`)
        : [`${keyPath([...under, ...issue.path])}: ${issue.message}`]);
}
