// A Pi's presence: the one resource that can see whether a Pi still carries what the program put
// there. Remote commands cannot see drift (pulumi-command's Read only echoes its state), so a Pi
// that was reflashed or swapped for a new one looked "unchanged" to `pulumi refresh` and stayed
// out of the cluster. This dynamic resource writes a random marker to the Pi when it is created
// and reads it back on refresh; when the marker is gone (a new SD card) or the machine's identity
// changed, the next `up` replaces it, and every resource bound to the Pi (hostBound's
// replaceWith) is rebuilt with it: its preparation, its k3s install, and the steps that forget its
// old Node and etcd member.
//
// Follows upstream's dynamic-provider contract (pulumi/pulumi sdk/nodejs/cmd/dynamic-provider/
// index.js): read(id, props) gets the last outputs and returns what is there now; diff(id, olds,
// news) gets the outputs (after a refresh: what read returned) and the new inputs. The provider
// does not accept secrets on the wire, so the private key arrives in plain text inside this
// process and the resource lists it in additionalSecretOutputs so that the state stores it
// encrypted. Reaching the Pi uses ssh2 (the library the @pulumi/command provider's peers in Node
// use), with the same host-key pin and dial bounds as the remote commands.
import * as pulumi from "@pulumi/pulumi";
import type { ClientChannel, ConnectConfig } from "ssh2";
import { asRoot } from "../shared/bash";
import { renderPresenceClaimScript, renderPresenceReadScript, renderPresenceReleaseScript } from "./scripts";

/** The root scripts the provider runs (rendered here: the provider's closure stays self-contained). */
interface PresenceScripts {
    claimScript: string;
    readScript: string;
    releaseScript: string;
}

export interface PresenceArgs {
    /** The Pi's name (its hostname to be), for the OS refusal's message. */
    readonly name: string;
    readonly host: string;
    readonly port: number;
    readonly user: string;
    /** A secret. */
    readonly privateKey: pulumi.Input<string>;
    /** `<type> <base64>` as in the inventory; "" when not pinned. */
    readonly hostKey: string;
    readonly perDialTimeoutSeconds: number;
    readonly dialAttempts: number;
    /**
     * When set, a reflash of this Pi is refused with this message instead of rebuilding it (the
     * first server: rebuilding it would start a new cluster beside the old one).
     */
    readonly refuseRebuild?: string;
    /** Where the marker lives on the Pi (tests point it at a folder of their own). */
    readonly markerPath?: string;
    /** How long a connected exchange may take (default EXCHANGE_SECONDS; tests shorten it). */
    readonly exchangeTimeoutSeconds?: number;
}

/** The state of a presence: its inputs plus what the Pi reported. */
interface PresenceState extends PresenceScripts {
    host: string;
    port: number;
    user: string;
    privateKey: string;
    hostKey: string;
    perDialTimeoutSeconds: number;
    dialAttempts: number;
    refuseRebuild?: string;
    exchangeTimeoutSeconds?: number;
    /** The marker written at create. */
    marker: string;
    /** /etc/machine-id at create ("" if the Pi has none). */
    machineId: string;
    /** Set by read: why the Pi no longer is the one that was set up ("" while it is). */
    drift: string;
}

/**
 * How long one exchange may take once connected: the scripts only read or write a line, so a
 * session that has not closed by then is stuck (a Pi half-way through a reboot, a wedged sshd or
 * sudo). readyTimeout bounds only the handshake; without this a refresh could wait forever.
 */
const EXCHANGE_SECONDS = 60;

/** Runs one root script on the Pi over SSH with `stdin`, returning stdout; bounded dials and exchanges. */
async function runOnPi(s: PresenceState, script: string, stdin: string, attempts: number): Promise<string> {
    // Required here, not imported: the provider is serialised as a closure and runs in the
    // engine's dynamic-provider process, which resolves ssh2 from the project's node_modules.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Client } = require("ssh2") as typeof import("ssh2");
    const [keyType, keyBlob] = s.hostKey.trim().split(/\s+/);
    const config: ConnectConfig = {
        host: s.host, port: s.port, username: s.user, privateKey: s.privateKey,
        readyTimeout: s.perDialTimeoutSeconds * 1000,
        ...(keyBlob ? {
            // Offer only the pinned key's algorithm, so the server shows that key.
            // (the inventory accepts only ed25519 and ECDSA pins, so the type is the algorithm's name).
            algorithms: { serverHostKey: [keyType as never] },
            hostVerifier: (key: Buffer) => key.toString("base64") === keyBlob,
        } : {}),
    };
    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
        try {
            return await new Promise<string>((resolve, reject) => {
                const client = new Client();
                let out = "";
                let err = "";
                let connected = false;
                const deadlineSeconds = s.perDialTimeoutSeconds + (s.exchangeTimeoutSeconds ?? EXCHANGE_SECONDS);
                const deadline = setTimeout(() => {
                    client.destroy();
                    reject(new Error(`no answer within ${deadlineSeconds} s (${connected ? "connected, the script did not finish" : "not connected"})`));
                }, deadlineSeconds * 1000);
                const succeed = (v: string) => { clearTimeout(deadline); resolve(v); };
                const fail = (e: Error) => { clearTimeout(deadline); client.end(); reject(e); };
                client.on("ready", () => {
                    connected = true;
                    client.exec(script, (e: Error | undefined, stream: ClientChannel) => {
                        if (e) { fail(e); return; }
                        stream.on("data", (d: Buffer) => { out += d.toString("utf8"); });
                        stream.stderr.on("data", (d: Buffer) => { err += d.toString("utf8"); });
                        stream.on("close", (code: number | null) => {
                            client.end();
                            if (code === 0) succeed(out);
                            else fail(Object.assign(new Error(`exited ${code}: ${err.trim()}`), { fatal: true }));
                        });
                        stream.end(stdin);
                    });
                });
                client.on("error", fail);
                // A connection dropped without an error (sshd restarted, the Pi rebooted) settles too;
                // after a result this is a no-op (a promise settles once).
                client.on("close", () => fail(new Error(`the connection closed before the script finished`)));
                client.connect(config);
            });
        } catch (e) {
            lastError = e as Error;
            if ((e as { fatal?: boolean }).fatal) break;
            if (attempt < attempts) await new Promise((r) => setTimeout(r, 1000));
        }
    }
    const message = lastError?.message ?? "unreachable";
    if ((lastError as { fatal?: boolean } | undefined)?.fatal) throw new Error(`${s.host}:${s.port}: ${message}`);
    const fix = /verification failed/i.test(message)
        ? "its host key is not the one pinned in picluster:hosts: if the Pi was reflashed, pin its new key (ssh-keyscan -t ed25519 it)"
        : "check that the Pi is on and its sshd answers, and its address and port in picluster:hosts";
    throw new Error(`${s.host}:${s.port}: no SSH exchange after ${attempts} attempt(s) (${message}); ${fix}`);
}

