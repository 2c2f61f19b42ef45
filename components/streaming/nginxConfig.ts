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
// - Every publish is checked by `on_publish` by the server's own HTTP side before a byte is
//   written: the name must be one of the listed streams (it becomes a file name), and the
//   stream key's query must carry that stream's publish key. OBS and ffmpeg send one stream
//   key, `studio?key=<publish key>`; nginx-rtmp cuts it at '?' into the name and its args and
//   calls on_publish with `...&addr=<client>&...&name=studio&type=live&key=<publish key>`: its
//   own arguments first, the client's after them, so `$arg_name` and `$arg_addr` (nginx takes
//   an argument's first occurrence) are nginx-rtmp's, whatever the client appends.
// - The publish keys are not in this file: they are in a second one (renderPublishKeys) that
//   it includes, mounted from a Kubernetes Secret. No log line carries the args: the check
//   logs with its own format (name, address, verdict), the RTMP access log's format has no
//   $args, and error_log stays at warn (nginx-rtmp logs every publish's args at info).
// - Recordings are bounded per stream: a guard (scripts.ts, recordingGuard) that sees a
//   stream's recordings folder reach its share of the volume leaves a flag file and drops the
//   stream's relay into `rec` through rtmp_control; the relay's reconnects then meet the flag
//   in `rec`'s own on_publish check, so the live stream goes on and nothing more is recorded.
// - One worker: nginx-rtmp keeps live streams per worker process (several need
//   rtmp_auto_push); one nginx worker serves hundreds of HLS viewers with sendfile.

import { STREAM_NAME_PATTERN, STREAM_NAME_RULE } from "../../inventory/streaming";

/** Stream names become file names: letters, digits, '_' and '-', 1-64 characters (the schema's rule). */
export const STREAM_KEY_PATTERN = STREAM_NAME_PATTERN;
export const STREAM_KEY_RULE = STREAM_NAME_RULE;
/**
 * A publish key: letters and digits only, so that it needs no escaping in an RTMP URL, an OBS
 * field, a query string or the included nginx map (RandomPassword with special: false).
 */
export const PUBLISH_KEY_PATTERN = /^[A-Za-z0-9]{16,128}$/;

/** URL paths served by the HTTP side; the Ingress routes exactly these to the server. */
export const HLS_URL_PATH = "/hls/";
export const RECORDINGS_URL_PATH = "/recordings/";
export const HEALTH_URL_PATH = "/healthz";
const PUBLISH_CHECK_PATH = "/rtmp/on-publish";
const RECORD_CHECK_PATH = "/rtmp/on-record";
/** nginx-rtmp's control API (only `drop`), for the recording guard; loopback only. */
export const CONTROL_URL_PATH = "/rtmp/control/";
/** The RTMP application the live streams are pushed into to be recorded. */
export const RECORD_APPLICATION = "rec";

