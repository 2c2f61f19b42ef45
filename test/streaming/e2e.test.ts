// End to end on loopback with real parts: Debian's nginx + libnginx-mod-rtmp running the rendered
// nginx.conf, ffmpeg publishing a test pattern with audio, headless Chromium opening the player page.
// Every wait is bounded; every address is 127.0.0.1.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { REPO } from "../kit";
import {
    FrontDoor, launchBrowser, parsePlaylist, probeDuration, publish, requirePrograms, sleep, startFrontDoor,
    startStreamingServer, StreamingServer, waitFor,
} from "./lab";

const SCREENSHOT_DIR = join(REPO, "test-results", "streaming");
const KEY = "e2e_cam-1";

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
        server = await startStreamingServer();
        front = await startFrontDoor(server);
        browser = await launchBrowser();
    });
    after(async () => {
        await browser?.close();
        await front?.stop();
        await server?.stop();
    });

    test("a live stream is listed and plays; after it ends its recording exists and plays", async () => {
        const ff = publish(server.ingestUrl, { key: KEY, seconds: 60 });
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
            await ff.stop();
            await waitFor("the page to notice the end of the stream", 20_000, async () => (await pageState(page!)).state === "ended" || undefined, 200);
            assert.match((await pageState(page)).message, /has ended\. Its recording is in the list\./);

            // The recording exists on disk, is a complete HLS recording and plays in the page.
            const recPlaylist = join(server.recordingsDir, KEY, "index.m3u8");
            assert.ok(existsSync(recPlaylist), `${recPlaylist} missing`);
            const rec = parsePlaylist(readFileSync(recPlaylist, "utf8"));
            const listed = rec.segments.reduce((a, s) => a + s.duration, 0);
            assert.ok(listed >= 6, `the recording lists ${listed.toFixed(1)} s; the stream ran longer`);
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
        assert.match(log, /hls: bad stream name: '\.\.\/escape'|rtmp publish rejected: stream key "\.\.%2Fescape"/);
        assert.match(log, /rtmp publish rejected: stream key "a%252Fb"|rtmp publish rejected: stream key "a%2Fb"/);
        assert.match(log, /rtmp publish rejected: stream key "dot\.ted" from 127\.0\.0\.1 to application "live": use 1-64 characters from A-Z a-z 0-9 _ -/);
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
            const ff = publish(server.ingestUrl, { key: "late_starter", seconds: 30, size: "320x180" });
            try {
                await waitFor("the late stream to play", 25_000, async () => (await pageState(page)).state === "playing" || undefined, 200);
            } finally {
                await ff.stop();
            }
        } finally {
            await page.close();
        }
    });
});
