// Real parts on loopback for the streaming tests and the benchmark: Debian's nginx with
// libnginx-mod-rtmp running the rendered nginx.conf, a second nginx standing in for the
// cluster's Ingress (the player page at /, the streaming server's paths proxied), ffmpeg
// publishing a test pattern with a tone, and headless Chromium through playwright-core.
// Nothing here installs anything: a missing program fails with the apt-get command to run.
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
    CONTROL_URL_PATH, DEBIAN_RTMP_MODULE, HLS_URL_PATH, publishStreamKey, RECORD_APPLICATION, RECORDINGS_URL_PATH, renderNginxRtmpConfig,
    renderPublishKeys,
} from "../../components/streaming/nginxConfig";
import { recordingGuard } from "../../components/streaming/scripts";
import { HLS_JS_FILE, HLS_JS_MODULE_PATH, renderPlayerPage } from "../../components/streaming/player";
import { freePort, waitFor } from "../kit";

export const NGINX = "/usr/sbin/nginx";
export const FFMPEG = "/usr/bin/ffmpeg";
export const FFPROBE = "/usr/bin/ffprobe";
export const CHROMIUM = "/usr/bin/chromium";

/** The flags from docs: no network side traffic, no sandbox (root), no GPU. */
export const CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
];

const PROGRAMS: readonly { path: string; pkg: string }[] = [
    { path: NGINX, pkg: "nginx" },
    { path: DEBIAN_RTMP_MODULE, pkg: "libnginx-mod-rtmp" },
    { path: FFMPEG, pkg: "ffmpeg" },
    { path: FFPROBE, pkg: "ffmpeg" },
    { path: CHROMIUM, pkg: "chromium" },
];

/** Throws, naming the apt-get command, when a program the tests drive is missing. */
export function requirePrograms(which: readonly string[] = PROGRAMS.map((p) => p.path)): void {
    const missing = PROGRAMS.filter((p) => which.includes(p.path) && !existsSync(p.path));
    if (missing.length > 0) {
        const pkgs = [...new Set(missing.map((p) => p.pkg))];
        throw new Error(`missing ${missing.map((p) => p.path).join(", ")}: run \`apt-get update && apt-get install -y --no-install-recommends ${pkgs.join(" ")}\``);
    }
}

// The kit's waits and ports, re-exported for the streaming tests that import them from here.
export { freePort, sleep, waitFor } from "../kit";

