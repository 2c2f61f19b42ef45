// Takes the README's picture of the player: two live test streams on loopback, one playing.
//   node --require ts-node/register test/streaming/screenshot.ts docs/streaming-player.png
// The page shows the dev stack's ingest URL (the first server's address) instead of loopback's.
import { launchBrowser, publish, requirePrograms, sleep, startFrontDoor, startStreamingServer, waitFor } from "./lab";

async function main(out: string) {
    requirePrograms();
    const server = await startStreamingServer({ streams: ["studio", "garden_cam"] });
    const front = await startFrontDoor(server, { ingestUrl: "rtmp://10.10.50.198:1935/live" });
    const streams = [
        publish(server.ingestUrl, { key: server.streamKey("studio"), seconds: 60 }),
        publish(server.ingestUrl, { key: server.streamKey("garden_cam"), seconds: 60, size: "320x180" }),
    ];
    const browser = await launchBrowser();
    try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
        await page.goto(front.url, { timeout: 15_000 });
        await page.locator('#live button[data-key="garden_cam"]').waitFor({ timeout: 20_000 });
        await page.locator('#live button[data-key="studio"]').click();
        await waitFor("playing", 20_000, async () => (await page.evaluate<string>("window.picluster.state")) === "playing" || undefined, 100);
        await sleep(5000);
        await page.locator("#video").hover(); // shows the video controls
        await sleep(500);
        await page.screenshot({ path: out });
        console.log(`wrote ${out}`);
    } finally {
        await browser.close();
        for (const s of streams) await s.stop();
        await front.stop();
        await server.stop();
    }
}

main(process.argv[2] ?? "streaming-player.png").catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
});
