// The renderers: the nginx.conf the cluster mounts runs as it is (Debian's nginx, only the
// module load added, with only the capabilities the pod grants), and bad inputs are refused:
// by the renderers for what they are handed directly (ports, paths, URLs), by the settings
// schema for what comes from the stack's settings (which the renderers do not check again).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseStreamingSettings } from "../../inventory/streaming";
import { serverNginxConf, SERVER_HTTP_PORT, SERVER_RTMP_PORT } from "../../components/streaming/objects";
import { DEBIAN_RTMP_MODULE, NginxRtmpConfigInput, renderNginxRtmpConfig, renderPublishKeys } from "../../components/streaming/nginxConfig";
import { HLS_JS_FILE, PLAYER_SOURCE_DIR, renderPlayerPage } from "../../components/streaming/player";
import { FFMPEG, newPublishKey, NGINX, requirePrograms } from "./lab";

const BASE: NginxRtmpConfigInput = {
    rtmpPort: 1935, httpPort: 8080, application: "live", streams: ["studio"], publishKeysFile: "/etc/keys/publish-keys.conf",
    hlsDir: "/srv/hls", hlsFragmentSeconds: 1, hlsPlaylistSeconds: 10,
    recordingsDir: "/srv/rec", recordingStopDir: "/run/full", pidFile: "/run/n.pid", tempDir: "/tmp/n", errorLog: "stderr", accessLog: "off",
};

test("the renderer refuses inputs that would make a broken or unsafe nginx.conf", () => {
    const cases: [Partial<NginxRtmpConfigInput>, RegExp][] = [
        [{ rtmpPort: 0 }, /rtmpPort must be a port number 1-65535, got 0/],
        [{ httpPort: 1935 }, /rtmpPort and httpPort must differ/],
        [{ hlsDir: "relative/hls" }, /hlsDir must be an absolute path/],
        [{ hlsDir: "/srv/../etc" }, /hlsDir must be an absolute path without spaces or '\.\.'/],
        [{ recordingsDir: "/srv/hls/" }, /recordingsDir must differ from hlsDir/],
        [{ listenAddress: "0.0.0.0; include /etc/passwd" }, /listenAddress must be an IPv4 address/],
        [{ errorLog: "syslog:server=x" }, /errorLog must be "stderr" or an absolute path/],
        [{ streams: [] }, /streams must list at least one stream/],
        [{ streams: ["a", "b;include /etc/passwd"] }, /stream name "b;include \/etc\/passwd" must be 1-64 characters/],
        [{ streams: ["a", "a"] }, /streams must not repeat a name/],
        [{ publishKeysFile: "keys.conf" }, /publishKeysFile must be an absolute path/],
        [{ recordingStopDir: undefined }, /recordingStopDir is needed with recordingsDir/],
    ];
    for (const [patch, want] of cases) assert.throws(() => renderNginxRtmpConfig({ ...BASE, ...patch }), want, JSON.stringify(patch));
});

test("the publish keys file refuses a bad name or key, naming the stream and never the key", () => {
    const key = newPublishKey();
    assert.equal(renderPublishKeys([{ name: "studio", key }, { name: "Cam-2", key: "A".repeat(16) }]), [
        "# Rendered by components/streaming/nginxConfig.ts (renderPublishKeys): the streams' publish keys.",
        'map "$arg_name/$arg_key" $publish_key_ok {',
        `    "~^studio/${key}$" 1;`,
        `    "~^Cam-2/${"A".repeat(16)}$" 1;`,
        "    default 0;",
        "}",
        "",
    ].join("\n"));
    const bad = ["short1", `${key}/x`, `${key}"; default 1; #`, `${key.slice(0, 20)}!${key.slice(21)}`];
    for (const k of bad) {
        assert.throws(() => renderPublishKeys([{ name: "studio", key: k }]), (e: Error) => {
            assert.equal(e.message, "renderNginxRtmpConfig: publish keys: the key of stream studio must be 16-128 letters and digits");
            return true;
        });
    }
    assert.throws(() => renderPublishKeys([{ name: "../x", key }]), /stream name "\.\.\/x" must be/);
    assert.throws(() => renderPublishKeys([{ name: "a", key }, { name: "a", key }]), /a stream is listed twice/);
    assert.throws(() => renderPublishKeys([]), /at least one stream/);
});

