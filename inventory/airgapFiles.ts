// The one check of the inventory that reads files: the air-gap artifacts named in the stack
// config must exist on this machine with the sha256 the config pins. Done at the edge
// (config.ts), before any resource is registered, so a missing or wrong file is refused before
// any SSH connection and nothing on a Pi is half-changed by it.
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { K3sSettings } from "./schema";
import { keyPath } from "./issues";

export type AirgapFile = NonNullable<K3sSettings["airgap"]>["binary"];

/** sha256 of a file, read in 1 MiB chunks (a k3s binary is ~70 MB, an images tarball more). */
export function sha256OfFile(path: string): string {
    const hash = createHash("sha256");
    const fd = openSync(path, "r");
    try {
        const buf = Buffer.allocUnsafe(1 << 20);
        for (;;) {
            const n = readSync(fd, buf, 0, buf.length, null);
            if (n === 0) break;
            hash.update(buf.subarray(0, n));
        }
    } finally {
        closeSync(fd);
    }
    return hash.digest("hex");
}

/**
 * Resolves each artifact's path against `baseDir` (the project folder, where `pulumi` runs the
 * program) and checks it. Returns the settings with absolute paths, or the problems found.
 */
export function verifyAirgapFiles(k3s: K3sSettings, baseDir: string): { k3s: K3sSettings; problems: string[] } {
    if (k3s.airgap === undefined) return { k3s, problems: [] };
    const problems: string[] = [];
    const check = (name: "binary" | "images", file: AirgapFile): AirgapFile => {
        const key = keyPath(["k3s", "airgap", name, "path"]);
        const path = isAbsolute(file.path) ? file.path : resolve(baseDir, file.path);
        const shown = path === file.path ? path : `${file.path} (${path})`;
        let size: number;
        try {
            const st = statSync(path);
            if (!st.isFile()) {
                problems.push(`${key}: ${shown} is not a regular file; name the file itself`);
                return { ...file, path };
            }
            size = st.size;
        } catch {
            problems.push(`${key}: ${shown} does not exist on this machine; download it from the k3s release (or fix the path) and run again`);
            return { ...file, path };
        }
        const actual = sha256OfFile(path);
        if (actual !== file.sha256) {
            problems.push(`${keyPath(["k3s", "airgap", name, "sha256"])}: ${shown} (${size} bytes) has sha256 ${actual}, not ${file.sha256}; ` +
                "fetch the file again or correct the pin from the release's sha256sum file");
        }
        return { ...file, path };
    };
    const binary = check("binary", k3s.airgap.binary);
    const images = k3s.airgap.images && check("images", k3s.airgap.images);
    return { k3s: { ...k3s, airgap: { binary, ...(images ? { images } : {}) } }, problems };
}
