// The k3s agents. Each joins through the load balancer's address (never a named
// server, so it survives the loss of any one server) with the server group's token.
// Removing an agent drains it and deletes its Node (run on a server) before k3s is
// uninstalled from it: the drain resource depends on the install, so Pulumi deletes
// it first.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { remoteCommand } from "../shared/command";
import { K3S_READY_TIMEOUT_SECONDS, UPGRADE_WAIT_SECONDS } from "../../inventory/wellKnown";
import { asRoot } from "../shared/bash";
import { hostBound, Pi } from "../pi/pi";
import { renderK3sConfig } from "./nodeConfig";
import { AirgapSettings, shipAirgap } from "./airgap";
import {
    renderDrainNoticeScript, renderDrainScript, renderForgetDeleteNotice, renderForgetNodeScript, renderK3sInstallScript,
    renderK3sUninstallScript,
} from "./scripts";

export interface AgentPoolArgs {
    readonly agents: readonly Pi[];
    readonly k3sVersion: string;
    readonly installScript: string;
    readonly airgap?: AirgapSettings;
    /** The server group's token output; secret. */
    readonly token: pulumi.Output<string>;
    /**
     * The admin kubeconfig at the registration address; secret. A rolling upgrade reads it from
     * stdin (after the token) to drain the agent and take an upgrade slot.
     */
    readonly adminKubeconfig: pulumi.Output<string>;
    /** `k3s.upgrade`: agents upgraded at once, and how long a drain may take. */
    readonly upgrade: { readonly maxUnavailable: number; readonly drainTimeoutSeconds: number };
    /** `https://<vip or lb>:6443`, resolved once the load balancer is configured. */
    readonly serverUrl: pulumi.Output<string>;
    /** A server with kubectl, used to drain and delete agents that are removed. */
    readonly controlNode: Pi;
    /**
     * Every server's install: a drain depends on them, so a destroy drains and deletes each
     * agent's Node before any server is uninstalled (not meanwhile, against a vanishing API).
     */
    readonly controlPlane: readonly pulumi.Resource[];
}

export interface AgentJoin {
    readonly agent: string;
    readonly serverUrl: pulumi.Output<string>;
    readonly token: pulumi.Output<string>;
}

export class AgentPool extends pulumi.ComponentResource {
    public readonly joins: readonly AgentJoin[];
    public readonly installs: readonly command.remote.Command[];

    constructor(name: string, args: AgentPoolArgs, opts?: pulumi.ComponentResourceOptions) {
        super("picluster:k3s:AgentPool", name, {}, opts);
        const joins: AgentJoin[] = [];
        const installs: command.remote.Command[] = [];
        for (const agent of args.agents) {
            const airgap = shipAirgap(`${name}-${agent.name}`, agent, args.airgap, this);
            const input = (url: string) => ({
                role: "agent", version: args.k3sVersion, installScript: args.installScript, tokenOnStdin: true,
                airgap: airgap.staged,
                serverUrl: url, readyTimeoutSeconds: K3S_READY_TIMEOUT_SECONDS,
                configYaml: renderK3sConfig({ kind: "agent", nodeName: agent.name, nodeIp: agent.address, joinUrl: url }),
            } as const);
            // A reflashed agent's old Node (and node password) go before it joins again.
            const forget = remoteCommand(`${name}-${agent.name}-forget`, {
                connection: args.controlNode.connection,
                create: args.serverUrl.apply((url) => asRoot(renderForgetNodeScript({ nodeName: agent.name, etcdMember: false, apiUrl: url }))),
                delete: renderForgetDeleteNotice(agent.name),
                triggers: [agent.address],
            // Only the first server's install: its kubectl does the work, and waiting for every
            // server would hold the agents back until the last server joined (measured: the
            // agents' installs moved behind all 5 servers on the 26-Pi lab).
            }, hostBound(this, agent, args.controlPlane.slice(0, 1)));
            const install = remoteCommand(`${name}-${agent.name}-k3s`, {
                connection: agent.connection,
                create: args.serverUrl.apply((url) => asRoot(renderK3sInstallScript(input(url)))),
                // A change of a live agent: after the servers, maxUnavailable at a time (rollingUpgrade.ts).
                update: args.serverUrl.apply((url) => asRoot(renderK3sInstallScript({
                    ...input(url),
                    rolling: {
                        nodeName: agent.name, maxUnavailable: args.upgrade.maxUnavailable, drainTimeoutSeconds: args.upgrade.drainTimeoutSeconds,
                        waitSeconds: UPGRADE_WAIT_SECONDS, readyTimeoutSeconds: K3S_READY_TIMEOUT_SECONDS,
                    },
                }))),
                delete: asRoot(renderK3sUninstallScript({ role: "agent", nodeName: agent.name })),
                // The token line, then the admin kubeconfig (read only by a rolling upgrade).
                stdin: pulumi.secret(pulumi.interpolate`${args.token}\n${args.adminKubeconfig}`),
                triggers: [agent.address],
            }, hostBound(this, agent, [agent.ready, forget, ...airgap.ready]));
            remoteCommand(`${name}-${agent.name}-drain`, {
                connection: args.controlNode.connection,
                create: renderDrainNoticeScript(agent.name),
                delete: asRoot(renderDrainScript(agent.name)),
                triggers: [agent.address],
            // Not bound to the agent's presence: when a reflashed agent is rebuilt, its old Node is
            // gone already (forget, above), and this delete would run only after the new install
            // (Pulumi deletes a replaced dependent when it registers), deleting the new Node.
            }, { parent: this, dependsOn: [install, ...args.controlPlane], deleteBeforeReplace: true });
            joins.push({ agent: agent.name, serverUrl: args.serverUrl, token: args.token });
            installs.push(install);
        }
        this.joins = joins;
        this.installs = installs;
        this.registerOutputs({});
    }
}
