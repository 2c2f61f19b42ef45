// nginx.conf for the streaming server: nginx with nginx-rtmp-module takes RTMP on one port,
// writes live HLS (short playlist) and a recording (HLS that keeps every segment) and serves
// both over HTTP on another port. Pure: paths and ports are inputs, so the very same text runs
// in the cluster (mounted from a ConfigMap) and on loopback in the tests (Debian's nginx with
// libnginx-mod-rtmp).
//
// What comes from the stack's settings (application, HLS and recording timings) is validated by
// inventory/streaming.ts before anything is rendered, and not again here:
// test/streaming/render.test.ts proves the schema refuses each value that would break this file.
// What the settings do not cover (ports, paths, logs and the listen address, which the component
// and the tests pass) is checked here, because a space or a ';' in one would inject directives.
//
// Why it looks like this (figures from test/streaming/bench):
// - `hls_fragment 1s` with a 1-second keyframe interval at the encoder gives the first playable
//   segment about 1.1 s after the first frame and lets the player sit ~2 s behind live.
//   nginx-rtmp can only cut at keyframes: OBS must send a keyframe every second ("Keyframe
//   Interval 1"), ffmpeg `-g <fps>`.
// - Recordings are HLS too (application `rec`, fed by a local `push`), kept under
//   <recordingsDir>/<key>/index.m3u8 with `hls_cleanup off`: a browser plays them with the same
//   hls.js, with no transcoding and no ffmpeg in the image. nginx-rtmp never writes
//   #EXT-X-ENDLIST; the player page adds it when it loads a recording.
// - Every publish is checked by `on_publish` against STREAM_KEY_PATTERN by the server's own
//   HTTP side before a byte is written, because the key becomes a file name.
// - One worker: nginx-rtmp keeps live streams per worker process (several need
//   rtmp_auto_push); one nginx worker serves hundreds of HLS viewers with sendfile.

/** Stream keys become file names: letters, digits, '_' and '-', 1-64 characters. */
export const STREAM_KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const STREAM_KEY_RULE = "1-64 characters from A-Z a-z 0-9 _ -";

/** URL paths served by the HTTP side; the Ingress routes exactly these to the server. */
export const HLS_URL_PATH = "/hls/";
export const RECORDINGS_URL_PATH = "/recordings/";
export const HEALTH_URL_PATH = "/healthz";
const PUBLISH_CHECK_PATH = "/rtmp/on-publish";

/** Where Debian's libnginx-mod-rtmp puts the module (absolute: relative paths break under -p). */
export const DEBIAN_RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

export interface NginxRtmpConfigInput {
    /** `load_module` path; omit for an nginx with the module compiled in (the container image). */
    readonly rtmpModulePath?: string;
    /** Address to bind both listeners to; omit for all addresses (the pod). Tests use 127.0.0.1. */
    readonly listenAddress?: string;
    readonly rtmpPort: number;
    readonly httpPort: number;
    /**
     * RTMP application name: the ingest URL is rtmp://<host>:<rtmpPort>/<application>/<key>.
     * A name such as "live", never "rec" (streamingSchema's `application`).
     */
    readonly application: string;
    /** Live HLS folder (playlists and segments, deleted after the stream ends). */
    readonly hlsDir: string;
    /** Whole seconds 1-10 (streamingSchema's `hls.fragmentSeconds`). */
    readonly hlsFragmentSeconds: number;
    /** Whole seconds 3-120, at least 3 fragments (streamingSchema's `hls.playlistSeconds`). */
    readonly hlsPlaylistSeconds: number;
    /** Recordings folder; omit to record nothing. */
    readonly recordingsDir?: string;
    /** Whole seconds 1-30 (streamingSchema's `recording.fragmentSeconds`). */
    readonly recordingFragmentSeconds?: number;
    /**
     * The longest recording kept in one playlist (older segments stay on disk, unlisted): whole
     * hours 1-48 (streamingSchema's `recording.maxHours`).
     */
    readonly recordingMaxHours?: number;
    /** pid file, and a folder for nginx's *_temp_path folders. */
    readonly pidFile: string;
    readonly tempDir: string;
    /** Error log target, e.g. "stderr" or a file. */
    readonly errorLog: string;
    /** HTTP access log target, or "off". */
    readonly accessLog: string;
    readonly workerConnections?: number;
    /** Drop a publisher that sends nothing for this long (seconds). */
    readonly idlePublisherSeconds?: number;
}

