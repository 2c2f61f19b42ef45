// The k3s control plane: the first server starts embedded etcd (--cluster-init), the
// others join one at a time (so etcd grows 1 -> 2 -> 3 ... members in order) through the
// fixed registration address (the VIP or load balancer, as k3s's HA docs ask), so a join
// works while any one server, the first included, is down. The secure join token is read
// back from the first server and leaves this component only as a secret output.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { remoteCommand } from "../shared/command";
import { K3sSettings } from "../../inventory/schema";
import { K3S_READY_TIMEOUT_SECONDS as READY_TIMEOUT_SECONDS, UPGRADE_WAIT_SECONDS } from "../../inventory/wellKnown";
import { asRoot } from "../shared/bash";
import { hostBound, Pi } from "../pi/pi";
import { renderK3sConfig } from "./nodeConfig";
import { shipAirgap } from "./airgap";
import { RollingUpgrade } from "./rollingUpgrade";
import {
    renderForgetDeleteNotice, renderForgetNodeScript, renderK3sInstallScript, renderK3sUninstallScript, renderReadKubeconfigScript, renderReadTokenScript,
} from "./scripts";

export interface ServerGroupArgs {
    /** Servers in join order; the first one initialises the cluster. */
    readonly servers: readonly Pi[];
    readonly k3s: K3sSettings;
    /** Every name the API is reached by: load balancers and the VIP. */
    readonly tlsSans: readonly string[];
    /** The registration address, `https://<vip or lb>:6443`, as text (the join plan). */
    readonly joinAddress: string;
    /** The same URL as the load balancer's output: it resolves once the LBs are configured. */
    readonly joinUrl: pulumi.Output<string>;
    /**
     * Runs before the first server's install and its updates (the etcd snapshot saved and
     * copied off the Pis before a rolling upgrade, snapshots.ts).
     */
    readonly beforeInstalls?: readonly pulumi.Resource[];
    /** With k3s.etcdSnapshots.s3: the S3 store's keys (a secret), handed to each server on stdin. */
    readonly etcdS3Keys?: pulumi.Output<{ accessKey: string; secretKey: string }>;
}

/** Who each server joins through, as data (mocks cannot observe dependsOn). */
export interface JoinStep {
    readonly server: string;
    readonly joins: string | undefined;
    readonly after: string | undefined;
}

function serverRolling(nodeName: string, k3s: K3sSettings, apiUrl: string): RollingUpgrade {
    return {
        nodeName, apiUrl, maxUnavailable: 1, drainTimeoutSeconds: k3s.upgrade.drainTimeoutSeconds,
        waitSeconds: UPGRADE_WAIT_SECONDS, readyTimeoutSeconds: READY_TIMEOUT_SECONDS,
    };
}

export class ServerGroup extends pulumi.ComponentResource {
    /** `K10<ca hash>::server:<secret>`, a secret. */
    public readonly token: pulumi.Output<string>;
    /** The first server's k3s.yaml (pointing at 127.0.0.1), a secret. */
    public readonly kubeconfig: pulumi.Output<string>;
    public readonly joinPlan: readonly JoinStep[];
    /** The install command of each server, in join order. */
    public readonly installs: readonly command.remote.Command[];
    public readonly first: Pi;

