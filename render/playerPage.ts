// The player web page: one static HTML file plus hls.js (served beside it). It lists the live
// streams and the recordings from the streaming server's JSON folder listings, plays a live
// stream near the live edge, and plays a recording from its start. Pure: the caller passes the
// URLs and timings; the same text is mounted in the cluster (ConfigMap) and served in the tests.
//
// Test hooks: `window.picluster` exposes {state, kind, key, message, latency, live, recordings}.
// state is one of idle | loading | playing | waiting | ended | error.
import { HLS_URL_PATH, STREAM_KEY_PATTERN, STREAM_KEY_RULE } from "./nginxRtmp";

/** The file name under which hls.js is served beside index.html. */
export const HLS_JS_FILE = "hls.light.min.js";
/** The hls.js build shipped with the page (light: no subtitles/DRM; ~390 kB). */
export const HLS_JS_MODULE_PATH = "hls.js/dist/hls.light.min.js";

export interface PlayerPageInput {
    readonly title: string;
    /** What publishers point OBS/ffmpeg at, without the key, e.g. rtmp://10.0.0.5:1935/live. */
    readonly ingestUrl: string;
    /** Live HLS base path (default /hls/). */
    readonly hlsPath?: string;
    /** Recordings base path; omit when recording is off. */
    readonly recordingsPath?: string;
    /** The server's HLS fragment length (s): sets how soon a silent playlist counts as ended. */
    readonly fragmentSeconds: number;
    /** How far behind the live edge the player aims to stay (s). */
    readonly liveSyncSeconds: number;
    /** How often the lists are refreshed (s). */
    readonly pollSeconds?: number;
}

