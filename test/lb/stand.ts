// The test stand: five API-server stand-ins (each in its own namespace, with its
// agent-checks served by a real xinetd), and up to two load-balancer namespaces running
// real haproxy (and keepalived) with configs from the project's renderers, or the seed's.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FALLBACK_BACKEND, HaproxyServer, PRIMARY_BACKEND, renderHaproxyConfig } from "../../components/loadBalancer/haproxyConfig";
import { renderKeepalivedConfig, vrrpPriority } from "../../components/loadBalancer/keepalivedConfig";
import { renderAgentCheck, renderAgentClientCertScript, renderXinetdService } from "../../components/loadBalancer/agentCheck";
import { Haproxy, pollUntil, startHaproxy, waitAllUp } from "./haproxy";
import { NetnsLab, LB_ADDRESSES, NS_IFNAME, Proc, SERVER_ADDRESSES, VIP, sleep } from "./lab";
import { oneRequest } from "./load";
import { SEED_AGENT_CHECK, fakeUptime, renderSeedHaproxyConfig } from "./seed";

export const API_PORT = 6443;
export const AGENT_PORT = 9707;
/** The seed's agent-check is served next to ours, on the next port. */
export const SEED_AGENT_PORT = 9708;
export const BACKEND = PRIMARY_BACKEND;
export const SEED_BACKEND = "haproxy_servers";
/** The backends whose servers can carry the API for each config (ours adds the fallback). */
export const SERVING_BACKENDS: Record<ConfigKind, readonly string[]> = { seed: [SEED_BACKEND], ours: [PRIMARY_BACKEND, FALLBACK_BACKEND] };
/** Our agent-check's thresholds (the stack config's defaults). */
export const BUSY_PERCENT = 90;
export const OVERLOAD_PERCENT = 100;

const FIXTURES = join(__dirname, "fixtures");
const BACKEND_JS = join(__dirname, "backend.js");

export type ConfigKind = "seed" | "ours";

export interface Backend {
    readonly name: string;
    readonly ns: string;
    readonly address: string;
    readonly loadFile: string;
    proc?: Proc;
    xinetd?: Proc;
    linkUp: boolean;
    /** How long its /readyz takes to answer (a slow Pi's apiserver); 0: at once. */
    readyzDelayMs: number;
}

export interface Balancer {
    readonly name: string;
    readonly ns: string;
    readonly address: string;
    haproxy?: Haproxy;
    keepalived?: Proc;
    linkUp: boolean;
}

/** CPUs as both agents count them (ours: getconf; the seed's: /proc/cpuinfo). */
export function cpuCount(): number {
    const getconf = Number(spawnSync("getconf", ["_NPROCESSORS_ONLN"], { encoding: "utf8" }).stdout.trim());
    const cpuinfo = (readFileSync("/proc/cpuinfo", "utf8").match(/^processor\s*:/gm) ?? []).length;
    if (!(getconf > 0) || getconf !== cpuinfo) throw new Error(`CPU counts disagree: getconf ${getconf}, /proc/cpuinfo ${cpuinfo}`);
    return getconf;
}

/** The 5-minute load figure that is `percent` of the CPUs, as /proc/loadavg writes it. */
export function loadFor(percent: number, cpus = cpuCount()): string {
    return (Math.round(percent * cpus) / 100).toFixed(2);
}

/**
 * The haproxy.cfg a lab load balancer runs. Ours: renderHaproxyConfig with exactly the
 * inputs the LB component passes (servers, API and agent ports, the LB's address, admin
 * user) plus the two the lab needs to run it unprivileged in a namespace: the admin
 * socket's path and no chroot/user switch. test/lb/component.test.ts checks that the
 * component renders the same text.
 */
export function labHaproxyConfig(kind: ConfigKind, servers: readonly HaproxyServer[], lbAddress: string, socketPath: string, statsPassword = "lab-stats-password"): string {
    if (kind === "seed") return renderSeedHaproxyConfig({ servers, apiPort: API_PORT, agentPort: SEED_AGENT_PORT, statsSocketPath: socketPath });
    return renderHaproxyConfig({
        servers, apiPort: API_PORT, agentCheckPort: AGENT_PORT, statsBindAddress: lbAddress, statsUser: "admin",
        statsPassword, statsSocketPath: socketPath, runAsHaproxyUser: false,
    });
}

export interface LabKeepalivedInput {
    /** Every load balancer's address, in inventory order. */
    readonly balancers: readonly string[];
    readonly index: number;
    readonly vip: string;
    readonly interface: string;
    readonly routerId: number;
    readonly authPass: string;
}