    constructor(name: string, args: ServerGroupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("picluster:k3s:ServerGroup", name, {}, opts);
        if (args.servers.length === 0) throw new Error("ServerGroup needs at least one server");
        const [first, ...rest] = args.servers;
        this.first = first;

        const firstAirgap = shipAirgap(`${name}-${first.name}`, first, args.k3s.airgap, this);
        const s3KeysOnStdin = args.etcdS3Keys !== undefined;
        // The S3 keys' stdin lines (a secret), after the token where there is one.
        const s3KeyLines = args.etcdS3Keys?.apply((k) => `${k.accessKey}\n${k.secretKey}\n`);
        const firstInput = {
            role: "server", version: args.k3s.version, installScript: args.k3s.installScript, tokenOnStdin: false, s3KeysOnStdin,
            airgap: firstAirgap.staged,
            readyTimeoutSeconds: READY_TIMEOUT_SECONDS,
            configYaml: renderK3sConfig({ kind: "first-server", nodeName: first.name, nodeIp: first.address, tlsSans: args.tlsSans, k3s: args.k3s }),
        } as const;
        const firstInstall = remoteCommand(`${name}-${first.name}-k3s`, {
            connection: first.connection,
            create: asRoot(renderK3sInstallScript(firstInput)),
            // A change of a live server: one at a time, drained, gated (rollingUpgrade.ts).
            update: args.joinUrl.apply((apiUrl) => asRoot(renderK3sInstallScript({ ...firstInput, rolling: serverRolling(first.name, args.k3s, apiUrl) }))),
            // It leaves etcd too when other servers remain (it was dropped from the inventory);
            // the script finds out whether it is the last one.
            delete: args.joinUrl.apply((apiUrl) => asRoot(renderK3sUninstallScript({ role: "server", nodeName: first.name, apiUrl }))),
            ...(s3KeyLines ? { stdin: pulumi.secret(s3KeyLines) } : {}),
            triggers: [first.address],
        }, hostBound(this, first, [first.ready, ...firstAirgap.ready, ...(args.beforeInstalls ?? [])]));

        const readToken = remoteCommand(`${name}-token`, {
            connection: first.connection,
            create: asRoot(renderReadTokenScript(READY_TIMEOUT_SECONDS)),
            logging: "none",
            triggers: [first.address],
        }, { parent: this, dependsOn: [firstInstall], additionalSecretOutputs: ["stdout"] });
        this.token = pulumi.secret(readToken.stdout.apply((t) => t.trim()));

        const installs = [firstInstall];
        const plan: JoinStep[] = [{ server: first.name, joins: undefined, after: undefined }];
        for (const server of rest) {
            const previous = installs[installs.length - 1];
            const airgap = shipAirgap(`${name}-${server.name}`, server, args.k3s.airgap, this);
            const input = (joinUrl: string) => ({
                role: "server", version: args.k3s.version, installScript: args.k3s.installScript, tokenOnStdin: true, s3KeysOnStdin,
                airgap: airgap.staged,
                serverUrl: joinUrl,
                readyTimeoutSeconds: READY_TIMEOUT_SECONDS,
                configYaml: renderK3sConfig({ kind: "joining-server", nodeName: server.name, nodeIp: server.address, joinUrl, tlsSans: args.tlsSans, k3s: args.k3s }),
            } as const);
            // A reflashed server's old etcd member and Node go before it joins again (presence.ts).
            const forget = remoteCommand(`${name}-${server.name}-forget`, {
                connection: first.connection,
                create: args.joinUrl.apply((apiUrl) => asRoot(renderForgetNodeScript({ nodeName: server.name, etcdMember: true, apiUrl }))),
                delete: renderForgetDeleteNotice(server.name),
                triggers: [server.address],
            }, hostBound(this, server, [firstInstall]));
            const install = remoteCommand(`${name}-${server.name}-k3s`, {
                connection: server.connection,
                create: args.joinUrl.apply((joinUrl) => asRoot(renderK3sInstallScript(input(joinUrl)))),
                update: args.joinUrl.apply((joinUrl) => asRoot(renderK3sInstallScript({ ...input(joinUrl), rolling: serverRolling(server.name, args.k3s, joinUrl) }))),
                delete: args.joinUrl.apply((apiUrl) => asRoot(renderK3sUninstallScript({ role: "server", nodeName: server.name, apiUrl }))),
                stdin: s3KeyLines ? pulumi.secret(pulumi.interpolate`${this.token}\n${s3KeyLines}`) : this.token,
                logging: "stdoutAndStderr",
                triggers: [server.address],
            }, hostBound(this, server, [server.ready, previous, forget, ...airgap.ready]));
            plan.push({ server: server.name, joins: args.joinAddress, after: plan[plan.length - 1].server });
            installs.push(install);
        }
        this.installs = installs;
        this.joinPlan = plan;

        const readKubeconfig = remoteCommand(`${name}-kubeconfig`, {
            connection: first.connection,
            create: asRoot(renderReadKubeconfigScript()),
            logging: "none",
            triggers: [first.address],
        }, { parent: this, dependsOn: [firstInstall], additionalSecretOutputs: ["stdout"] });
        this.kubeconfig = pulumi.secret(readKubeconfig.stdout);

        this.registerOutputs({ token: this.token, kubeconfig: this.kubeconfig });
    }
}
