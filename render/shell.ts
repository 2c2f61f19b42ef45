// Shell quoting shared by every rendered script.

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
