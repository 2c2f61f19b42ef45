// A node:test reporter that writes the run's totals as one line of JSON to its destination:
// {"passed":N,"failed":N,"skipped":N}. tools/test.sh adds it beside the spec reporter (which the
// reader sees) and sums these lines, instead of grepping the spec reporter's summary.
// Counted like node's own summary: tests, not the suites that hold them; a test cancelled
// because its setup failed counts as failed; skipped and todo tests are neither.
export default async function* countReporter(source) {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for await (const event of source) {
        if (event.type !== "test:pass" && event.type !== "test:fail") continue;
        const data = event.data;
        if (data.details?.type === "suite") {
            // A suite fails by itself only when its hooks fail; its tests are counted on their own.
            if (event.type === "test:fail" && data.details?.error?.failureType === "hookFailed") failed++;
            continue;
        }
        if (data.skip !== undefined || data.todo !== undefined) skipped++;
        else if (event.type === "test:pass") passed++;
        else failed++;
    }
    yield `${JSON.stringify({ passed, failed, skipped })}\n`;
}
