// The player web page: one static HTML file plus hls.js (served beside it). It lists the live
// streams and the recordings from the streaming server's JSON folder listings, plays a live
// stream near the live edge, and plays a recording from its start.
//
// The page is written as real files in player/ (index.html, player.css, player.js), so that
// ESLint reads the browser JavaScript (eslint.config.js) and nothing is escaped twice. They
// are read here at build time and put together into the one index.html that the cluster
// mounts (ConfigMap) and the tests serve: the stylesheet and the script are inlined where
// index.html links them, so the page is still a single file (the ConfigMap, and with it the
// pods, stay as they were before the page became files), and the few settings are filled in:
//   {{title}}, {{ingestUrl}} in index.html, HTML-escaped (the page names no stream and no
//   publish key: it is public; publishers get their key from the stack's secret output);
//   PICLUSTER_PLAYER_CONFIG in player.js, replaced by the config object as JSON that is safe
//   inside a <script> element (ESLint knows the name as a read-only global).
// Pure apart from reading those files: the caller passes the URLs and timings.
//
// Test hooks: `window.picluster` exposes {state, kind, key, message, latency, live, recordings}.
// state is one of idle | loading | playing | waiting | ended | error.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HLS_URL_PATH, STREAM_KEY_PATTERN, STREAM_KEY_RULE } from "./nginxConfig";

/** The file name under which hls.js is served beside index.html. */
export const HLS_JS_FILE = "hls.light.min.js";
/** The hls.js build shipped with the page (light: no subtitles/DRM; ~390 kB). */
export const HLS_JS_MODULE_PATH = "hls.js/dist/hls.light.min.js";

/** The folder holding the page's source files. */
export const PLAYER_SOURCE_DIR = join(__dirname, "player");

export interface PlayerPageInput {
    /** The page's title; inventory/streaming.ts keeps it to 1-100 characters. */
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

/**
 * Replaces every placeholder (the keys of `values`) in one pass, so that a value which happens to
 * contain another placeholder's text stays as it is, and with a function, so that a `$` in a
 * value is taken literally. Each placeholder must occur, and the source must hold no `{{name}}`
 * that is not filled: a renamed placeholder fails the build instead of shipping "{{title}}".
 */
function fill(file: string, text: string, values: Readonly<Record<string, string>>): string {
    const keys = Object.keys(values);
    for (const k of keys) if (!text.includes(k)) throw new Error(`renderPlayerPage: ${file} has no ${k}`);
    const unknown = (text.match(/\{\{[A-Za-z]+\}\}/g) ?? []).filter((p) => !keys.includes(p));
    if (unknown.length > 0) throw new Error(`renderPlayerPage: ${file} has placeholders nobody fills in: ${unknown.join(", ")}`);
    const any = new RegExp(keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
    return text.replace(any, (k) => values[k]);
}

interface PlayerSources { readonly html: string; readonly css: string; readonly js: string }

/** The three source files, checked for what inlining them needs. */
function playerSources(): PlayerSources {
    const read = (f: string) => readFileSync(join(PLAYER_SOURCE_DIR, f), "utf8");
    const loaded = { html: read("index.html"), css: read("player.css"), js: read("player.js") };
    // Inlined text must not end its own element early.
    if (/<\/style/i.test(loaded.css)) throw new Error("renderPlayerPage: player.css must not contain </style");
    if (/<\/script/i.test(loaded.js)) throw new Error("renderPlayerPage: player.js must not contain </script");
    if (!loaded.html.includes(`<script src="${HLS_JS_FILE}"></script>`)) throw new Error(`renderPlayerPage: index.html must load ${HLS_JS_FILE}`);
    return loaded;
}

export function renderPlayerPage(input: PlayerPageInput): string {
    // Only what the settings schema does not already guarantee is checked here: the URL is put
    // together from several settings, the paths are the caller's (tests pass their own), and the
    // poll interval has no setting. Title length, fragmentSeconds and liveSyncSeconds are
    // ranged by inventory/streaming.ts (test/streaming/render.test.ts proves the refusals).
    const check = (cond: boolean, msg: string) => {
        if (!cond) throw new Error(`renderPlayerPage: ${msg}`);
    };
    check(/^rtmps?:\/\/[^\s"'<>]+$/.test(input.ingestUrl), `ingestUrl must be an rtmp:// URL, got ${JSON.stringify(input.ingestUrl)}`);
    const path = (p: string, what: string) => {
        check(/^\/([A-Za-z0-9._-]+\/)*$/.test(p), `${what} must be an absolute URL path ending in '/', got ${JSON.stringify(p)}`);
        return p;
    };
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

    const src = playerSources();
    const js = fill("player.js", src.js, { PICLUSTER_PLAYER_CONFIG: scriptJson(config) });
    return fill("index.html", src.html, {
        "{{title}}": escapeHtml(input.title),
        "{{ingestUrl}}": escapeHtml(input.ingestUrl),
        "<link rel=\"stylesheet\" href=\"player.css\">": `<style>\n${src.css}</style>`,
        "<script src=\"player.js\"></script>": `<script>\n${js}</script>`,
    });
}

/** hls.js as shipped by the npm package, served beside the page. */
export function hlsJsSource(): string {
    return readFileSync(require.resolve(HLS_JS_MODULE_PATH), "utf8");
}
