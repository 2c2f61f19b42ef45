// The renderers: the nginx.conf the cluster mounts runs as it is (Debian's nginx, only the
// module load added, with only the capabilities the pod grants), and bad inputs are refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseStreamingSettings } from "../../inventory/streaming";
import { serverNginxConf, SERVER_HTTP_PORT, SERVER_RTMP_PORT } from "../../components/streaming";
import { DEBIAN_RTMP_MODULE, NginxRtmpConfigInput, renderNginxRtmpConfig } from "../../render/nginxRtmp";
import { renderPlayerPage } from "../../render/playerPage";
import { FFMPEG, NGINX, requirePrograms } from "./lab";

const BASE: NginxRtmpConfigInput = {
    rtmpPort: 1935, httpPort: 8080, application: "live", hlsDir: "/srv/hls", hlsFragmentSeconds: 1, hlsPlaylistSeconds: 10,
    recordingsDir: "/srv/rec", pidFile: "/run/n.pid", tempDir: "/tmp/n", errorLog: "stderr", accessLog: "off",
};

test("the renderer refuses inputs that would make a broken or unsafe nginx.conf", () => {
    const cases: [Partial<NginxRtmpConfigInput>, RegExp][] = [
        [{ rtmpPort: 0 }, /rtmpPort must be a port number 1-65535, got 0/],
        [{ httpPort: 1935 }, /rtmpPort and httpPort must differ/],
        [{ application: "live; evil" }, /application must be a name like "live"/],
        [{ application: "rec" }, /application "rec" is reserved/],
        [{ hlsDir: "relative/hls" }, /hlsDir must be an absolute path/],
        [{ hlsDir: "/srv/../etc" }, /hlsDir must be an absolute path without spaces or '\.\.'/],
        [{ recordingsDir: "/srv/hls/" }, /recordingsDir must differ from hlsDir/],
        [{ hlsPlaylistSeconds: 2 }, /hlsPlaylistSeconds must be a whole number of at least 3 fragments/],
        [{ hlsFragmentSeconds: 0.5 }, /hlsFragmentSeconds must be a whole number 1-10/],
        [{ listenAddress: "0.0.0.0; include /etc/passwd" }, /listenAddress must be an IPv4 address/],
        [{ errorLog: "syslog:server=x" }, /errorLog must be "stderr" or an absolute path/],
    ];
    for (const [patch, want] of cases) assert.throws(() => renderNginxRtmpConfig({ ...BASE, ...patch }), want, JSON.stringify(patch));
});

test("the rendered config: HLS timing, recording app, key check and logs as designed", () => {
    const conf = renderNginxRtmpConfig(BASE);
    for (const line of [
        "hls_fragment 1s;", "hls_playlist_length 10s;", "push rtmp://127.0.0.1:1935/rec;", "application rec {",
        "hls_cleanup off;", "hls_playlist_length 12h;", "on_publish http://127.0.0.1:8080/rtmp/on-publish;",
        "allow publish 127.0.0.1;", "deny play all;", "worker_processes 1;", "daemon off;",
    ]) assert.ok(conf.includes(line), `missing: ${line}`);
    assert.doesNotMatch(conf, /load_module/);
    const noRec = renderNginxRtmpConfig({ ...BASE, recordingsDir: undefined });
    assert.doesNotMatch(noRec, /application rec|push rtmp|\/recordings\//);
});

test("the player page escapes what it embeds and refuses bad inputs", () => {
    const page = renderPlayerPage({ title: "<script>alert(1)</script>", ingestUrl: "rtmp://10.0.0.5:1935/live", fragmentSeconds: 1, liveSyncSeconds: 1.5 });
    assert.ok(page.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert.ok(!page.includes("<script>alert(1)"));
    assert.match(page, /"recordingsPath":null/);
    assert.throws(() => renderPlayerPage({ title: "t", ingestUrl: "http://x/", fragmentSeconds: 1, liveSyncSeconds: 1 }), /ingestUrl must be an rtmp:\/\/ URL/);
    assert.throws(() => renderPlayerPage({ title: "t", ingestUrl: "rtmp://x/live", hlsPath: "hls", fragmentSeconds: 1, liveSyncSeconds: 1 }), /hlsPath must be an absolute URL path/);
});

test("the cluster's own nginx.conf runs under Debian's nginx with only CHOWN, SETUID and SETGID, and serves HLS and a recording",
    { timeout: 90_000 }, () => {
        requirePrograms([NGINX, DEBIAN_RTMP_MODULE, FFMPEG]);
        for (const p of ["/usr/bin/unshare", "/usr/bin/setpriv", "/usr/bin/curl"]) {
            assert.ok(existsSync(p), `${p} missing: run \`apt-get install -y util-linux curl\``);
        }
        const conf = serverNginxConf(parseStreamingSettings({}));
        const dir = mkdtempSync(join(tmpdir(), "picluster-podconf-"));
        try {
            // The image has the module compiled in; Debian's nginx loads it. Nothing else differs.
            writeFileSync(join(dir, "nginx.conf"), `load_module ${DEBIAN_RTMP_MODULE};\n${conf}`);
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
  -t 5 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 25 -c:a aac -f flv rtmp://127.0.0.1:${SERVER_RTMP_PORT}/live/podcheck
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
