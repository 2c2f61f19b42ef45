// Strict Pulumi mocks: they know the resource types this program declares and throw on
// anything else (any provider function call, any unexpected type), so a test cannot
// pass because a mock quietly answered something it was never meant to.
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { parseInventory } from "../../inventory/schema";
import { buildCluster, Cluster } from "../../components/cluster";
import { goodRawConfig, RawConfig } from "./fixtures";

export const FAKE_TOKEN = "K10aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa::server:0123456789abcdef";
export const FAKE_KUBECONFIG = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: default\n";

export interface Registered {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
}

/** `previousOutputs`: what the stack's reference to itself reads (its last completed up's outputs). */
export function installStrictMocks(opts: { preview?: boolean; previousOutputs?: Record<string, unknown> } = {}): Registered[] {
    const registered: Registered[] = [];
    void pulumi.runtime.setMocks({
        newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, unknown> } {
            const inputs = args.inputs as Record<string, unknown>;
            registered.push({ type: args.type, name: args.name, inputs });
            if (args.type.startsWith("picluster:")) return { id: undefined, state: {} };
            // Kubernetes objects of the streaming platform: echo their inputs.
            if (/^kubernetes:[a-z0-9.]+\/v\d\w*:\w+$/i.test(args.type)) return { id: `${args.name}-id`, state: inputs };
            switch (args.type) {
                case "command:remote:Command":
                case "command:local:Command": {
                    let stdout = "";
                    if (args.name.endsWith("-token")) stdout = FAKE_TOKEN + "\n";
                    else if (args.name.endsWith("-kubeconfig")) stdout = FAKE_KUBECONFIG;
                    else if (args.name === "node-list") stdout = "s1\ns2\na1\n";
                    return { id: `${args.name}-id`, state: { ...inputs, stdout, stderr: "" } };
                }
                case "pulumi-nodejs:dynamic/picluster:PiPresence":
                    // What the real provider returns from create (components/pi/presence.ts).
                    return { id: `${args.name}-marker`, state: { ...inputs, marker: `${args.name}-marker`, machineId: "", drift: "" } };
                case "pulumi:providers:kubernetes":
                    return { id: `${args.name}-id`, state: inputs };
                case "pulumi:pulumi:StackReference":
                    return { id: String(inputs.name), state: { name: inputs.name, outputs: opts.previousOutputs ?? {}, secretOutputNames: [] } };
                case "random:index/randomPassword:RandomPassword":
                    // A streaming publish key must look like one (32 letters and digits, one per stream and rotation).
                    if (args.name.includes("-publish-key-")) return { id: `${args.name}-id`, state: { ...inputs, result: mockPublishKey(args.name, inputs.keepers) } };
                    return { id: `${args.name}-id`, state: { ...inputs, result: "pw123456" } };
                default:
                    throw new Error(`unexpected resource type ${args.type} (${args.name})`);
            }
        },
        call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
            throw new Error(`unexpected provider function call ${args.token}`);
        },
    }, "picluster", "unit", opts.preview ?? false, "organization");
    return registered;
}

/** The strict mocks' publish key for a streaming RandomPassword: an md5 hex of its name and keepers. */
export function mockPublishKey(resourceName: string, keepers: unknown): string {
    return createHash("md5").update(`${resourceName} ${JSON.stringify(keepers ?? null)}`).digest("hex");
}

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Mocks receive secret inputs wrapped in Pulumi's secret signature; unwrap and report it. */
export function unwrapInput(v: unknown): { value: unknown; secret: boolean } {
    if (v !== null && typeof v === "object" && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG) {
        return { value: (v as Record<string, unknown>).value, secret: true };
    }
    return { value: v, secret: false };
}

/** Resolves an Output's value (and whether it is secret) under mocks. */
export async function resolve<T>(o: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
    const value = await new Promise<T>((res) => o.apply((v) => { res(v); return v; }));
    return { value, secret: await pulumi.isSecret(o) };
}

/** Lets the mock monitor finish every registration started so far. */
export async function settle(): Promise<void> {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/** The cluster of a raw stack config under strict mocks, with every registration settled. */
export async function buildClusterUnderMocks(
    raw: RawConfig = goodRawConfig(), etcdS3Keys?: { accessKey: string; secretKey: string },
): Promise<{ cluster: Cluster; registered: Registered[] }> {
    const registered = installStrictMocks();
    const cluster = buildCluster({
        inventory: parseInventory(raw),
        sshPrivateKey: pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----"),
        statsPassword: pulumi.secret("statspw123"),
        vrrpPassword: pulumi.secret("vrrp1234"),
        ...(etcdS3Keys ? { etcdS3Keys: pulumi.secret(etcdS3Keys) } : {}),
    });
    await resolve(cluster.nodes);
    await resolve(cluster.kubeconfig);
    await settle();
    return { cluster, registered };
}
