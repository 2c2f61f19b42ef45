// The bash every rendered Pi script is made of: quoting, the root wrapper, the script frame,
// atomic file writes, and the backup/restore pair that lets each delete script put back exactly
// what its create script changed (recorded under STATE_DIR).
//
// Conventions of every script: idempotent (detect before changing), bounded in time (every
// wait has a deadline), prints `picluster:` progress lines, and takes secrets only on stdin,
// never on its command line.

/** Quotes a value for POSIX sh as one single-quoted word. */
export function shq(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Wraps a bash script so it runs as root whether the SSH user is root (the lab, some
 * images) or a sudoer (Raspberry Pi OS, Hypriot). The script travels as one quoted
 * argument; stdin stays free for secrets (tokens, configs with passwords).
 */
export function asRoot(script: string): string {
    return `s=${shq(script)}; if [ "$(id -u)" -eq 0 ]; then exec /bin/bash -c "$s"; else exec sudo -n /bin/bash -c "$s"; fi`;
}

/** Where the program records what it changed on a Pi, so delete can put it back. */
export const STATE_DIR = "/var/lib/picluster";

export const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/** A bash script: strict mode, a sane umask, then the body. */
export function script(...body: string[]): string {
    return ["#!/bin/bash", "set -euo pipefail", "umask 022", ...body, ""].join("\n");
}

// Starts, restarts or reloads a service with systemd when it runs, else the SysV script.
export const SERVICE_FN = [
    "svc() {",
    "  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then",
    "    timeout 60 systemctl \"$1\" \"$2\"",
    "  else",
    "    timeout 60 service \"$2\" \"$1\"",
    "  fi",
    "}",
];

/** Writes `content` to `path` atomically with the given mode. */
export function writeFile(path: string, content: string, mode: string): string[] {
    return [
        `install -d -m 0755 "$(dirname ${shq(path)})"`,
        `printf '%s' ${shq(b64(content))} | base64 -d > ${shq(path + ".picluster-new")}`,
        `chmod ${mode} ${shq(path + ".picluster-new")}`,
        `mv -f ${shq(path + ".picluster-new")} ${shq(path)}`,
    ];
}

/** Saves the original of a file once (or records that it did not exist). */
export function backupOnce(path: string, key: string): string[] {
    const saved = `${STATE_DIR}/${key}`;
    return [
        `install -d -m 0700 ${shq(STATE_DIR)}`,
        `if [ ! -e ${shq(saved + ".orig")} ] && [ ! -e ${shq(saved + ".absent")} ]; then`,
        `  if [ -e ${shq(path)} ]; then cp -p ${shq(path)} ${shq(saved + ".orig")}; else touch ${shq(saved + ".absent")}; fi`,
        "fi",
    ];
}

/** Puts back what backupOnce saved. */
export function restore(path: string, key: string): string[] {
    const saved = `${STATE_DIR}/${key}`;
    return [
        `if [ -e ${shq(saved + ".orig")} ]; then cp -p ${shq(saved + ".orig")} ${shq(path)}; rm -f ${shq(saved + ".orig")}; fi`,
        `if [ -e ${shq(saved + ".absent")} ]; then rm -f ${shq(path)} ${shq(saved + ".absent")}; fi`,
    ];
}
