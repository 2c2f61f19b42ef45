// End to end on loopback with real parts: Debian's nginx + libnginx-mod-rtmp running the rendered
// nginx.conf, ffmpeg publishing a test pattern with audio, headless Chromium opening the player page.
// Every wait is bounded; every address is 127.0.0.1.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { REPO } from "../kit";
import {
    FrontDoor, launchBrowser, newPublishKey, parsePlaylist, probeDuration, publish, requirePrograms, sleep, startFrontDoor,
    startStreamingServer, StreamingServer, waitFor,
} from "./lab";

const SCREENSHOT_DIR = join(REPO, "test-results", "streaming");
const KEY = "e2e_cam-1";
const ROTATED = "rotated";
/** Listed, never published with its key. */
const QUIET = "quiet_cam";
/** Every key this suite used, right or wrong: none may show up in any log. */
const usedKeys: string[] = [];

interface PageState {
    state: string; kind: string | null; key: string | null; message: string; latency: number | null;
    live: string[]; recordings: { key: string }[]; errors: string[];
}
// Evaluated in the page (strings: this project's TypeScript has no DOM types).
const pageState = (page: Page) => page.evaluate<PageState>("window.picluster");
const currentTime = (page: Page) => page.evaluate<number>("document.getElementById('video').currentTime");