/** Parses the read script's output: the marker line, then the machine-id line. */
function parseReport(stdout: string): { marker: string; machineId: string } {
    const [marker = "", machineId = ""] = stdout.split("\n");
    return { marker: marker.trim(), machineId: machineId.trim() };
}

const identity = (s: PresenceState) => [s.host, String(s.port), s.user, s.hostKey];

const presenceProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: PresenceState) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const marker = (require("crypto") as typeof import("crypto")).randomUUID();
        const report = parseReport(await runOnPi(inputs, inputs.claimScript, `${marker}\n`, inputs.dialAttempts));
        if (report.marker !== marker) throw new Error(`${inputs.host}: the presence marker did not stick (read back "${report.marker}")`);
        return { id: marker, outs: { ...inputs, marker, machineId: report.machineId, drift: "" } };
    },

    async read(id: string, props: PresenceState) {
        let report: { marker: string; machineId: string };
        try {
            report = parseReport(await runOnPi(props, props.readScript, "", 1));
        } catch {
            // A Pi that does not answer is not proof of a reflash: keep what is known.
            return { id, props };
        }
        let drift = "";
        if (report.marker !== props.marker) {
            drift = report.marker === "" ? "the program's marker is gone (reflashed or a new SD card)" : "it carries another stack's marker";
        } else if (props.machineId !== "" && report.machineId !== props.machineId) {
            drift = `its machine-id changed (${props.machineId} -> ${report.machineId || "none"})`;
        }
        return { id, props: { ...props, drift } };
    },

    diff(_id: string, olds: PresenceState, news: PresenceState) {
        const moved = identity(olds).some((v, i) => v !== identity(news)[i]);
        if (olds.drift && !moved && news.refuseRebuild) {
            return Promise.reject(new Error(`${news.host}: ${olds.drift}. ${news.refuseRebuild}`));
        }
        const replaces = [...(olds.drift ? ["marker"] : []), ...(moved ? ["host"] : [])];
        const changes = replaces.length > 0 || olds.privateKey !== news.privateKey
            || olds.perDialTimeoutSeconds !== news.perDialTimeoutSeconds || olds.dialAttempts !== news.dialAttempts
            || (olds.refuseRebuild ?? "") !== (news.refuseRebuild ?? "");
        return Promise.resolve({ changes, replaces });
    },

    update(_id: string, olds: PresenceState, news: PresenceState) {
        return Promise.resolve({ outs: { ...news, marker: olds.marker, machineId: olds.machineId, drift: "" } });
    },

    async delete(_id: string, props: PresenceState) {
        // Only our own marker is removed: after a replacement the Pi carries the new one.
        await runOnPi(props, props.releaseScript, `${props.marker}\n`, props.dialAttempts);
    },
};

export class PiPresence extends pulumi.dynamic.Resource {
    /** Changes whenever the Pi is (re)claimed. */
    public declare readonly marker: pulumi.Output<string>;

    constructor(name: string, args: PresenceArgs, opts?: pulumi.CustomResourceOptions) {
        const scripts: PresenceScripts = {
            claimScript: asRoot(renderPresenceClaimScript({ hostname: args.name, ...(args.markerPath ? { path: args.markerPath } : {}) })),
            readScript: asRoot(renderPresenceReadScript(args.markerPath)),
            releaseScript: asRoot(renderPresenceReleaseScript(args.markerPath)),
        };
        const inputs: Record<string, unknown> = { ...args };
        delete inputs.markerPath;
        delete inputs.name;
        super(presenceProvider, name, { ...inputs, ...scripts, marker: undefined, machineId: undefined, drift: undefined },
            { ...opts, additionalSecretOutputs: ["privateKey"] }, "picluster", "PiPresence");
    }
}
