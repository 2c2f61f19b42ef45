"use strict";
(function () {
  var CONFIG = PICLUSTER_PLAYER_CONFIG;
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
        if (e.type !== "file" || !/\.m3u8$/.test(e.name)) return false;
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
          response.data = response.data.replace(/\s*$/, "\n#EXT-X-ENDLIST\n");
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
      setStatus("error", "\u201c" + key + "\u201d is not a valid stream key: use " + CONFIG.keyRule + ".");
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