/** keepalived.conf for the index-th balancer, rendered as the LB component must render it. */
export function labKeepalivedConfig(i: LabKeepalivedInput): string {
    const self = i.balancers[i.index];
    return renderKeepalivedConfig({
        vip: i.vip, interface: i.interface, routerId: i.routerId, priority: vrrpPriority(i.index), authPass: i.authPass,
        unicastSourceIp: self, unicastPeers: i.balancers.filter((a) => a !== self),
    });
}

export class Stand {
    readonly backends: Backend[];
    readonly balancers: Balancer[];
    private readonly cpus = cpuCount();
    readonly agentClientDir: string;

    private constructor(readonly lab: NetnsLab, balancers: number, readonly withAgents: boolean) {
        this.agentClientDir = join(lab.dir, "agent-client");
        this.backends = SERVER_ADDRESSES.map((address, i) => {
            const name = `s${i + 1}`;
            return { name, address, ns: lab.addNamespace(name, address), loadFile: lab.writeFile(`${name}.loadavg`, "0.10 0.10 0.10 1/100 1\n"), linkUp: true, readyzDelayMs: 0 };
        });
        this.balancers = LB_ADDRESSES.slice(0, balancers).map((address, i) => {
            const name = `lb${i + 1}`;
            return { name, address, ns: lab.addNamespace(name, address), linkUp: true };
        });
    }

    /** Opens the lab, builds the namespaces and starts every backend (and agent). */
    static async open(opts: { balancers: 1 | 2; agents: boolean }): Promise<Stand> {
        const lab = await NetnsLab.open();
        try {
            const stand = new Stand(lab, opts.balancers, opts.agents);
            // The agent's client certificate, issued by the project's own script from the
            // test CA (which the stand-ins trust), as a k3s server issues it from its client CA.
            const issue = spawnSync("bash", ["-c", renderAgentClientCertScript({
                dir: stand.agentClientDir, caCertPath: join(FIXTURES, "ca.crt"), caKeyPath: join(FIXTURES, "ca.key"),
            })], { encoding: "utf8", timeout: 20_000 });
            if (issue.status !== 0) throw new Error(`agent client certificate: ${issue.stdout}${issue.stderr}`);
            await Promise.all(stand.backends.map((b) => stand.startBackend(b)));
            if (opts.agents) for (const b of stand.backends) stand.startAgents(b);
            return stand;
        } catch (e) {
            await lab.close();
            throw e;
        }
    }

    async close(): Promise<void> {
        await this.lab.close();
    }

    backend(name: string): Backend {
        const b = this.backends.find((x) => x.name === name);
        if (!b) throw new Error(`no backend ${name}`);
        return b;
    }

    /** Starts (or restarts) the backend's API stand-in and waits until it answers. */
    async startBackend(b: Backend): Promise<void> {
        if (b.proc) await this.lab.stop(b.proc);
        b.proc = this.lab.spawn(`backend-${b.name}`, b.ns, process.execPath, [
            BACKEND_JS, "--name", b.name, "--port", String(API_PORT), "--readyz-delay-ms", String(b.readyzDelayMs),
        ]);
        const proc = b.proc;
        const ok = await pollUntil(async () => (await oneRequest(b.address, API_PORT, 500)).ok ? true : undefined, 10_000, 50);
        if (!ok) throw new Error(`backend ${b.name} did not answer on ${b.address}:${API_PORT}:\n${proc.log()}`);
    }

    /** Restarts the backend so that its /readyz answers after `ms` (restoreBackend keeps it). */
    async setReadyzDelay(b: Backend, ms: number): Promise<void> {
        b.readyzDelayMs = ms;
        await this.startBackend(b);
    }

    /** Brings a failed backend back: link up, process restarted. */
    async restoreBackend(b: Backend): Promise<void> {
        if (!b.linkUp) this.setBackendLink(b, true);
        await this.startBackend(b);
    }

    setBackendLink(b: Backend, up: boolean): void {
        this.lab.setLink(b.name, up);
        b.linkUp = up;
    }

    /** Sets the 5-minute load both agents of this backend read, in percent of its CPUs. */
    setLoadPercent(b: Backend, percent: number): void {
        this.lab.writeFile(`${b.name}.loadavg`, `0.10 ${loadFor(percent, this.cpus)} 0.30 1/123 4567\n`);
    }

    /** Where a backend's agent-check looks for the rolling upgrade's flags (LB_DRAIN_FLAG, LB_READY_FLAG on a Pi). */
    upgradeFlag(b: Backend, flag: "drain" | "ready"): string {
        return join(this.lab.dir, `${b.name}-lb-${flag}`);
    }

