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