const ABS_PATH = /^\/[A-Za-z0-9._/-]*$/;

function check(cond: boolean, msg: string): void {
    if (!cond) throw new Error(`renderNginxRtmpConfig: ${msg}`);
}

function port(p: number, what: string): void {
    check(Number.isInteger(p) && p >= 1 && p <= 65535, `${what} must be a port number 1-65535, got ${p}`);
}

function absPath(p: string, what: string): void {
    check(ABS_PATH.test(p) && !p.split("/").includes(".."), `${what} must be an absolute path without spaces or '..', got ${JSON.stringify(p)}`);
}

const dir = (p: string) => p.replace(/\/+$/, "");

export function renderNginxRtmpConfig(input: NginxRtmpConfigInput): string {
    port(input.rtmpPort, "rtmpPort");
    port(input.httpPort, "httpPort");
    check(input.rtmpPort !== input.httpPort, "rtmpPort and httpPort must differ");
    absPath(input.hlsDir, "hlsDir");
    absPath(input.pidFile, "pidFile");
    absPath(input.tempDir, "tempDir");
    if (input.rtmpModulePath !== undefined) absPath(input.rtmpModulePath, "rtmpModulePath");
    if (input.recordingsDir !== undefined) {
        absPath(input.recordingsDir, "recordingsDir");
        check(dir(input.recordingsDir) !== dir(input.hlsDir), "recordingsDir must differ from hlsDir");
    }
    check(input.errorLog === "stderr" || ABS_PATH.test(input.errorLog), "errorLog must be \"stderr\" or an absolute path");
    check(input.accessLog === "off" || ABS_PATH.test(input.accessLog), "accessLog must be \"off\" or an absolute path");
    if (input.listenAddress !== undefined) {
        check(/^(\d{1,3}\.){3}\d{1,3}$/.test(input.listenAddress), `listenAddress must be an IPv4 address, got ${JSON.stringify(input.listenAddress)}`);
    }
    const frag = input.hlsFragmentSeconds;
    const recFrag = input.recordingFragmentSeconds ?? 4;
    const recHours = input.recordingMaxHours ?? 12;
    const conns = input.workerConnections ?? 1024;
    check(Number.isInteger(conns) && conns >= 64 && conns <= 65535, "workerConnections must be 64-65535");
    const idle = input.idlePublisherSeconds ?? 10;
    check(Number.isInteger(idle) && idle >= 1 && idle <= 300, "idlePublisherSeconds must be 1-300");

    const at = (p: number) => (input.listenAddress ? `${input.listenAddress}:${p}` : `${p}`);
    const tmp = dir(input.tempDir);
    const hls = dir(input.hlsDir);
    const rec = input.recordingsDir === undefined ? undefined : dir(input.recordingsDir);
    const publishCheck = `http://127.0.0.1:${input.httpPort}${PUBLISH_CHECK_PATH}`;
    // nginx's regex, same rule as STREAM_KEY_PATTERN.
    const keyRegex = STREAM_KEY_PATTERN.source;
    // Rejected publishes are logged at any log level, where the operator looks first.
    const rejectLog = input.errorLog === "stderr" ? "/dev/stderr" : input.errorLog;

    const lines: string[] = [
        // Names the renderer's old path: this text is in the server's ConfigMap, and any change
        // to it replaces the ConfigMap and restarts the server pod (dropping live streams), so it
        // is changed only together with something that needs that restart anyway.
        "# Rendered by render/nginxRtmp.ts; edit the stack config, not this file.",
        ...(input.rtmpModulePath ? [`load_module ${input.rtmpModulePath};`] : []),
        "daemon off;",
        "worker_processes 1;",
        `pid ${input.pidFile};`,
        `error_log ${input.errorLog} warn;`,
        "",
        "events {",
        `    worker_connections ${conns};`,
        "}",
        "",
        "rtmp {",
        "    server {",
        `        listen ${at(input.rtmpPort)};`,
        "        chunk_size 4096;",
        // nginx-rtmp otherwise opens its own compiled-in access log path.
        `        access_log ${input.accessLog};`,
        "        notify_method get;",
        "",
        `        application ${input.application} {`,
        "            live on;",
        "            record off;",
        "            wait_key on;",
        "            wait_video on;",
        "            idle_streams off;",
        `            drop_idle_publisher ${idle}s;`,
        `            on_publish ${publishCheck};`,
        "            hls on;",
        `            hls_path ${hls};`,
        `            hls_fragment ${frag}s;`,
        `            hls_playlist_length ${input.hlsPlaylistSeconds}s;`,
        "            hls_cleanup on;",
        ...(rec ? [`            push rtmp://127.0.0.1:${input.rtmpPort}/rec;`] : []),
        "        }",
    ];
    if (rec) {
        lines.push(
            "",
            "        # Recordings: fed only by the push above; nobody plays or publishes here from outside.",
            "        application rec {",
            "            live on;",
            "            record off;",
            "            allow publish 127.0.0.1;",
            "            deny publish all;",
            "            deny play all;",
            "            hls on;",
            `            hls_path ${rec};`,
            "            hls_nested on;",
            "            hls_type event;",
            "            hls_cleanup off;",
            `            hls_fragment ${recFrag}s;`,
            `            hls_playlist_length ${recHours}h;`,
            "        }",
        );
    }
    lines.push(
        "    }",
        "}",
        "",
        "http {",
        "    types {",
        "        text/html html;",
        "        application/javascript js;",
        "        application/json json;",
        "        application/vnd.apple.mpegurl m3u8;",
        "        video/mp2t ts;",
        "    }",
        "    default_type application/octet-stream;",
        "    # $request_time: how long the server took, to tell server delay from client delay.",
        "    log_format timed '$remote_addr [$time_iso8601] \"$request\" $status $body_bytes_sent $request_time';",
        `    access_log ${input.accessLog === "off" ? "off" : `${input.accessLog} timed`};`,
        `    client_body_temp_path ${tmp}/client_body;`,
        `    proxy_temp_path ${tmp}/proxy;`,
        `    fastcgi_temp_path ${tmp}/fastcgi;`,
        `    uwsgi_temp_path ${tmp}/uwsgi;`,
        `    scgi_temp_path ${tmp}/scgi;`,
        "    sendfile on;",
        "    tcp_nopush on;",
        "    tcp_nodelay on;",
        "    keepalive_timeout 65s;",
        "    keepalive_requests 10000;",
        "    server_tokens off;",
        "    # The on_publish check: the key arrives URL-encoded, so '/', '.', '%' never match.",
        "    map $arg_name $stream_key_bad {",
        `        "~${keyRegex}" "";`,
        "        default 1;",
        "    }",
        "    log_format rtmp_rejected escape=default",
        `        '$time_iso8601 rtmp publish rejected: stream key "$arg_name" from $arg_addr to application "$arg_app": use ${STREAM_KEY_RULE}';`,
        "    # Playlists change every fragment; a segment never changes once listed.",
        "    map $uri $hls_cache_control {",
        "        ~\\.ts$ \"max-age=600\";",
        "        default no-cache;",
        "    }",
        "",
        "    server {",
        `        listen ${at(input.httpPort)};`,
        "",
        `        location = ${HEALTH_URL_PATH} {`,
        "            access_log off;",
        "            default_type text/plain;",
        "            return 200 \"ok\\n\";",
        "        }",
        "",
        "        # nginx-rtmp asks here before it accepts a publish (on_publish): 2xx accepts.",
        `        location = ${PUBLISH_CHECK_PATH} {`,
        "            allow 127.0.0.1;",
        "            deny all;",
        "            default_type text/plain;",
        `            access_log ${rejectLog} rtmp_rejected if=$stream_key_bad;`,
        "            if ($stream_key_bad) {",
        `                return 403 "stream key rejected: use ${STREAM_KEY_RULE}\\n";`,
        "            }",
        "            return 204;",
        "        }",
        "",
        "        # Live HLS; the folder listing (JSON, with mtimes) tells the page what is live.",
        `        location ${HLS_URL_PATH} {`,
        `            alias ${hls}/;`,
        "            autoindex on;",
        "            autoindex_format json;",
        "            add_header Cache-Control $hls_cache_control;",
        "            add_header Access-Control-Allow-Origin *;",
        "        }",
    );
    if (rec) {
        lines.push(
            "",
            `        location ${RECORDINGS_URL_PATH} {`,
            `            alias ${rec}/;`,
            "            autoindex on;",
            "            autoindex_format json;",
            "            add_header Cache-Control no-cache;",
            "            add_header Access-Control-Allow-Origin *;",
            "        }",
        );
    }
    lines.push(
        "",
        "        location / {",
        "            return 404;",
        "        }",
        "    }",
        "}",
        "",
    );
    return lines.join("\n");
}