test("nginx -t accepts the cluster's nginx.conf with a rendered publish keys file, for one and for many streams", () => {
    requirePrograms([NGINX, DEBIAN_RTMP_MODULE]);
    for (const streams of [["studio"], Array.from({ length: 32 }, (_, i) => `cam_${i}`)]) {
        const dir = mkdtempSync(join(tmpdir(), "picluster-nginx-t-"));
        try {
            const keysFile = join(dir, "publish-keys.conf");
            writeFileSync(keysFile, renderPublishKeys(streams.map((name) => ({ name, key: newPublishKey() }))));
            const conf = renderNginxRtmpConfig({
                ...BASE, rtmpModulePath: DEBIAN_RTMP_MODULE, streams, publishKeysFile: keysFile,
                hlsDir: join(dir, "hls"), recordingsDir: join(dir, "rec"), recordingStopDir: join(dir, "full"),
                pidFile: join(dir, "n.pid"), tempDir: dir, errorLog: join(dir, "error.log"),
            });
            writeFileSync(join(dir, "nginx.conf"), conf);
            const r = spawnSync(NGINX, ["-t", "-p", dir, "-c", join(dir, "nginx.conf")], { encoding: "utf8", timeout: 10_000 });
            assert.equal(r.status, 0, `${streams.length} streams: ${r.stderr}`);
            assert.doesNotMatch(r.stderr, /\[(warn|emerg|alert|crit|error)\]/, "nginx -t says nothing but ok");
            // Without the keys file nginx refuses to start: no key, no server (never an open one).
            rmSync(keysFile);
            const missing = spawnSync(NGINX, ["-t", "-p", dir, "-c", join(dir, "nginx.conf")], { encoding: "utf8", timeout: 10_000 });
            assert.notEqual(missing.status, 0);
            assert.match(missing.stderr, /publish-keys\.conf/);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    }
});

/** The problem lines parseStreamingSettings refuses `raw` with (it must refuse it). */
function refusals(raw: unknown): string[] {
    try {
        parseStreamingSettings(raw);
    } catch (e) {
        return (e as Error).message.split("\n").slice(1).map((l) => l.replace(/^ {2}- /, ""));
    }
    assert.fail(`the schema accepted ${JSON.stringify(raw)}`);
}

// Each value the renderers used to refuse themselves and now leave to inventory/streaming.ts,
// with the setting it comes from and the line the schema refuses it with. The nginx.conf cases
// are the ones that would break or inject into the file: a ';' in the application name, a
// fragment nginx-rtmp cannot cut, a playlist too short to play, a recording playlist out of range.
const LEFT_TO_THE_SCHEMA: readonly [string, unknown, string][] = [
    ["nginx.conf application", { application: "live; evil" },
        "picluster:streaming.application: must be a name such as live (a letter, then letters, digits, '_' or '-'; at most 32)"],
    ["nginx.conf application", { application: "rec" },
        "picluster:streaming.application: \"rec\" is reserved for the recordings; use another name such as live"],
    ["nginx.conf hls_fragment, page timings", { hls: { fragmentSeconds: 0.5 } }, "picluster:streaming.hls.fragmentSeconds: must be a whole number of seconds"],
    ["nginx.conf hls_fragment, page timings", { hls: { fragmentSeconds: 0 } }, "picluster:streaming.hls.fragmentSeconds: must be 1-10 seconds"],
    ["nginx.conf hls_fragment, page timings", { hls: { fragmentSeconds: 11, playlistSeconds: 120 } }, "picluster:streaming.hls.fragmentSeconds: must be 1-10 seconds"],
    ["nginx.conf hls_playlist_length", { hls: { playlistSeconds: 2 } }, "picluster:streaming.hls.playlistSeconds: must be 3-120 seconds"],
    ["nginx.conf hls_playlist_length", { hls: { playlistSeconds: 121 } }, "picluster:streaming.hls.playlistSeconds: must be 3-120 seconds"],
    ["nginx.conf hls_playlist_length", { hls: { playlistSeconds: 10.5 } }, "picluster:streaming.hls.playlistSeconds: must be a whole number of seconds"],
    ["nginx.conf hls_playlist_length", { hls: { fragmentSeconds: 4 } },
        "picluster:streaming.hls.playlistSeconds: 10 is less than 3 fragments (3 x fragmentSeconds = 12); players need at least 3 segments"],
    ["nginx.conf rec hls_fragment", { recording: { fragmentSeconds: 0 } }, "picluster:streaming.recording.fragmentSeconds: must be 1-30 seconds"],
    ["nginx.conf rec hls_fragment", { recording: { fragmentSeconds: 31 } }, "picluster:streaming.recording.fragmentSeconds: must be 1-30 seconds"],
    ["nginx.conf rec hls_fragment", { recording: { fragmentSeconds: 2.5 } }, "picluster:streaming.recording.fragmentSeconds: must be a whole number of seconds"],
    ["nginx.conf rec hls_playlist_length", { recording: { maxHours: 0 } }, "picluster:streaming.recording.maxHours: must be 1-48 hours"],
    ["nginx.conf rec hls_playlist_length", { recording: { maxHours: 49 } }, "picluster:streaming.recording.maxHours: must be 1-48 hours"],
    ["nginx.conf rec hls_playlist_length", { recording: { maxHours: 1.5 } }, "picluster:streaming.recording.maxHours: must be a whole number of hours"],
    ["page title", { title: "" }, "picluster:streaming.title: must not be empty"],
    ["page title", { title: "   " }, "picluster:streaming.title: must not be empty"],
    ["page title", { title: "x".repeat(101) }, "picluster:streaming.title: must be at most 100 characters"],
    ["page liveSyncSeconds", { player: { liveSyncSeconds: 0.4 } }, "picluster:streaming.player.liveSyncSeconds: must be 0.5-30 seconds"],
    ["page liveSyncSeconds", { player: { liveSyncSeconds: 31 } }, "picluster:streaming.player.liveSyncSeconds: must be 0.5-30 seconds"],
];

for (const [what, raw, want] of LEFT_TO_THE_SCHEMA) {
    test(`the settings schema refuses what the renderers no longer check (${what}): ${JSON.stringify(raw)}`, () => {
        assert.ok(refusals(raw).includes(want), `want "${want}" among:\n${refusals(raw).join("\n")}`);
    });
}

test("every HLS and recording timing the schema accepts renders, at both ends of each range", () => {
    for (const fragmentSeconds of [1, 2, 10]) {
        for (const playlistSeconds of [Math.max(3, 3 * fragmentSeconds), 120]) {
            for (const recording of [{ fragmentSeconds: 1, maxHours: 1 }, { fragmentSeconds: 30, maxHours: 48, retentionDays: 3 }]) {
                const settings = parseStreamingSettings({ hls: { fragmentSeconds, playlistSeconds }, player: { liveSyncSeconds: 0.5 }, recording });
                const conf = serverNginxConf(settings);
                for (const line of [
                    `hls_fragment ${fragmentSeconds}s;`, `hls_playlist_length ${playlistSeconds}s;`,
                    `hls_fragment ${recording.fragmentSeconds}s;`, `hls_playlist_length ${recording.maxHours}h;`,
                ]) assert.ok(conf.includes(line), `${JSON.stringify({ fragmentSeconds, playlistSeconds, recording })}: missing ${line}`);
            }
        }
    }
});

test("the rendered config: HLS timing, recording app, key check and logs as designed", () => {
    const conf = renderNginxRtmpConfig(BASE);
    for (const line of [
        "hls_fragment 1s;", "hls_playlist_length 10s;", "push rtmp://127.0.0.1:1935/rec;", "application rec {",
        "hls_cleanup off;", "hls_playlist_length 12h;", "on_publish http://127.0.0.1:8080/rtmp/on-publish;",
        "on_publish http://127.0.0.1:8080/rtmp/on-record;", "include /etc/keys/publish-keys.conf;", "rtmp_control drop;",
        "allow publish 127.0.0.1;", "deny play all;", "worker_processes 1;", "daemon off;",
    ]) assert.ok(conf.includes(line), `missing: ${line}`);
    assert.doesNotMatch(conf, /load_module/);
    const noRec = renderNginxRtmpConfig({ ...BASE, recordingsDir: undefined });
    assert.doesNotMatch(noRec, /application rec|push rtmp|\/recordings\/|rtmp_control|on-record/);
    // No log format that could print the args (the publish key): not the request line, not $args.
    // The HTTP request-line format ("timed") never sees nginx-rtmp's calls: each location they
    // reach sets its own access_log.
    for (const f of conf.match(/log_format (?!timed )[^;]*;/g) ?? []) assert.doesNotMatch(f, /\$args|\$request|\$query_string|\$arg_key|\$tcurl/, f);
    for (const loc of ["location = /rtmp/on-publish {", "location = /rtmp/on-record {", "location /rtmp/control/ {"]) {
        const block = conf.slice(conf.indexOf(loc), conf.indexOf("}", conf.indexOf(loc)));
        assert.match(block, /access_log (off|\/dev\/stderr rtmp_publish);/, `${loc} has its own access_log`);
    }
    assert.match(conf, /access_log \/dev\/stderr rtmp_publish;/);
    assert.match(conf, /error_log stderr warn;/, "at info nginx-rtmp logs the args");
});

test("the player page escapes what it embeds and refuses bad inputs", () => {
    const page = renderPlayerPage({ title: "<script>alert(1)</script>", ingestUrl: "rtmp://10.0.0.5:1935/live", fragmentSeconds: 1, liveSyncSeconds: 1.5 });
    assert.ok(page.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert.ok(!page.includes("<script>alert(1)"));
    assert.match(page, /"recordingsPath":null/);
    assert.throws(() => renderPlayerPage({ title: "t", ingestUrl: "http://x/", fragmentSeconds: 1, liveSyncSeconds: 1 }), /ingestUrl must be an rtmp:\/\/ URL/);
    assert.throws(() => renderPlayerPage({ title: "t", ingestUrl: "rtmp://x/live", hlsPath: "hls", fragmentSeconds: 1, liveSyncSeconds: 1 }), /hlsPath must be an absolute URL path/);
});

test("the player page is its source files put together: one file, settings filled in once, literally", () => {
    const read = (f: string) => readFileSync(join(PLAYER_SOURCE_DIR, f), "utf8");
    const [css, js] = [read("player.css"), read("player.js")];
    const page = renderPlayerPage({ title: "$& $' {{ingestUrl}}", ingestUrl: "rtmp://10.0.0.5:1935/live", fragmentSeconds: 2, liveSyncSeconds: 3 });
    // The stylesheet and the script are inlined where index.html links them: nothing else to serve.
    assert.ok(page.includes(`<style>\n${css}</style>`));
    assert.doesNotMatch(page, /player\.(css|js)/);
    const [before, after] = js.split("PICLUSTER_PLAYER_CONFIG");
    assert.ok(page.includes(before) && page.includes(after), "player.js is inlined as it is, but for its config");
    const config = /var CONFIG = (\{.*\});\n/.exec(page);
    assert.ok(config, "the config object is in the script");
    assert.deepEqual(JSON.parse(config[1]), {
        hlsPath: "/hls/", recordingsPath: null, keyPattern: "^[A-Za-z0-9_-]{1,64}$", keyRule: "1-64 characters from A-Z a-z 0-9 _ -",
        staleSeconds: 8, liveSyncSeconds: 3, liveMaxLatencySeconds: 11, pollSeconds: 2,
    });
    // A value is put in as it is: no $-patterns expanded, no placeholder inside it filled.
    assert.equal(page.split("<title>$&amp; $&#39; {{ingestUrl}}</title>").length, 2);
    assert.equal(page.split("<h1>$&amp; $&#39; {{ingestUrl}}</h1>").length, 2);
    assert.ok(page.includes('<code id="ingest">rtmp://10.0.0.5:1935/live</code>'));
    assert.ok(page.includes(`<script src="${HLS_JS_FILE}"></script>`));
    assert.doesNotMatch(page.replace(/\{\{ingestUrl\}\}/g, ""), /\{\{|PICLUSTER_PLAYER_CONFIG/, "every placeholder is filled");
});

test("the cluster's own nginx.conf runs under Debian's nginx with only CHOWN, SETUID and SETGID, and serves HLS and a recording",
    { timeout: 90_000 }, () => {
        requirePrograms([NGINX, DEBIAN_RTMP_MODULE, FFMPEG]);
        for (const p of ["/usr/bin/unshare", "/usr/bin/setpriv", "/usr/bin/curl"]) {
            assert.ok(existsSync(p), `${p} missing: run \`apt-get install -y util-linux curl\``);
        }
        const conf = serverNginxConf(parseStreamingSettings({ streams: ["podcheck"] }));
        const key = newPublishKey();
        const dir = mkdtempSync(join(tmpdir(), "picluster-podconf-"));
        try {
            // The image has the module compiled in; Debian's nginx loads it. The publish keys file,
            // mounted from the Secret in the pod, is read from the test's folder (this test must not
            // create folders in the host's /etc). Nothing else differs.
            const keysPath = "/etc/picluster-streaming-keys/publish-keys.conf";
            assert.ok(conf.includes(`include ${keysPath};`));
            writeFileSync(join(dir, "publish-keys.conf"), renderPublishKeys([{ name: "podcheck", key }]));
            writeFileSync(join(dir, "nginx.conf"), `load_module ${DEBIAN_RTMP_MODULE};\n${conf.replace(keysPath, join(dir, "publish-keys.conf"))}`);
            // A private mount and network namespace: the pod's paths on a tmpfs, the pod's ports on
            // a loopback of its own. The bounding set is the pod's securityContext.
            const script = `
set -eu
mount -t tmpfs tmpfs /var/lib
mkdir -p /var/lib/streaming/hls /var/lib/streaming/recordings /var/lib/streaming/run
chmod 777 /var/lib/streaming/hls /var/lib/streaming/recordings
ip link set lo up
setpriv --bounding-set=-all,+chown,+setuid,+setgid ${NGINX} -c ${dir}/nginx.conf > ${dir}/stdout.log 2> ${dir}/stderr.log &
pid=$!
for i in $(seq 1 50); do curl -fsS -o /dev/null http://127.0.0.1:${SERVER_HTTP_PORT}/healthz 2>/dev/null && break; sleep 0.1; done
curl -fsS http://127.0.0.1:${SERVER_HTTP_PORT}/healthz
timeout 20 ${FFMPEG} -hide_banner -nostdin -loglevel error -re -f lavfi -i testsrc2=size=320x180:rate=25 -re -f lavfi -i sine=frequency=440 \\
  -t 5 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 25 -c:a aac -f flv "rtmp://127.0.0.1:${SERVER_RTMP_PORT}/live/podcheck?key=${key}"
echo "workers: $(ps -o user= --ppid $pid | sort -u | tr '\\n' ' ')"
echo "live: $(curl -fsS http://127.0.0.1:${SERVER_HTTP_PORT}/hls/podcheck.m3u8 | grep -c '^podcheck-')"
echo "recording: $(grep -c '\\.ts$' /var/lib/streaming/recordings/podcheck/index.m3u8)"
echo "listing: $(curl -fsS http://127.0.0.1:${SERVER_HTTP_PORT}/recordings/ | tr -d ' \\r\\n')"
kill -QUIT $pid; wait $pid || true
`;
            const r = spawnSync("unshare", ["--mount", "--net", "--propagation", "private", "bash", "-c", script], { encoding: "utf8", timeout: 60_000 });
            const out = `${r.stdout}\n${r.stderr}`;
            assert.equal(r.status, 0, out);
            assert.match(r.stdout, /^ok$/m);
            assert.match(r.stdout, /^workers: nobody $/m, "workers run as nobody");
            assert.match(r.stdout, /^live: ([3-9]|\d\d)$/m, out);
            assert.match(r.stdout, /^recording: [1-9]$/m, out);
            assert.match(r.stdout, /^listing: \[\{"name":"podcheck","type":"directory"/m, out);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