describe("streaming end to end (nginx-rtmp, ffmpeg, Chromium on loopback)", { timeout: 240_000 }, () => {
    let server: StreamingServer;
    let front: FrontDoor;
    let browser: Browser;

    before(async () => {
        requirePrograms();
        server = await startStreamingServer({ streams: [KEY, "late_starter", ROTATED, QUIET], accessLog: true });
        usedKeys.push(...Object.values(server.keys));
        front = await startFrontDoor(server);
        browser = await launchBrowser();
    });
    after(async () => {
        await browser?.close();
        await front?.stop();
        await server?.stop();
    });

    test("a live stream is listed and plays; after it ends its recording exists and plays", async () => {
        // The whole stream key in the URL, as ffmpeg users write it.
        const ff = publish(server.ingestUrl, { key: server.streamKey(KEY), seconds: 60 });
        const publishedAt = Date.now();
        let page: Page | undefined;
        try {
            // The server writes a playlist with segments of ~1 s.
            const playlist = await waitFor("the live playlist", 15_000, async () => {
                const r = await fetch(`${server.httpBase}/hls/${KEY}.m3u8`);
                if (!r.ok) return undefined;
                const p = parsePlaylist(await r.text());
                return p.segments.length >= 2 ? p : undefined;
            }, 100);
            for (const s of playlist.segments.slice(0, -1)) assert.ok(s.duration <= 1.5, `segment ${s.uri} lasts ${s.duration} s; expected ~1 s`);

            page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
            const consoleErrors: string[] = [];
            page.on("pageerror", (e) => consoleErrors.push(String(e)));
            await page.goto(front.url, { timeout: 15_000 });

            // Listed as live, then played from the list.
            const button = page.locator(`#live button[data-key="${KEY}"]`);
            await button.waitFor({ timeout: 15_000 });
            await button.click();
            await waitFor("the page to play the live stream", 20_000, async () => (await pageState(page!)).state === "playing" || undefined, 100);
            const t0 = await currentTime(page);
            await sleep(4000);
            const t1 = await currentTime(page);
            assert.ok(t1 - t0 >= 3, `currentTime advanced ${(t1 - t0).toFixed(2)} s in 4 s; expected >= 3 s`);
            const st = await pageState(page);
            assert.equal(st.kind, "live");
            assert.equal(st.key, KEY);
            assert.ok(st.latency !== null && st.latency < 6, `player is ${st.latency} s behind live`);
            assert.deepEqual(st.errors, [], "no fatal hls.js errors");
            mkdirSync(SCREENSHOT_DIR, { recursive: true });
            await page.screenshot({ path: join(SCREENSHOT_DIR, "live.png") });

            // The stream ends like a user stops OBS; the page says so within a few seconds.
            // It runs at least 10 s, so the recording's length below says something.
            await sleep(Math.max(0, 10_000 - (Date.now() - publishedAt)));
            const ran = (Date.now() - publishedAt) / 1000;
            await ff.stop();
            await waitFor("the page to notice the end of the stream", 20_000, async () => (await pageState(page!)).state === "ended" || undefined, 200);
            assert.match((await pageState(page)).message, /has ended\. Its recording is in the list\./);

            // The recording exists on disk, is a complete HLS recording and plays in the page.
            const recPlaylist = join(server.recordingsDir, KEY, "index.m3u8");
            assert.ok(existsSync(recPlaylist), `${recPlaylist} missing`);
            const rec = parsePlaylist(readFileSync(recPlaylist, "utf8"));
            const listed = rec.segments.reduce((a, s) => a + s.duration, 0);
            // ffmpeg's start-up and the first keyframe cost up to ~2 s of what ran; a recording
            // that lost a segment or more is shorter than that.
            assert.ok(listed >= ran - 3, `the recording lists ${listed.toFixed(1)} s; the stream ran ${ran.toFixed(1)} s`);
            // The segments decode as one continuous recording (nginx-rtmp leaves the playlist
            // open-ended, so ffprobe reads the segments themselves).
            const probed = probeDuration(`concat:${rec.segments.map((s) => join(server.recordingsDir, KEY, s.uri)).join("|")}`);
            assert.ok(Math.abs(probed - listed) < 2, `ffprobe reads ${probed} s, the playlist lists ${listed} s`);

            const recButton = page.locator(`#recordings button[data-key="${KEY}"]`);
            await recButton.waitFor({ timeout: 10_000 });
            await recButton.click();
            await waitFor("the recording to play", 20_000, async () => (await pageState(page!)).state === "playing" || undefined, 100);
            const r0 = await currentTime(page);
            await sleep(2500);
            const r1 = await currentTime(page);
            assert.ok(r1 - r0 >= 1.5, `recording currentTime advanced ${(r1 - r0).toFixed(2)} s in 2.5 s`);
            const duration = await page.evaluate<number>("document.getElementById('video').duration");
            assert.ok(Number.isFinite(duration) && Math.abs(duration - listed) < 2, `the page sees a finished video of ${duration} s (listed ${listed} s)`);
            await page.screenshot({ path: join(SCREENSHOT_DIR, "recording.png") });
            assert.deepEqual(consoleErrors, [], "no uncaught errors in the page");
        } finally {
            await ff.stop();
            await page?.close();
        }
    });

    test("a stream key with path characters is refused before anything is written, and the log says why", async () => {
        for (const key of ["../escape", "a%2Fb", "dot.ted"]) {
            const ff = publish(server.ingestUrl, { key, seconds: 3, splitKey: true, size: "320x180" });
            const code = await Promise.race([ff.exited, sleep(15_000).then(() => "timeout")]);
            await ff.stop();
            assert.notEqual(code, "timeout", `ffmpeg publishing ${key} did not end`);
            assert.notEqual(code, 0, `publishing key ${JSON.stringify(key)} must fail`);
        }
        const log = server.errorLog();
        const invalid = "rtmp publish rejected \\(not a valid stream name: use 1-64 characters from A-Z a-z 0-9 _ -\\)";
        assert.match(log, new RegExp(`hls: bad stream name: '\\.\\./escape'|${invalid}: stream "\\.\\.%2Fescape"`));
        assert.match(log, new RegExp(`${invalid}: stream "a%(25)?2Fb"`));
        assert.match(log, new RegExp(`${invalid}: stream "dot\\.ted" from 127\\.0\\.0\\.1 to application "live"$`, "m"));
        const listing = JSON.parse(await (await fetch(`${server.httpBase}/hls/`)).text()) as { name: string }[];
        for (const e of listing) assert.doesNotMatch(e.name, /escape|dot|a%2F/, `a refused key left ${e.name}`);
        for (const p of ["escape", "a", "dot.ted"]) assert.ok(!existsSync(join(server.recordingsDir, p)));
    });

    test("the page answers a missing stream, an unknown recording and a bad key in its URL clearly", async () => {
        const page = await browser.newPage();
        try {
            await page.goto(`${front.url}?live=nosuch`, { timeout: 15_000 });
            await waitFor("the missing-stream message", 10_000, async () => (await pageState(page)).state === "waiting" || undefined, 100);
            assert.match((await pageState(page)).message, /^Stream nosuch is not live right now\..*Waiting for it to start/);

            await page.goto(`${front.url}?recording=nosuch`, { timeout: 15_000 });
            await waitFor("the unknown-recording message", 10_000, async () => (await pageState(page)).state === "error" || undefined, 100);
            assert.equal((await pageState(page)).message, "There is no recording for nosuch.");

            await page.goto(`${front.url}?live=${encodeURIComponent("../../etc/passwd")}`, { timeout: 15_000 });
            await waitFor("the bad-key message", 10_000, async () => (await pageState(page)).state === "error" || undefined, 100);
            assert.equal((await pageState(page)).message, "\u201c../../etc/passwd\u201d is not a valid stream key: use 1-64 characters from A-Z a-z 0-9 _ -.");
            assert.equal(await page.locator("#status").textContent(), (await pageState(page)).message, "the message is on the page");

            // A stream that starts while the page waits for it is played without a reload.
            await page.goto(`${front.url}?live=late_starter`, { timeout: 15_000 });
            await waitFor("waiting", 10_000, async () => (await pageState(page)).state === "waiting" || undefined, 100);
            const ff = publish(server.ingestUrl, { key: server.streamKey("late_starter"), seconds: 30, size: "320x180", splitKey: true });
            try {
                await waitFor("the late stream to play", 25_000, async () => (await pageState(page)).state === "playing" || undefined, 200);
            } finally {
                await ff.stop();
            }
        } finally {
            await page.close();
        }
    });
    test("an unlisted name, no key, a wrong key, another stream's key: refused at once, nothing on disk, not listed, logged without the key", async () => {
        const wrong = newPublishKey();
        usedKeys.push(wrong);
        const cases: [string, string, string][] = [
            ["not a listed stream", "intruder", `intruder?key=${server.keys[KEY]}`],
            ["no key: publish as <stream>?key=<publish key>", QUIET, QUIET],
            ["no key: publish as <stream>?key=<publish key>", QUIET, `${QUIET}?key=`],
            ["wrong key", QUIET, `${QUIET}?key=${wrong}`],
            ["wrong key", QUIET, `${QUIET}?key=${server.keys[KEY]}`],
            // nginx-rtmp's own name comes first in the check's query: a second name= changes nothing.
            ["wrong key", QUIET, `${QUIET}?name=${KEY}&key=${server.keys[KEY]}`],
        ];
        for (const [i, [verdict, name, streamKey]] of cases.entries()) {
            const logBefore = server.errorLog().length;
            const ff = publish(server.ingestUrl, { key: streamKey, seconds: 10, size: "320x180", splitKey: i % 2 === 1 });
            const code = await Promise.race([ff.exited, sleep(5_000).then(() => "timeout")]);
            await ff.stop();
            assert.notEqual(code, "timeout", `${streamKey.replace(/key=.*/, "key=...")}: ffmpeg still publishing after 5 s`);
            assert.notEqual(code, 0, "ffmpeg reports the refusal");
            const line = server.errorLog().slice(logBefore).split("\n").find((l) => l.includes("rtmp publish"));
            assert.ok(line, `case ${i}: no log line`);
            assert.match(line, new RegExp(`rtmp publish rejected \\(${verdict.replace(/[()?<>]/g, "\\$&")}\\): stream "${name}" from 127\\.0\\.0\\.1 to application "live"$`), `case ${i}`);
            // ffmpeg's first frames never reached a file.
            assert.ok(!readdirSync(server.hlsDir).some((f) => f.startsWith(`${name}-`) || f.startsWith(`${name}.`)), `case ${i}: ${name} left HLS files`);
            assert.ok(!existsSync(join(server.recordingsDir, name)), `case ${i}: ${name} was recorded`);
        }
        const listing = JSON.parse(await (await fetch(`${front.url}hls/`)).text()) as { name: string }[];
        assert.ok(!listing.some((e) => e.name.includes("intruder") || e.name.includes(QUIET)), `listed: ${listing.map((e) => e.name).join(", ")}`);
        const page = await browser.newPage();
        try {
            await page.goto(front.url, { timeout: 15_000 });
            await sleep(2500);
            const st = await pageState(page);
            assert.ok(!st.live.includes("intruder") && !st.live.includes(QUIET), "the page does not list a refused stream");
        } finally {
            await page.close();
        }
    });

    test("rotating a key: the old one is refused, the new one goes live; other streams' recordings stay", async () => {
        const old = server.keys[ROTATED];
        const first = publish(server.ingestUrl, { key: server.streamKey(ROTATED), seconds: 3, size: "320x180" });
        assert.equal(await first.exited, 0, `the current key is accepted: ${first.stderr()}`);
        const fresh = await server.rotate(ROTATED);
        usedKeys.push(fresh);
        assert.notEqual(fresh, old);
        const stale = publish(server.ingestUrl, { key: `${ROTATED}?key=${old}`, seconds: 5, size: "320x180" });
        assert.notEqual(await Promise.race([stale.exited, sleep(5_000).then(() => "timeout")]), "timeout");
        await stale.stop();
        assert.match(server.errorLog(), new RegExp(`rtmp publish rejected \\(wrong key\\): stream "${ROTATED}"`));
        const ff = publish(server.ingestUrl, { key: server.streamKey(ROTATED), seconds: 20, size: "320x180" });
        try {
            await waitFor("the stream under its new key", 15_000, async () => {
                const r = await fetch(`${server.httpBase}/hls/${ROTATED}.m3u8`);
                return r.ok && parsePlaylist(await r.text()).segments.length >= 2 ? true : undefined;
            }, 100);
        } finally {
            await ff.stop();
        }
        assert.ok(existsSync(join(server.recordingsDir, KEY, "index.m3u8")), "the first test's recording is still there");
    });

    test("no log holds a publish key: neither the check's, nor the RTMP access log, nor nginx's error log", () => {
        const logs = [server.errorLog(), readFileSync(join(server.dir, "logs", "access.log"), "utf8")].join("\n");
        assert.match(logs, /rtmp publish accepted: stream "e2e_cam-1" from 127\.0\.0\.1/);
        assert.match(logs, /PUBLISH "live" "e2e_cam-1"/, "the RTMP access log is on");
        assert.ok(usedKeys.length >= 5);
        for (const k of usedKeys) assert.ok(!logs.includes(k), "a publish key is in the logs");
        assert.doesNotMatch(logs, /key=[A-Za-z0-9]/);
        assert.doesNotMatch(logs, /\[warn\]/, "nginx took its config without a warning");
    });
});