/** What OBS's "Stream Key" field (and the end of ffmpeg's URL) holds for a stream. */
export function publishStreamKey(name: string, key: string): string {
    return `${name}?key=${key}`;
}

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
    /** The names that may be published (streamingSchema's `streams`: valid, unique, 1 or more). */
    readonly streams: readonly string[];
    /** The rendered renderPublishKeys() file, included into http {} (the pod mounts it from a Secret). */
    readonly publishKeysFile: string;
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
    /**
     * Where the recording guard leaves a file named after each stream whose recordings are
     * full; `rec` refuses such a stream's relay. Required with recordingsDir.
     */
    readonly recordingStopDir?: string;
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
    absPath(input.publishKeysFile, "publishKeysFile");
    check(input.streams.length > 0, "streams must list at least one stream");
    // Names are the schema's, checked again because each one becomes a word of this file.
    for (const n of input.streams) check(STREAM_KEY_PATTERN.test(n), `stream name ${JSON.stringify(n)} must be ${STREAM_KEY_RULE}`);
    check(new Set(input.streams).size === input.streams.length, "streams must not repeat a name");
    if (input.recordingsDir !== undefined) {
        absPath(input.recordingsDir, "recordingsDir");
        check(dir(input.recordingsDir) !== dir(input.hlsDir), "recordingsDir must differ from hlsDir");
        check(input.recordingStopDir !== undefined, "recordingStopDir is needed with recordingsDir");
        absPath(input.recordingStopDir!, "recordingStopDir");
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
    const recordCheck = `http://127.0.0.1:${input.httpPort}${RECORD_CHECK_PATH}`;
    // nginx's regex, same rule as STREAM_KEY_PATTERN.
    const keyRegex = STREAM_KEY_PATTERN.source;
    const stopDir = input.recordingStopDir === undefined ? undefined : dir(input.recordingStopDir);
    // Publish verdicts go to the error log, whatever the access log is, where the operator looks first.
    const rejectLog = input.errorLog === "stderr" ? "/dev/stderr" : input.errorLog;

    const lines: string[] = [
        // This text is in the server's ConfigMap, and any change to it replaces the ConfigMap
        // and restarts the server pod (dropping live streams), so this line is changed only
        // together with something that needs that restart anyway (it was, with the publish keys).
        "# Rendered by components/streaming/nginxConfig.ts; edit the stack config, not this file.",
        ...(input.rtmpModulePath ? [`load_module ${input.rtmpModulePath};`] : []),
        "daemon off;",
        "worker_processes 1;",
        `pid ${input.pidFile};`,
        // Not below warn: at info nginx-rtmp logs each publish's args, which hold the key.
        `error_log ${input.errorLog} warn;`,
        "",
        "events {",
        `    worker_connections ${conns};`,
        "}",
        "",
        "rtmp {",
        // nginx-rtmp's default format ends in "$args": the publish key. This one has no args
        // (nginx-rtmp takes log_format only here, at the rtmp level).
        "    log_format streams '$remote_addr [$time_local] $command \"$app\" \"$name\" - $bytes_received $bytes_sent \"$flashver\" ($session_readable_time)';",
        "",
        "    server {",
        `        listen ${at(input.rtmpPort)};`,
        "        chunk_size 4096;",
        // nginx-rtmp otherwise opens its own compiled-in access log path.
        `        access_log ${input.accessLog === "off" ? "off" : `${input.accessLog} streams`};`,
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
            "            # Refuses the relay of a stream whose recordings are full (the guard's flag).",
            `            on_publish ${recordCheck};`,
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
        "    # The on_publish check. The name arrives URL-encoded, so '/', '.', '%' never match.",
        "    map $arg_name $stream_name_valid {",
        `        "~${keyRegex}" 1;`,
        "        default 0;",
        "    }",
        "    # The listed streams. Regexes, because nginx matches a map's plain strings ignoring case.",
        "    map $arg_name $stream_listed {",
        ...input.streams.map((n) => `        "~^${n}$" 1;`),
        "        default 0;",
        "    }",
        "    map $arg_key $publish_key_given {",
        '        "" 0;',
        "        default 1;",
        "    }",
        "    # $publish_key_ok (1 for a listed name with its own key, else 0) is set by the publish keys file.",
        `    include ${input.publishKeysFile};`,
        '    map "$stream_name_valid:$stream_listed:$publish_key_given:$publish_key_ok" $publish_verdict {',
        '        "1:1:1:1" accepted;',
        '        "1:1:1:0" "rejected (wrong key)";',
        '        "1:1:0:0" "rejected (no key: publish as <stream>?key=<publish key>)";',
        '        "~^1:0:" "rejected (not a listed stream)";',
        `        default "rejected (not a valid stream name: use ${STREAM_KEY_RULE})";`,
        "    }",
        "    map $publish_verdict $publish_refused {",
        '        accepted "";',
        "        default 1;",
        "    }",
        "    # Name, client address and verdict; never the request line or the args (they hold the key).",
        "    log_format rtmp_publish escape=default",
        "        '$time_iso8601 rtmp publish $publish_verdict: stream \"$arg_name\" from $arg_addr to application \"$arg_app\"';",
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
        // Every verdict, where the operator looks first (the error log), in the format above:
        // this location's own access_log, so the server's request-line log never sees the key.
        `            access_log ${rejectLog} rtmp_publish;`,
        "            if ($publish_refused) {",
        "                return 403 \"publish refused\\n\";",
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
            "        # The relay into rec asks here: refused while the guard's flag for the stream is there.",
            `        location = ${RECORD_CHECK_PATH} {`,
            "            allow 127.0.0.1;",
            "            deny all;",
            "            access_log off;",
            "            default_type text/plain;",
            // The name is a listed stream's (the live check let it in) and URL-encoded: no '/'.
            `            if (-e ${stopDir}/$arg_name) {`,
            "                return 403 \"recordings full\\n\";",
            "            }",
            "            return 204;",
            "        }",
            "",
            "        # The recording guard drops a full stream's relay here.",
            `        location ${CONTROL_URL_PATH} {`,
            "            allow 127.0.0.1;",
            "            deny all;",
            "            access_log off;",
            "            rtmp_control drop;",
            "        }",
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

/**
 * The publish keys file that nginx.conf includes (mounted from a Secret, never a ConfigMap):
 * sets $publish_key_ok to 1 when the on_publish call's name is a listed stream and its key
 * that stream's key. Each entry is a case-sensitive regex on "<name>/<key>": names cannot hold
 * '/', so no other name and key put together can match. Messages name the stream, never a key.
 */
export function renderPublishKeys(keys: readonly { readonly name: string; readonly key: string }[]): string {
    check(keys.length > 0, "publish keys: at least one stream");
    for (const k of keys) {
        check(STREAM_KEY_PATTERN.test(k.name), `publish keys: stream name ${JSON.stringify(k.name)} must be ${STREAM_KEY_RULE}`);
        check(PUBLISH_KEY_PATTERN.test(k.key), `publish keys: the key of stream ${k.name} must be 16-128 letters and digits`);
    }
    check(new Set(keys.map((k) => k.name)).size === keys.length, "publish keys: a stream is listed twice");
    return [
        "# Rendered by components/streaming/nginxConfig.ts (renderPublishKeys): the streams' publish keys.",
        "map \"$arg_name/$arg_key\" $publish_key_ok {",
        ...keys.map((k) => `    "~^${k.name}/${k.key}$" 1;`),
        "    default 0;",
        "}",
        "",
    ].join("\n");
}
