// The program's entry point: read the validated stack settings (config.ts, the only reader of
// Pulumi config), refuse an unsafe k3s version change, build the whole stack
// (components/stack.ts), export how to reach it. Async, because the version check reads the
// stack's last outputs before any resource that touches a Pi is registered.
import { loadStackSettings, refuseUnsafeVersionChange } from "./config";
import { buildStack } from "./components/stack";

export = async () => {
    const settings = loadStackSettings();
    await refuseUnsafeVersionChange(settings.inventory.k3s.version);
    const stack = buildStack(settings);
    return {
        apiEndpoint: stack.apiEndpoint,
        kubeconfig: stack.kubeconfig,
        nodes: stack.nodes,
        haproxyStats: stack.haproxyStats,
        haproxyStatsPassword: stack.haproxyStatsPassword,
        streamingIngestUrl: stack.streamingIngestUrl,
        streamingPlayerUrl: stack.streamingPlayerUrl,
        /** Per stream: rtmp://<address>:1935/live/<name>?key=<publish key> (secret: `pulumi stack output --show-secrets`). */
        streamingPublishUrls: stack.streamingPublishUrls,
        streamingWatchUrls: stack.streamingWatchUrls,
        /** The k3s version of the last completed up; read back by the next run's version check. */
        k3sVersion: stack.k3sVersion,
    };
};
