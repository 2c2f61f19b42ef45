// The edge: the only module that reads Pulumi config. It validates everything up
// front, so a bad stack fails before any resource is registered (and so before any
// SSH connection could be opened), and hands components typed values.
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE, Inventory, InventoryError, parseInventory } from "./inventory/schema";
import { keyPath } from "./inventory/issues";
import { verifyAirgapFiles } from "./inventory/airgapFiles";
import { versionChangeProblem } from "./inventory/versionChange";

export interface StackSettings {
    readonly inventory: Inventory;
    /** The SSH private key, a Pulumi secret from end to end. */
    readonly sshPrivateKey: pulumi.Output<string>;
    /** With k3s.etcdSnapshots.s3: the S3 store's keys, a secret. */
    readonly etcdS3Keys?: pulumi.Output<{ accessKey: string; secretKey: string }>;
}

/** The secret keys and how to set each one encrypted. */
const SECRET_KEYS = {
    sshPrivateKey: (k: string) => `\`pulumi config set --secret ${k} < ~/.ssh/id_ed25519\``,
    etcdS3AccessKey: (k: string) => `\`pulumi config set --secret ${k}\` (it prompts for the value)`,
    etcdS3SecretKey: (k: string) => `\`pulumi config set --secret ${k}\` (it prompts for the value)`,
} as const;
const isSecretKey = (key: string): key is keyof typeof SECRET_KEYS => Object.hasOwn(SECRET_KEYS, key);

// isConfigSecret is exported by the SDK's runtime module but not typed as public API.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (key: string) => boolean };

/** Every `picluster:*` key of the stack, JSON values decoded, secrets replaced by "<secret>". */
export function readRawConfig(): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    const prefix = `${CONFIG_NAMESPACE}:`;
    for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        if (isSecretKey(key)) {
            raw[key] = "<secret>";
            continue;
        }
        const decoded = decode(value);
        // Pulumi.yaml declares "" as the default of optional string keys (a declared
        // key must have a value); "" means "not set".
        if (decoded === "") continue;
        raw[key] = decoded;
    }
    return raw;
}

function decode(value: string): unknown {
    // Structured values arrive as JSON text; plain strings may not be JSON at all.
    try {
        return JSON.parse(value);
    } catch {
        return value;
    }
}

/**
 * Reads and validates the stack's settings. Bad input becomes a pulumi.RunError, which the
 * SDK prints as the message alone: the user sees what to fix, not a stack trace.
 */
export function loadStackSettings(): StackSettings {
    try {
        return loadUnchecked();
    } catch (e) {
        if (e instanceof InventoryError) throw new pulumi.RunError(e.message);
        throw e;
    }
}

function loadUnchecked(): StackSettings {
    const raw = readRawConfig();
    const problems: string[] = [];
    for (const [key, how] of Object.entries(SECRET_KEYS)) {
        const fullKey = `${CONFIG_NAMESPACE}:${key}`;
        if (raw[key] !== undefined && runtimeConfig.isConfigSecret && !runtimeConfig.isConfigSecret(fullKey)) {
            problems.push(`${fullKey}: is stored in plain text; store it encrypted with ${how(fullKey)}`);
        }
    }
    if (problems.length > 0) throw new InventoryError(problems);
    const parsed = parseInventory(raw);
    // Relative artifact paths are relative to the project folder, where pulumi runs the program.
    const airgap = verifyAirgapFiles(parsed.k3s, process.cwd());
    if (airgap.problems.length > 0) throw new InventoryError(airgap.problems);
    const inventory: Inventory = { ...parsed, k3s: airgap.k3s };
    const config = new pulumi.Config(CONFIG_NAMESPACE);
    const sshPrivateKey = config.requireSecret("sshPrivateKey");
    const etcdS3Keys = inventory.k3s.etcdSnapshots.s3 === undefined ? undefined
        : pulumi.secret(pulumi.all([config.requireSecret("etcdS3AccessKey"), config.requireSecret("etcdS3SecretKey")])
            .apply(([accessKey, secretKey]) => ({ accessKey, secretKey })));
    return { inventory, sshPrivateKey, ...(etcdS3Keys ? { etcdS3Keys } : {}) };
}

/** The stack output that records the k3s version of the last completed `up` (components/stack.ts). */
export const K3S_VERSION_OUTPUT = "k3sVersion";

/**
 * Refuses a k3s downgrade or a skipped minor version before any resource that touches a Pi
 * is registered. The version the cluster runs is this stack's own last `k3sVersion` output,
 * read through a StackReference to itself (the engine reads the stack's checkpoint; a new
 * stack has none, and then anything goes).
 */
export async function refuseUnsafeVersionChange(wanted: string): Promise<void> {
    const self = new pulumi.StackReference("running-version", {
        name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    const running: unknown = (await self.getOutputDetails(K3S_VERSION_OUTPUT)).value;
    const problem = versionChangeProblem(typeof running === "string" ? running : undefined, wanted, keyPath(["k3s", "version"]));
    if (problem) throw new pulumi.RunError(new InventoryError([problem]).message);
}
