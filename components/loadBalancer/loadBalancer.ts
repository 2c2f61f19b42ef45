// The API load balancer(s): HAProxy on every load-balancer Pi in front of all k3s
// servers, the agent-check on every server (served by xinetd as nobody), and, with a
// VIP, keepalived so the address moves to a surviving load balancer.
import * as pulumi from "@pulumi/pulumi";
import { remoteCommand } from "../shared/command";
import { LoadBalancerSettings } from "../../inventory/schema";
import { API_PORT } from "../../inventory/wellKnown";
import { asRoot } from "../shared/bash";
import { hostBound, Pi } from "../pi/pi";
import { renderHaproxyConfig, HaproxyServer } from "./haproxyConfig";
import {
    AGENT_CHECK_PATH, AGENT_CLIENT_CERT_PATH, AGENT_CLIENT_KEY_PATH,
    renderAgentCheck, renderAgentClientCertScript, renderXinetdService, servicesLine,
} from "./agentCheck";
import { renderKeepalivedConfig, vrrpPriority } from "./keepalivedConfig";
import {
    renderAgentCheckInstallScript, renderAgentCheckRemoveScript, renderAgentClientCertRemoveScript,
    renderHaproxyApplyScript, renderHaproxyRestoreScript, renderKeepalivedApplyScript, renderKeepalivedRestoreScript,
} from "./scripts";

export interface LoadBalancerArgs {
    readonly balancers: readonly Pi[];
    readonly servers: readonly Pi[];
    /**
     * Each server's k3s install, in the same order: its client CA signs the agent's certificate.
     * Promises: the servers join through this load balancer, so it is built before them.
     */
    readonly serverInstalls: readonly pulumi.Input<pulumi.Resource>[];
    readonly settings: LoadBalancerSettings;
    readonly vip?: string;
    /** Secrets from @pulumi/random. */
    readonly statsPassword: pulumi.Input<string>;
    readonly vrrpPassword: pulumi.Input<string>;
}

export class LoadBalancer extends pulumi.ComponentResource {
    /** The servers in haproxy.cfg, as data. */
    public readonly backends: readonly HaproxyServer[];
    /** `https://<vip or first LB>:6443`, resolved once every LB is configured. */
    public readonly apiUrl: pulumi.Output<string>;
    /** Each LB's rendered haproxy.cfg (secret: it holds the stats password). */
    public readonly haproxyConfigs: ReadonlyMap<string, pulumi.Output<string>>;

    constructor(name: string, args: LoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("picluster:lb:LoadBalancer", name, {}, opts);
        const s = args.settings;
        this.backends = args.servers.map((p) => ({ name: p.name, address: p.address }));

        const agentCheck = renderAgentCheck({
            busyPercent: s.busyPercent, overloadPercent: s.overloadPercent,
            apiReadyUrl: `https://127.0.0.1:${API_PORT}/readyz`,
            apiClientCertPath: AGENT_CLIENT_CERT_PATH, apiClientKeyPath: AGENT_CLIENT_KEY_PATH,
        });
        args.servers.forEach((server, i) => {
            remoteCommand(`${name}-${server.name}-agent-check`, {
                connection: server.connection,
                create: asRoot(renderAgentCheckInstallScript({
                    agentCheck,
                    xinetdService: renderXinetdService({ port: s.agentCheckPort, serverPath: AGENT_CHECK_PATH }),
                    servicesLine: servicesLine(s.agentCheckPort),
                })),
                delete: asRoot(renderAgentCheckRemoveScript()),
                triggers: [server.address],
            }, hostBound(this, server, [server.ready]));
            // With anonymous auth off, /readyz needs credentials: the agent gets its own
            // client certificate (no groups) once the server's client CA exists.
            remoteCommand(`${name}-${server.name}-agent-cert`, {
                connection: server.connection,
                create: asRoot(renderAgentClientCertScript()),
                delete: asRoot(renderAgentClientCertRemoveScript()),
                triggers: [server.address],
            }, hostBound(this, server, [args.serverInstalls[i]]));
        });

        const configs = new Map<string, pulumi.Output<string>>();
        const applied: pulumi.Output<string>[] = [];  // ids: known only once created, never secret
        args.balancers.forEach((lb, index) => {
            const cfg = pulumi.secret(pulumi.output(args.statsPassword).apply((password) => renderHaproxyConfig({
                servers: this.backends, apiPort: API_PORT, agentCheckPort: s.agentCheckPort,
                statsBindAddress: lb.address, statsUser: "admin", statsPassword: password, healthCheck: s.healthCheck,
            })));
            configs.set(lb.name, cfg);
            const haproxy = remoteCommand(`${name}-${lb.name}-haproxy`, {
                connection: lb.connection,
                create: asRoot(renderHaproxyApplyScript()),
                delete: asRoot(renderHaproxyRestoreScript()),
                stdin: cfg,
                triggers: [lb.address],
            }, hostBound(this, lb, [lb.ready]));
            applied.push(haproxy.id);
            if (args.vip !== undefined) {
                const peers = args.balancers.filter((p) => p !== lb).map((p) => p.address);
                const keepalivedCfg = pulumi.secret(pulumi.output(args.vrrpPassword).apply((authPass) => renderKeepalivedConfig({
                    vip: args.vip as string, interface: s.interface, routerId: s.vrrpRouterId,
                    priority: vrrpPriority(index), authPass, unicastSourceIp: lb.address, unicastPeers: peers,
                })));
                const keepalived = remoteCommand(`${name}-${lb.name}-keepalived`, {
                    connection: lb.connection,
                    create: asRoot(renderKeepalivedApplyScript()),
                    delete: asRoot(renderKeepalivedRestoreScript()),
                    stdin: keepalivedCfg,
                    triggers: [lb.address],
                }, hostBound(this, lb, [haproxy]));
                applied.push(keepalived.id);
            }
        });
        this.haproxyConfigs = configs;
        const address = args.vip ?? args.balancers[0].address;
        // Data, not dependsOn: whoever uses the URL waits until every LB is configured.
        this.apiUrl = pulumi.all(applied).apply(() => `https://${address}:${API_PORT}`);
        this.registerOutputs({ apiUrl: this.apiUrl });
    }
}