/** One nginx process in the foreground, its own prefix, stopped with SIGQUIT then SIGKILL. */
class NginxProcess {
    readonly proc: ChildProcess;
    private output = "";
    constructor(readonly prefix: string, readonly conf: string) {
        const t = spawnSync(NGINX, ["-t", "-q", "-p", prefix, "-c", conf], { encoding: "utf8", timeout: 10_000 });
        if (t.status !== 0) throw new Error(`nginx -t refused ${conf}:\n${t.stderr}`);
        this.proc = spawn(NGINX, ["-p", prefix, "-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
        this.proc.stdout?.on("data", (d: Buffer) => { this.output += d.toString(); });
        this.proc.stderr?.on("data", (d: Buffer) => { this.output += d.toString(); });
    }
    get log(): string { return this.output; }
    /** Re-reads the config (and what it includes), as nginx does on SIGHUP, after checking it. */
    reload(): void {
        const t = spawnSync(NGINX, ["-t", "-q", "-p", this.prefix, "-c", this.conf], { encoding: "utf8", timeout: 10_000 });
        if (t.status !== 0) throw new Error(`nginx -t refused ${this.conf}:\n${t.stderr}`);
        this.proc.kill("SIGHUP");
    }
    async stop(): Promise<void> {
        if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
        const exited = new Promise<void>((r) => this.proc.once("exit", () => r()));
        this.proc.kill("SIGQUIT");
        const t = setTimeout(() => this.proc.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
    }
}

export interface ServerOptions {
    readonly fragmentSeconds?: number;
    readonly playlistSeconds?: number;
    readonly record?: boolean;
    readonly accessLog?: boolean;
    /** Live HLS on a tmpfs (/dev/shm), as the pod has it (hls.inMemory, an emptyDir in RAM). Default true. */
    readonly hlsInMemory?: boolean;
    /** The streams that may be published (each gets a generated publish key). Default ["studio"]. */
    readonly streams?: readonly string[];
    /**
     * Run the recording guard (scripts.ts) beside the server with this share per stream (KiB),
     * checking every second, as the pod's recording-guard container does every 5 s.
     */
    readonly recordingShareKiB?: number;
}

/** A publish key like the stack's: 32 letters and digits. */
export function newPublishKey(): string {
    const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    return [...randomBytes(32)].map((b) => abc[b % abc.length]).join("");
}

export interface StreamingServer {
    readonly dir: string;
    readonly hlsDir: string;
    readonly recordingsDir: string;
    readonly rtmpPort: number;
    readonly httpPort: number;
    readonly confText: string;
    /** http://127.0.0.1:<httpPort> */
    readonly httpBase: string;
    /** rtmp://127.0.0.1:<rtmpPort>/live */
    readonly ingestUrl: string;
    /** The current publish key of each listed stream. */
    readonly keys: Readonly<Record<string, string>>;
    /** `<name>?key=<its key>`: what OBS's Stream Key field holds. */
    streamKey(name: string): string;
    /** A new key for `name`, the keys file rewritten and nginx reloaded; resolves once the new key is in force. */
    rotate(name: string): Promise<string>;
    errorLog(): string;
    /** What the recording guard said (empty without recordingShareKiB). */
    guardLog(): string;
    stop(): Promise<void>;
}

/** Starts Debian's nginx with the rendered config (paths and ports are the only differences). */
export async function startStreamingServer(opts: ServerOptions = {}): Promise<StreamingServer> {
    requirePrograms([NGINX, DEBIAN_RTMP_MODULE]);
    const dir = mkdtempSync(join(tmpdir(), "picluster-stream-"));
    const shm = opts.hlsInMemory !== false && existsSync("/dev/shm") ? mkdtempSync("/dev/shm/picluster-hls-") : undefined;
    const hlsDir = shm ?? join(dir, "hls");
    const recordingsDir = join(dir, "recordings");
    const tempDir = join(dir, "temp");
    for (const d of [hlsDir, recordingsDir, tempDir, join(dir, "logs")]) mkdirSync(d, { recursive: true });
    // Started as root, the worker runs as nobody and writes these folders (like the pod's volumes).
    chmodSync(dir, 0o755);
    for (const d of [hlsDir, recordingsDir]) chmodSync(d, 0o777);
    const rtmpPort = await freePort();
    const httpPort = await freePort();
    const streams = opts.streams ?? ["studio"];
    const keys: Record<string, string> = Object.fromEntries(streams.map((n) => [n, newPublishKey()]));
    const keysFile = join(dir, "publish-keys.conf");
    const writeKeys = () => writeFileSync(keysFile, renderPublishKeys(streams.map((name) => ({ name, key: keys[name] }))), { mode: 0o600 });
    writeKeys();
    const stopDir = join(dir, "recording-full");
    const confText = renderNginxRtmpConfig({
        rtmpModulePath: DEBIAN_RTMP_MODULE,
        listenAddress: "127.0.0.1",
        rtmpPort, httpPort,
        application: "live",
        streams,
        publishKeysFile: keysFile,
        hlsDir,
        hlsFragmentSeconds: opts.fragmentSeconds ?? 1,
        hlsPlaylistSeconds: opts.playlistSeconds ?? 10,
        recordingsDir: opts.record === false ? undefined : recordingsDir,
        recordingStopDir: stopDir,
        pidFile: join(dir, "nginx.pid"),
        tempDir,
        errorLog: join(dir, "logs", "error.log"),
        accessLog: opts.accessLog ? join(dir, "logs", "access.log") : "off",
    });
    const conf = join(dir, "nginx.conf");
    writeFileSync(conf, confText);
    const nginx = new NginxProcess(dir, conf);
    const httpBase = `http://127.0.0.1:${httpPort}`;
    try {
        await waitFor("the streaming server's /healthz", 10_000, async () => (await fetch(`${httpBase}/healthz`)).ok);
    } catch (e) {
        await nginx.stop();
        if (shm) rmSync(shm, { recursive: true, force: true });
        throw new Error(`${String(e)}\nnginx output:\n${nginx.log}`);
    }
    let guardOutput = "";
    let guard: ChildProcess | undefined;
    if (opts.recordingShareKiB !== undefined) {
        guard = spawn("/bin/sh", ["-c", recordingGuard({
            recordingsDir, stopDir, streams, shareKiB: opts.recordingShareKiB, intervalSeconds: 1,
            dropUrl: `${httpBase}${CONTROL_URL_PATH}drop/publisher?app=${RECORD_APPLICATION}&name=`,
            aliveFile: join(dir, "recording-guard.alive"),
        })], { stdio: ["ignore", "pipe", "pipe"] });
        guard.stdout?.on("data", (d: Buffer) => { guardOutput += d.toString(); });
        guard.stderr?.on("data", (d: Buffer) => { guardOutput += d.toString(); });
    }
    const streamKey = (name: string) => {
        if (!(name in keys)) throw new Error(`${name} is not one of this server's streams (${streams.join(", ")})`);
        return publishStreamKey(name, keys[name]);
    };
    return {
        dir, hlsDir, recordingsDir, rtmpPort, httpPort, confText, httpBase, keys, streamKey,
        ingestUrl: `rtmp://127.0.0.1:${rtmpPort}/live`,
        async rotate(name: string) {
            streamKey(name);
            keys[name] = newPublishKey();
            writeKeys();
            nginx.reload();
            // The check answers 204 for the new key once the new workers are up.
            const probe = `${httpBase}/rtmp/on-publish?app=live&addr=reload-probe&call=publish&name=${name}&type=live&key=${keys[name]}`;
            await waitFor("nginx to take the new key", 10_000, async () => (await fetch(probe)).status === 204 || undefined, 50);
            return keys[name];
        },
        errorLog: () => { try { return readFileSync(join(dir, "logs", "error.log"), "utf8"); } catch { return ""; } },
        guardLog: () => guardOutput,
        async stop() {
            guard?.kill("SIGKILL");
            await nginx.stop();
            rmSync(dir, { recursive: true, force: true });
            if (shm) rmSync(shm, { recursive: true, force: true });
        },
    };
}

export interface FrontDoor {
    /** http://127.0.0.1:<port>/ : the player page, as the Ingress serves it. */
    readonly url: string;
    stop(): Promise<void>;
}

/**
 * The Ingress stand-in: serves the player page (index.html + hls.js) at / like the player pods,
 * and proxies the streaming server's paths like the Ingress rules do.
 */
export async function startFrontDoor(server: StreamingServer, page?: { title?: string; liveSyncSeconds?: number; fragmentSeconds?: number; ingestUrl?: string }): Promise<FrontDoor> {
    const dir = mkdtempSync(join(tmpdir(), "picluster-front-"));
    const www = join(dir, "www");
    mkdirSync(www);
    mkdirSync(join(dir, "temp"));
    chmodSync(dir, 0o755);
    writeFileSync(join(www, "index.html"), renderPlayerPage({
        title: page?.title ?? "picluster streams",
        ingestUrl: page?.ingestUrl ?? server.ingestUrl,
        recordingsPath: RECORDINGS_URL_PATH,
        fragmentSeconds: page?.fragmentSeconds ?? 1,
        liveSyncSeconds: page?.liveSyncSeconds ?? 1.5,
        pollSeconds: 1,
    }));
    copyFileSync(require.resolve(HLS_JS_MODULE_PATH), join(www, HLS_JS_FILE));
    const port = await freePort();
    const t = join(dir, "temp");
    const conf = join(dir, "nginx.conf");
    const upstream = `http://127.0.0.1:${server.httpPort}`;
    writeFileSync(conf, [
        "daemon off;", "worker_processes 1;", `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log warn;`,
        "events { worker_connections 1024; }",
        "http {",
        "  types { text/html html; application/javascript js; }",
        "  access_log off;",
        `  client_body_temp_path ${t}/cb; proxy_temp_path ${t}/px; fastcgi_temp_path ${t}/fc; uwsgi_temp_path ${t}/uw; scgi_temp_path ${t}/sc;`,
        "  server {",
        `    listen 127.0.0.1:${port};`,
        `    location / { root ${www}; index index.html; }`,
        ...[HLS_URL_PATH, RECORDINGS_URL_PATH].map((p) => `    location ${p} { proxy_pass ${upstream}; proxy_http_version 1.1; proxy_set_header Connection ""; }`),
        "  }",
        "}",
        "",
    ].join("\n"));
    const nginx = new NginxProcess(dir, conf);
    const url = `http://127.0.0.1:${port}/`;
    await waitFor("the front door", 10_000, async () => (await fetch(url)).ok);
    return {
        url,
        async stop() {
            await nginx.stop();
            rmSync(dir, { recursive: true, force: true });
        },
    };
}

export interface Publisher {
    readonly proc: ChildProcess;
    /** Date.now() when ffmpeg was started. */
    readonly startedAt: number;
    readonly exited: Promise<number | null>;
    /** Date.now() when ffmpeg reported its first encoded frame (ffmpeg's -progress). */
    readonly firstFrame: Promise<number>;
    stderr(): string;
    /** Ends the stream the way a user does (q / SIGINT: ffmpeg flushes and closes cleanly). */
    stop(): Promise<number | null>;
}

export interface PublishOptions {
    readonly key: string;
    readonly seconds?: number;
    readonly size?: string;
    readonly fps?: number;
    /** Publish with OBS's split: server URL plus a separate key (may contain anything). */
    readonly splitKey?: boolean;
    /** Send this already encoded FLV in a loop (-c copy: almost no CPU) instead of encoding live. */
    readonly file?: string;
}

/** ffmpeg pushing a test pattern with a 440 Hz tone, 1 s keyframe interval, as OBS is told to. */
export function publish(ingestUrl: string, opts: PublishOptions): Publisher {
    requirePrograms([FFMPEG]);
    const fps = opts.fps ?? 25;
    const target = opts.splitKey ? ["-rtmp_app", "live", "-rtmp_playpath", opts.key, ingestUrl] : [`${ingestUrl}/${opts.key}`];
    const head = ["-hide_banner", "-nostdin", "-loglevel", "warning", "-progress", "pipe:1", "-stats_period", "0.02"];
    const args = opts.file
        ? [...head, "-re", "-stream_loop", "-1", "-i", opts.file, "-t", String(opts.seconds ?? 60), "-c", "copy", "-f", "flv", ...target]
        : [
            ...head,
            "-re", "-f", "lavfi", "-i", `testsrc2=size=${opts.size ?? "640x360"}:rate=${fps}`,
            "-re", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-t", String(opts.seconds ?? 60),
            "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
            "-g", String(fps), "-keyint_min", String(fps), "-b:v", "800k",
            "-c:a", "aac", "-b:a", "96k",
            "-f", "flv", ...target,
        ];
    const startedAt = Date.now();
    const proc = spawn(FFMPEG, args, { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    proc.stderr?.on("data", (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    const firstFrame = new Promise<number>((resolve, reject) => {
        let tail = "";
        const onData = (d: Buffer) => {
            const text = tail + d.toString();
            if (/frame=[1-9]/.test(text)) {
                resolve(Date.now());
                proc.stdout?.off("data", onData);
                proc.stdout?.resume();
            }
            tail = text.slice(-16);
        };
        proc.stdout?.on("data", onData);
        void exited.then(() => reject(new Error(`ffmpeg exited before its first frame: ${err}`)));
    });
    firstFrame.catch(() => undefined);
    return {
        proc, startedAt, exited, firstFrame,
        stderr: () => err,
        async stop() {
            if (proc.exitCode === null && proc.signalCode === null) {
                proc.kill("SIGINT");
                const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
                const code = await exited;
                clearTimeout(t);
                return code;
            }
            return exited;
        },
    };
}

/** Encodes `seconds` of the same test pattern into an FLV file once, for publish({ file }). */
export function encodeTestFile(path: string, seconds: number): void {
    requirePrograms([FFMPEG]);
    const r = spawnSync(FFMPEG, [
        "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
        "-t", String(seconds), "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
        "-g", "25", "-keyint_min", "25", "-b:v", "800k", "-c:a", "aac", "-b:a", "96k", "-f", "flv", path,
    ], { encoding: "utf8", timeout: 120_000 });
    if (r.status !== 0) throw new Error(`ffmpeg could not encode ${path}: ${r.stderr}`);
}

/** Media duration (s) by ffprobe, of a file or an HLS playlist. */
export function probeDuration(path: string): number {
    requirePrograms([FFPROBE]);
    const r = spawnSync(FFPROBE, ["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", path],
        { encoding: "utf8", timeout: 20_000 });
    if (r.status !== 0) throw new Error(`ffprobe ${path}: ${r.stderr}`);
    return Number(r.stdout.trim());
}

export interface HlsPlaylist {
    readonly segments: readonly { uri: string; duration: number }[];
    readonly targetDuration: number;
    readonly mediaSequence: number;
}

export function parsePlaylist(text: string): HlsPlaylist {
    const lines = text.split(/\r?\n/);
    const segments: { uri: string; duration: number }[] = [];
    let pending: number | undefined;
    let targetDuration = 0;
    let mediaSequence = 0;
    for (const l of lines) {
        if (l.startsWith("#EXT-X-TARGETDURATION:")) targetDuration = Number(l.split(":")[1]);
        else if (l.startsWith("#EXT-X-MEDIA-SEQUENCE:")) mediaSequence = Number(l.split(":")[1]);
        else if (l.startsWith("#EXTINF:")) pending = parseFloat(l.slice(8));
        else if (l && !l.startsWith("#") && pending !== undefined) {
            segments.push({ uri: l.trim(), duration: pending });
            pending = undefined;
        }
    }
    return { segments, targetDuration, mediaSequence };
}

/** playwright-core's Chromium (Debian's), with the flags above and a fresh profile. */
export async function launchBrowser() {
    requirePrograms([CHROMIUM]);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { chromium } = require("playwright-core") as typeof import("playwright-core");
    return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}