    /** One xinetd in the backend's namespace serving our agent-check (9707) and the seed's (9708). */
    private startAgents(b: Backend): void {
        const ours = this.lab.writeFile(`${b.name}-agent-check`, renderAgentCheck({
            busyPercent: BUSY_PERCENT, overloadPercent: OVERLOAD_PERCENT, loadavgPath: b.loadFile,
            apiReadyUrl: `https://127.0.0.1:${API_PORT}/readyz`,
            apiClientCertPath: join(this.agentClientDir, "client.crt"), apiClientKeyPath: join(this.agentClientDir, "client.key"),
            drainFlagPath: this.upgradeFlag(b, "drain"), readyFlagPath: this.upgradeFlag(b, "ready"),
        }), 0o755);
        // The seed's script calls `uptime`: a directory with only our stand-in goes first on PATH.
        const binDir = join(this.lab.dir, `${b.name}-seed-bin`);
        mkdirSync(binDir, { mode: 0o755 });
        this.lab.writeFile(`${b.name}-seed-bin/uptime`, fakeUptime(b.loadFile), 0o755);
        const seed = this.lab.writeFile(`${b.name}-seed-agent-check`, SEED_AGENT_CHECK, 0o755);
        const conf = [
            "defaults\n{\n    instances = 50\n}\n",
            renderXinetdService({ port: AGENT_PORT, serverPath: ours, bindAddress: b.address }),
            [
                "# The seed's /etc/xinetd.d/haproxy-agent-check, on the seed agent port of this backend.",
                "service seed-agent-check",
                "{",
                "    disable         = no",
                "    type            = UNLISTED",
                "    flags           = REUSE",
                "    socket_type     = stream",
                `    port            = ${SEED_AGENT_PORT}`,
                "    wait            = no",
                "    user            = nobody",
                `    server          = ${seed}`,
                `    bind            = ${b.address}`,
                `    env             = PATH=${binDir}:/usr/local/bin:/usr/bin:/bin`,
                "    log_on_failure  += USERID",
                "    per_source      = UNLIMITED",
                "}",
                "",
            ].join("\n"),
        ].join("\n");
        const confPath = this.lab.writeFile(`${b.name}-xinetd.conf`, conf);
        b.xinetd = this.lab.spawn(`xinetd-${b.name}`, b.ns, "xinetd", ["-dontfork", "-f", confPath, "-pidfile", join(this.lab.dir, `${b.name}-xinetd.pid`)]);
    }

    socketPath(lb: Balancer): string {
        return join(this.lab.dir, `${lb.name}.sock`);
    }

    haproxyConfig(kind: ConfigKind, lb: Balancer): string {
        return labHaproxyConfig(kind, this.backends.map((b) => ({ name: b.name, address: b.address })), lb.address, this.socketPath(lb));
    }

    async startHaproxy(kind: ConfigKind, lb: Balancer = this.balancers[0]): Promise<Haproxy> {
        if (lb.haproxy) await this.stopHaproxy(lb);
        const h = await startHaproxy(this.lab, lb.ns, `${lb.name}-${kind}`, this.haproxyConfig(kind, lb), this.socketPath(lb));
        lb.haproxy = h;
        await waitAllUp(h, kind === "seed" ? SEED_BACKEND : BACKEND, this.backends.map((b) => b.name));
        return h;
    }

    async stopHaproxy(lb: Balancer): Promise<void> {
        if (lb.haproxy) await this.lab.stop(lb.haproxy.proc);
        lb.haproxy = undefined;
    }

    keepalivedConfig(lb: Balancer): string {
        return labKeepalivedConfig({
            balancers: this.balancers.map((x) => x.address), index: this.balancers.indexOf(lb), vip: VIP,
            interface: NS_IFNAME, routerId: 51, authPass: "Lab12345",
        });
    }

    startKeepalived(lb: Balancer): Proc {
        const conf = this.lab.writeFile(`${lb.name}-keepalived.conf`, this.keepalivedConfig(lb), 0o600);
        const pid = (what: string): string => join(this.lab.dir, `${lb.name}-keepalived-${what}.pid`);
        lb.keepalived = this.lab.spawn(`keepalived-${lb.name}`, lb.ns, "keepalived", [
            "--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--vrrp", "--use-file", conf,
            "--pid", pid("main"), "--vrrp_pid", pid("vrrp"), "--checkers_pid", pid("checkers"), "--bfd_pid", pid("bfd"),
        ]);
        return lb.keepalived;
    }

    async stopKeepalived(lb: Balancer): Promise<void> {
        if (lb.keepalived) await this.lab.stop(lb.keepalived, 3000);
        lb.keepalived = undefined;
    }

    setBalancerLink(lb: Balancer, up: boolean): void {
        this.lab.setLink(lb.name, up);
        lb.linkUp = up;
    }

    /** The balancers that hold the VIP right now. */
    vipHolders(): Balancer[] {
        return this.balancers.filter((lb) => this.lab.addresses(lb.ns).includes(VIP));
    }

    /** Waits until `check` holds, polling; throws with `what` after timeoutMs. */
    static async waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        while (!(await check())) {
            if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
            await sleep(50);
        }
    }
}
