// The program's entry point: read the validated stack settings (config.ts, the only reader of
// Pulumi config), build the whole stack (components/stack.ts), export how to reach it.
import { loadStackSettings } from "./config";
import { buildStack } from "./components/stack";

const stack = buildStack(loadStackSettings());

export const apiEndpoint = stack.apiEndpoint;
export const kubeconfig = stack.kubeconfig;
export const nodes = stack.nodes;
export const haproxyStats = stack.haproxyStats;
export const haproxyStatsPassword = stack.haproxyStatsPassword;
export const streamingIngestUrl = stack.streamingIngestUrl;
export const streamingPlayerUrl = stack.streamingPlayerUrl;
/** Per stream: rtmp://<address>:1935/live/<name>?key=<publish key> (secret: `pulumi stack output --show-secrets`). */
export const streamingPublishUrls = stack.streamingPublishUrls;
export const streamingWatchUrls = stack.streamingWatchUrls;