/** JSON that is safe inside a <script> element. */
function scriptJson(v: unknown): string {
    return JSON.stringify(v).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026")
        .replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function escapeHtml(s: string): string {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

export function renderPlayerPage(input: PlayerPageInput): string {
    const check = (cond: boolean, msg: string) => {
        if (!cond) throw new Error(`renderPlayerPage: ${msg}`);
    };
    check(input.title.trim().length > 0 && input.title.length <= 100, "title must be 1-100 characters");
    check(/^rtmps?:\/\/[^\s"'<>]+$/.test(input.ingestUrl), `ingestUrl must be an rtmp:// URL, got ${JSON.stringify(input.ingestUrl)}`);
    const path = (p: string, what: string) => {
        check(/^\/([A-Za-z0-9._-]+\/)*$/.test(p), `${what} must be an absolute URL path ending in '/', got ${JSON.stringify(p)}`);
        return p;
    };
    check(input.fragmentSeconds >= 1 && input.fragmentSeconds <= 10, "fragmentSeconds must be 1-10");
    check(input.liveSyncSeconds >= 0.5 && input.liveSyncSeconds <= 30, "liveSyncSeconds must be 0.5-30");
    const poll = input.pollSeconds ?? 2;
    check(poll >= 0.5 && poll <= 60, "pollSeconds must be 0.5-60");

    const config = {
        hlsPath: path(input.hlsPath ?? HLS_URL_PATH, "hlsPath"),
        recordingsPath: input.recordingsPath === undefined ? null : path(input.recordingsPath, "recordingsPath"),
        keyPattern: STREAM_KEY_PATTERN.source,
        keyRule: STREAM_KEY_RULE,
        // A playlist not rewritten for this long is a stream that has ended (nginx-rtmp deletes
        // it only ~15 s later). mtimes and Date headers have 1 s resolution.
        staleSeconds: 2 * input.fragmentSeconds + 4,
        liveSyncSeconds: input.liveSyncSeconds,
        liveMaxLatencySeconds: input.liveSyncSeconds + 4 * input.fragmentSeconds,
        pollSeconds: poll,
    };
    const title = escapeHtml(input.title);
    const ingest = escapeHtml(input.ingestUrl);

    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
  :root { color-scheme: dark; --bg: #101418; --panel: #1a2027; --fg: #e8edf2; --muted: #9aa7b4; --accent: #4fb3ff; --live: #ff4d4f; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
  header { padding: 14px 20px; border-bottom: 1px solid #26303a; display: flex; flex-wrap: wrap; gap: 6px 24px; align-items: baseline; }
  header h1 { margin: 0; font-size: 20px; }
  header p { margin: 0; color: var(--muted); }
  code { background: #0b0e11; padding: 1px 6px; border-radius: 4px; color: var(--fg); }
  main { display: grid; grid-template-columns: minmax(0, 1fr) 300px; gap: 20px; padding: 20px; }
  @media (max-width: 800px) { main { grid-template-columns: 1fr; } }
  video { width: 100%; aspect-ratio: 16 / 9; background: #000; border-radius: 8px; display: block; }
  #now { margin: 10px 0 0; font-size: 17px; font-weight: 600; }
  #status { margin: 4px 0 0; color: var(--muted); min-height: 1.45em; }
  #status.error { color: #ffb3b3; }
  aside section { background: var(--panel); border-radius: 8px; padding: 12px 14px; margin-bottom: 16px; }
  aside h2 { margin: 0 0 8px; font-size: 14px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
  ul { list-style: none; margin: 0; padding: 0; }
  li button { width: 100%; text-align: left; background: none; border: 0; color: var(--fg); padding: 6px 4px; border-radius: 4px; cursor: pointer; font: inherit; }
  li button:hover, li button[aria-current="true"] { background: #26303a; }
  .badge { display: inline-block; font-size: 11px; font-weight: 700; padding: 0 6px; border-radius: 3px; margin-right: 8px; vertical-align: 1px; }
  .badge.live { background: var(--live); color: #fff; }
  .badge.rec { background: #3a4652; color: var(--fg); }
  .empty { color: var(--muted); padding: 6px 4px; }
  .when { color: var(--muted); font-size: 12px; margin-left: 4px; }
</style>
</head>
<body>
<header>
  <h1>${title}</h1>
  <p>Go live from OBS or ffmpeg: server <code id="ingest">${ingest}</code>, stream key: ${escapeHtml(STREAM_KEY_RULE)}, keyframe every 1 s.</p>
</header>
<main>
  <section>
    <video id="video" controls muted autoplay playsinline></video>
    <p id="now"></p>
    <p id="status" role="status">Choose a live stream or a recording.</p>
  </section>
  <aside>
    <section><h2>Live now</h2><ul id="live"><li class="empty">Loading…</li></ul></section>
    <section id="recordings-panel"><h2>Recordings</h2><ul id="recordings"><li class="empty">Loading…</li></ul></section>
  </aside>
</main>
<script src="${HLS_JS_FILE}"></script>
<script>
"use strict";
(function () {
  var CONFIG = ${scriptJson(config)};
  var KEY = new RegExp(CONFIG.keyPattern);
  var video = document.getElementById("video");
  var statusEl = document.getElementById("status");
  var nowEl = document.getElementById("now");
  var liveEl = document.getElementById("live");
  var recEl = document.getElementById("recordings");
  var S = { state: "idle", kind: null, key: null, message: "", latency: null, live: [], recordings: [], errors: [] };
  window.picluster = S;
  var hls = null;
  var timer = null;

  function setStatus(state, message) {
    S.state = state; S.message = message;
    statusEl.textContent = message;
    statusEl.className = state === "error" ? "error" : "";
  }

  function validKey(key) { return typeof key === "string" && KEY.test(key); }

  // nginx's JSON folder listing: [{name, type, mtime, size}]. The server's clock comes from the
  // Date header, so a wrong clock in the browser does not matter.
  function listing(path) {
    return fetch(path, { cache: "no-store" }).then(function (r) {
      if (r.status === 404) return { items: [], now: Date.now() };
      if (!r.ok) throw new Error(path + " answered HTTP " + r.status);
      var date = Date.parse(r.headers.get("Date") || "");
      return r.json().then(function (items) { return { items: Array.isArray(items) ? items : [], now: isNaN(date) ? Date.now() : date }; });
    });
  }

  function refreshLive() {
    return listing(CONFIG.hlsPath).then(function (l) {
      S.live = l.items.filter(function (e) {
        if (e.type !== "file" || !/\\.m3u8$/.test(e.name)) return false;
        var age = (l.now - Date.parse(e.mtime)) / 1000;
        return validKey(e.name.slice(0, -5)) && age <= CONFIG.staleSeconds;
      }).map(function (e) { return e.name.slice(0, -5); }).sort();
    });
  }

  function refreshRecordings() {
    if (!CONFIG.recordingsPath) { S.recordings = []; return Promise.resolve(); }
    return listing(CONFIG.recordingsPath).then(function (l) {
      S.recordings = l.items.filter(function (e) { return e.type === "directory" && validKey(e.name); })
        .map(function (e) { return { key: e.name, mtime: e.mtime }; })
        .sort(function (a, b) { return Date.parse(b.mtime) - Date.parse(a.mtime); });
    });
  }

  function item(kind, key, label, when) {
    var li = document.createElement("li");
    var b = document.createElement("button");
    b.type = "button";
    b.dataset.kind = kind; b.dataset.key = key;
    if (S.kind === kind && S.key === key) b.setAttribute("aria-current", "true");
    var badge = document.createElement("span");
    badge.className = "badge " + (kind === "live" ? "live" : "rec");
    badge.textContent = kind === "live" ? "LIVE" : "REC";
    b.appendChild(badge);
    b.appendChild(document.createTextNode(label));
    if (when) { var w = document.createElement("span"); w.className = "when"; w.textContent = when; b.appendChild(w); }
    b.addEventListener("click", function () { select(kind, key); });
    li.appendChild(b);
    return li;
  }

  function empty(text) { var li = document.createElement("li"); li.className = "empty"; li.textContent = text; return li; }

  function render() {
    liveEl.replaceChildren.apply(liveEl, S.live.length ? S.live.map(function (k) { return item("live", k, k); }) : [empty("No live streams right now.")]);
    if (!CONFIG.recordingsPath) { document.getElementById("recordings-panel").hidden = true; return; }
    recEl.replaceChildren.apply(recEl, S.recordings.length
      ? S.recordings.map(function (r) { return item("recording", r.key, r.key, new Date(r.mtime).toLocaleString()); })
      : [empty("No recordings yet.")]);
  }

  function stop() {
    if (hls) { hls.destroy(); hls = null; }
    video.removeAttribute("src");
    video.load();
    S.latency = null;
  }

  // nginx-rtmp never ends a recording's playlist; ending it here makes the player treat it as a
  // finished video (seekable, starts at 0, stops at the end) instead of a live stream.
  function endlistLoader() {
    var Base = Hls.DefaultConfig.loader;
    function Loader(config) { Base.call(this, config); }
    Loader.prototype = Object.create(Base.prototype);
    Loader.prototype.constructor = Loader;
    Loader.prototype.load = function (context, config, callbacks) {
      var onSuccess = callbacks.onSuccess;
      callbacks.onSuccess = function (response, stats, ctx, details) {
        if (typeof response.data === "string" && response.data.indexOf("#EXT-X-ENDLIST") < 0) {
          response.data = response.data.replace(/\\s*$/, "\\n#EXT-X-ENDLIST\\n");
        }
        onSuccess(response, stats, ctx, details);
      };
      Base.prototype.load.call(this, context, config, callbacks);
    };
    return Loader;
  }

  function play(kind, key) {
    stop();
    S.kind = kind; S.key = key;
    var url = kind === "live" ? CONFIG.hlsPath + key + ".m3u8" : CONFIG.recordingsPath + key + "/index.m3u8";
    nowEl.textContent = (kind === "live" ? "Live: " : "Recording: ") + key;
    setStatus("loading", "Loading " + (kind === "live" ? "live stream " : "recording ") + key + "…");
    if (window.Hls && Hls.isSupported()) {
      var cfg = kind === "live"
        ? { liveSyncDuration: CONFIG.liveSyncSeconds, liveMaxLatencyDuration: CONFIG.liveMaxLatencySeconds, maxLiveSyncPlaybackRate: 1.25, backBufferLength: 30 }
        : { pLoader: endlistLoader(), startPosition: 0 };
      hls = new Hls(cfg);
      var h = hls, recoveries = 0;
      h.on(Hls.Events.ERROR, function (_e, data) {
        if (!data.fatal) return;
        S.errors.push(data.type + ":" + data.details);
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR && recoveries++ < 2) { h.recoverMediaError(); return; }
        var code = data.response && data.response.code;
        setStatus("error", code === 404
          ? (kind === "live" ? "Stream " + key + " is not live (it may have just ended)." : "Recording " + key + " is gone.")
          : "Playback failed: " + data.details + ".");
        stop();
      });
      h.loadSource(url);
      h.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url;
    } else {
      setStatus("error", "This browser can play neither HLS nor Media Source Extensions.");
      return;
    }
    var p = video.play();
    if (p && p.catch) p.catch(function () { /* autoplay refused: the controls still work */ });
  }

  video.addEventListener("playing", function () {
    if (S.kind) setStatus("playing", (S.kind === "live" ? "Playing live stream " : "Playing recording ") + S.key + ".");
  });
  video.addEventListener("ended", function () { if (S.kind === "recording") setStatus("ended", "End of recording " + S.key + "."); });
  setInterval(function () {
    if (hls && S.kind === "live" && typeof hls.latency === "number" && isFinite(hls.latency) && S.state === "playing") {
      S.latency = hls.latency;
      statusEl.textContent = "Playing live stream " + S.key + " — " + hls.latency.toFixed(1) + " s behind live.";
    }
  }, 500);

  // Selecting from the lists or from the URL (?live=<key> or ?recording=<key>).
  function select(kind, key, fromUrl) {
    if (!validKey(key)) {
      stop(); S.kind = null; S.key = null; nowEl.textContent = "";
      setStatus("error", "\\u201c" + key + "\\u201d is not a valid stream key: use " + CONFIG.keyRule + ".");
      return;
    }
    if (!fromUrl) history.replaceState(null, "", "?" + (kind === "live" ? "live" : "recording") + "=" + encodeURIComponent(key));
    if (kind === "live" && S.live.indexOf(key) < 0) {
      stop(); S.kind = "live"; S.key = key; nowEl.textContent = "Live: " + key;
      var rec = S.recordings.some(function (r) { return r.key === key; });
      setStatus("waiting", "Stream " + key + " is not live right now" + (rec ? "; its recording is in the list." : ".") + " Waiting for it to start…");
      render();
      return;
    }
    if (kind === "recording" && !S.recordings.some(function (r) { return r.key === key; })) {
      stop(); S.kind = null; S.key = null; nowEl.textContent = "";
      setStatus("error", CONFIG.recordingsPath ? "There is no recording for " + key + "." : "Recording is turned off on this server.");
      render();
      return;
    }
    play(kind, key);
    render();
  }

  function tick() {
    return Promise.all([refreshLive(), refreshRecordings()]).then(function () {
      render();
      if (S.kind === "live") {
        var isLive = S.live.indexOf(S.key) >= 0;
        if (S.state === "waiting" && isLive) play("live", S.key);
        else if (!isLive && (S.state === "playing" || S.state === "loading")) {
          var rec = S.recordings.some(function (r) { return r.key === S.key; });
          stop();
          setStatus("ended", "Stream " + S.key + " has ended." + (rec ? " Its recording is in the list." : ""));
          render();
        }
      }
    }).catch(function (err) {
      setStatus("error", "Cannot reach the streaming server: " + err.message);
    });
  }

  var params = new URLSearchParams(location.search);
  tick().then(function () {
    if (params.has("live")) select("live", params.get("live"), true);
    else if (params.has("recording")) select("recording", params.get("recording"), true);
    timer = setInterval(tick, CONFIG.pollSeconds * 1000);
  });
  window.addEventListener("pagehide", function () { if (timer) clearInterval(timer); stop(); });
})();
</script>
</body>
</html>
`;
}
