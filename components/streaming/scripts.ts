// The shell the streaming platform runs: the recordings' retention sweep (the CronJob's
// command). Pure, and quoted with the program's one quoting function.
import { shq } from "../shared/bash";

// What POSIX sh passes through unchanged as one word (Python's shlex.quote uses the same set).
const PLAIN_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * One shell word: as it is when the shell would neither split nor expand it, else shq-quoted.
 * Quoting only what needs it keeps the rendered command as it was when it was written by hand,
 * so that moving it here changed nothing the cluster sees.
 */
function word(value: string): string {
    return PLAIN_WORD.test(value) ? value : shq(value);
}

/**
 * Deletes, under `recordingsDir` (<key>/index.m3u8 and its segments), the segments and playlists
 * untouched for more than `days` days (find's -mtime +N), then the emptied stream folders. Runs
 * with busybox find (the player image) as well as GNU find. `days` is a whole number of at least 1
 * (streamingSchema's recording.retentionDays; 0 means no sweep at all).
 */
export function retentionSweep(recordingsDir: string, days: number): string {
    const dir = word(recordingsDir);
    return [
        `find ${dir} -mindepth 2 -name ${word("*.ts")} -mtime +${days} -print -delete`,
        `find ${dir} -mindepth 2 -maxdepth 2 -name ${word("index.m3u8")} -mtime +${days} -print -delete`,
        `find ${dir} -mindepth 1 -maxdepth 1 -type d -empty -print -delete`,
    ].join(" && ");
}

export interface RecordingGuardInput {
    /** The recordings volume: <recordingsDir>/<stream>/ per stream. */
    readonly recordingsDir: string;
    /** Where a file named after a stream says "its recordings are full" (nginx.conf's recordingStopDir). */
    readonly stopDir: string;
    /** The listed streams (streamingSchema's names: plain shell words). */
    readonly streams: readonly string[];
    /** Each stream's share of the volume, in KiB (du -sk's unit). */
    readonly shareKiB: number;
    /** nginx-rtmp's control URL for dropping a publisher of the rec application, up to `name=`. */
    readonly dropUrl: string;
    /** Seconds between two checks. */
    readonly intervalSeconds: number;
    /** Touched after every round, for the container's probes. */
    readonly aliveFile: string;
}

/**
 * The recording guard, a loop in the server pod: every interval it measures each stream's
 * recordings folder (du -sk, the blocks it really takes). A stream at or over its share gets a
 * flag file, which makes `rec` refuse that stream's relay, and its current relay is dropped
 * (again every round while it is over, for a relay that got in before the flag): recording
 * stops, the live stream goes on. Once the retention sweep has brought the folder under its
 * share, the flag goes and the relay's next reconnect (nginx-rtmp retries every 3 s) records
 * again. Each change is said once on stdout (`kubectl logs ... -c recording-guard`). Runs with
 * busybox (the player image: du, wget) as well as GNU coreutils and wget.
 */
export function recordingGuard(g: RecordingGuardInput): string {
    if (!Number.isInteger(g.shareKiB) || g.shareKiB < 1) throw new Error("recordingGuard: shareKiB must be a whole number of at least 1");
    if (!Number.isInteger(g.intervalSeconds) || g.intervalSeconds < 1 || g.intervalSeconds > 300) throw new Error("recordingGuard: intervalSeconds must be 1-300");
    for (const s of g.streams) if (!/^[A-Za-z0-9_-]{1,64}$/.test(s)) throw new Error(`recordingGuard: stream name ${JSON.stringify(s)} is not a plain word`);
    const rec = word(g.recordingsDir);
    const stop = word(g.stopDir);
    return [
        `mkdir -p ${stop}`,
        // The flags live in the pod's own run folder: a new pod starts with none and decides in its first round.
        "while :; do",
        `  for s in ${g.streams.join(" ")}; do`,
        `    used=$(du -sk ${rec}/"$s" 2>/dev/null | cut -f1)`,
        "    used=${used:-0}",
        `    if [ "$used" -ge ${g.shareKiB} ]; then`,
        `      if [ ! -e ${stop}/"$s" ]; then`,
        `        : > ${stop}/"$s"`,
        `        echo "recording of $s stopped: its recordings take $used KiB, its share of the volume is ${g.shareKiB} KiB; the live stream goes on, recording resumes when the retention sweep has freed room"`,
        "      fi",
        `      wget -q -T 5 -O /dev/null ${shq(g.dropUrl)}"$s" 2>/dev/null || true`,
        `    elif [ -e ${stop}/"$s" ]; then`,
        `      rm -f ${stop}/"$s"`,
        `      echo "recording of $s resumes: its recordings take $used KiB of its ${g.shareKiB} KiB"`,
        "    fi",
        "  done",
        `  : > ${word(g.aliveFile)}`,
        `  sleep ${g.intervalSeconds}`,
        "done",
    ].join("\n");
}