describe("bounded recording (the recording guard beside the real nginx-rtmp)", { timeout: 120_000 }, () => {
    test("a publisher past its share: recording stops and the log says so, the live stream goes on, the folder stays near its share", async () => {
        requirePrograms();
        const shareKiB = 600;
        const server = await startStreamingServer({ streams: ["long_one"], recordingShareKiB: shareKiB });
        const ff = publish(server.ingestUrl, { key: server.streamKey("long_one"), seconds: 40 });
        const folder = join(server.recordingsDir, "long_one");
        const kib = () => Number(spawnSync("du", ["-sk", folder], { encoding: "utf8" }).stdout.split("\t")[0] || 0);
        const liveSequence = async () => {
            const p = parsePlaylist(await (await fetch(`${server.httpBase}/hls/long_one.m3u8`)).text());
            return p.mediaSequence + p.segments.length;
        };
        try {
            await waitFor("the guard to stop the recording", 30_000, () => server.guardLog().includes("recording of long_one stopped") || undefined, 200);
            assert.match(server.guardLog(), new RegExp(`^recording of long_one stopped: its recordings take \\d+ KiB, its share of the volume is ${shareKiB} KiB; the live stream goes on`, "m"));
            await sleep(1500);
            const [size0, seq0] = [kib(), await liveSequence()];
            await sleep(6000);
            const [size1, seq1] = [kib(), await liveSequence()];
            assert.ok(seq1 - seq0 >= 4, `the live stream went on (${seq1 - seq0} new segments in 6 s)`);
            assert.equal(ff.proc.exitCode, null, "the publisher is still connected");
            assert.ok(size1 <= size0 + 8, `nothing more recorded: ${size0} KiB then ${size1} KiB`);
            // A second (1 s) round and one fragment of overshoot at most.
            assert.ok(size1 < shareKiB * 2, `${size1} KiB recorded against a share of ${shareKiB} KiB`);
            // The recording that was made is a playable playlist.
            assert.ok(parsePlaylist(readFileSync(join(folder, "index.m3u8"), "utf8")).segments.length >= 1);
        } finally {
            await ff.stop();
            await server.stop();
        }
    });
});
