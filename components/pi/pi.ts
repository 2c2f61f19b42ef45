// One Raspberry Pi: how to reach it over SSH, and its idempotent preparation
// (cgroup flags, hostname, the packages its role needs), undone on delete.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { remoteCommand, localCommand } from "../shared/command";
import { HostSpec, SshSettings } from "../../inventory/schema";
import { REBOOT_TIMEOUT_SECONDS } from "../../inventory/wellKnown";
import { asRoot } from "../shared/bash";
import { renderAwaitRebootScript, renderPrepareScript, renderUnprepareScript } from "./scripts";
import { PiPresence } from "./presence";

export type SshConnection = command.types.input.remote.ConnectionArgs;

export interface PiArgs {
    readonly host: HostSpec;
    readonly ssh: SshSettings;
    /** A secret; it only ever travels inside the provider's (secret) connection. */
    readonly privateKey: pulumi.Input<string>;
    readonly packages: readonly string[];
    readonly rebootOnCmdlineChange?: boolean;
    /** Refuse to rebuild this Pi when it was reflashed, with this message (the first server). */
    readonly refuseRebuild?: string;
}

/**
 * Options every command bound to one Pi shares (it may run on that Pi or, like an agent's drain,
 * on a server, about that Pi). A command that moved to another address must be undone on the
 * old Pi first (deleteBeforeReplace); and when the Pi's presence is replaced (it was reflashed,
 * presence.ts) the command is rebuilt with it (replaceWith, Pulumi 3.200+).
 */
export function hostBound(parent: pulumi.Resource, pi: Pi, dependsOn: pulumi.Input<pulumi.Resource>[] = []): pulumi.CustomResourceOptions {
    return { parent, dependsOn, deleteBeforeReplace: true, replaceWith: [pi.presence] };
}

export class Pi extends pulumi.ComponentResource {
    public readonly name: string;
    public readonly address: string;
    public readonly connection: SshConnection;
    /** Sees a reflash on refresh; everything bound to this Pi is replaced with it. */
    public readonly presence: PiPresence;
    /** Complete when the Pi is prepared (and back from a reboot, if one was needed). */
    public readonly ready: pulumi.Resource;

    constructor(name: string, args: PiArgs, opts?: pulumi.ComponentResourceOptions) {
        super("picluster:pi:Pi", name, {}, opts);
        this.name = args.host.name;
        this.address = args.host.address;
        this.connection = {
            host: args.host.address,
            port: args.ssh.port,
            user: args.ssh.user,
            privateKey: args.privateKey,
            ...(args.host.hostKey ? { hostKey: args.host.hostKey } : {}),
            perDialTimeout: args.ssh.perDialTimeoutSeconds,
            dialErrorLimit: args.ssh.dialAttempts,
        };
        this.presence = new PiPresence(`${name}-presence`, {
            name: args.host.name,
            host: args.host.address,
            port: args.ssh.port,
            user: args.ssh.user,
            privateKey: args.privateKey,
            hostKey: args.host.hostKey ?? "",
            perDialTimeoutSeconds: args.ssh.perDialTimeoutSeconds,
            dialAttempts: args.ssh.dialAttempts,
            ...(args.refuseRebuild ? { refuseRebuild: args.refuseRebuild } : {}),
        }, { parent: this });
        const reboot = args.rebootOnCmdlineChange ?? true;
        const prepare = remoteCommand(`${name}-prepare`, {
            connection: this.connection,
            create: asRoot(renderPrepareScript({ hostname: args.host.name, packages: args.packages, rebootOnCmdlineChange: reboot })),
            delete: asRoot(renderUnprepareScript()),
            triggers: [args.host.address],
        }, hostBound(this, this, [this.presence]));
        this.ready = localCommand(`${name}-await-reboot`, {
            create: renderAwaitRebootScript({ host: args.host.address, port: args.ssh.port, timeoutSeconds: REBOOT_TIMEOUT_SECONDS }),
            interpreter: ["/bin/bash", "-c"],
            environment: { PREPARE_OUTPUT: prepare.stdout },
        }, { parent: this, replaceWith: [this.presence] });
        this.registerOutputs({ address: this.address });
    }
}
