// The air-gapped install's artifacts, shipped to each Pi by the program: the k3s binary (and
// optionally k3s's images tarball) are copied from the operator's machine into a staging folder
// on the Pi (command.remote.CopyToRemote, over the Pi's SSH connection), where the install
// script checks their sha256 and moves them to where k3s's air-gap documentation wants them
// (/usr/local/bin/k3s, /var/lib/rancher/k3s/agent/images/) before k3s's installer runs with
// INSTALL_K3S_SKIP_DOWNLOAD=true. k3s's own uninstall deletes both places, so every reinstall
// (destroy then up, a Pi scaled in and out, a Pi replaced) gets a fresh copy from here.
//
// Upstream's CopyToRemote has no delete step (pulumi-command v1.2.1,
// provider/pkg/provider/remote/copyController.go: Create and Update only), so the staging folder
// is a command of its own whose delete removes it: a destroy leaves /var/tmp as it was.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { remoteCommand } from "../shared/command";
import { K3sSettings } from "../../inventory/schema";
import { asRoot, script, shq } from "../shared/bash";
import { hostBound, Pi } from "../pi/pi";

/** World-writable and kept across reboots (unlike /tmp), so the SSH user can copy into it. */
export const AIRGAP_STAGING_DIR = "/var/tmp/picluster-airgap";
export const K3S_IMAGES_DIR = "/var/lib/rancher/k3s/agent/images";

export type AirgapSettings = NonNullable<K3sSettings["airgap"]>;

/** Where each artifact waits on the Pi, and the hash the install script insists on. */
export interface StagedAirgap {
    readonly binary: { readonly stagedPath: string; readonly sha256: string };
    readonly images?: { readonly stagedPath: string; readonly sha256: string; readonly fileName: string };
}

/** Pure: the staging paths for an air-gap setting (the hash in the name makes a new file a new copy). */
export function stagedAirgap(airgap: AirgapSettings): StagedAirgap {
    const images = airgap.images;
    return {
        binary: { stagedPath: `${AIRGAP_STAGING_DIR}/k3s-${airgap.binary.sha256.slice(0, 16)}`, sha256: airgap.binary.sha256 },
        ...(images ? {
            images: {
                stagedPath: `${AIRGAP_STAGING_DIR}/images-${images.sha256.slice(0, 16)}`,
                sha256: images.sha256,
                fileName: path.basename(images.path),
            },
        } : {}),
    };
}

/**
 * Run as the SSH user (CopyToRemote writes as that user): a private folder for the copies. One
 * command line, not a bash script: it runs in the user's login shell, whatever that is.
 */
export function renderStagingDirCommand(): string {
    return `install -d -m 0700 ${shq(AIRGAP_STAGING_DIR)}`;
}

export function renderRemoveStagingDirScript(): string {
    return script(`rm -rf ${shq(AIRGAP_STAGING_DIR)}`);
}

/**
 * The install script's lines that put the staged artifacts in place (as root). An artifact already
 * in place with the pinned hash needs no staged copy; a staged copy with another hash is refused.
 */
export function renderPlaceAirgapLines(staged: StagedAirgap): string[] {
    const place = (stagedPath: string, sha: string, dest: string, mode: string, what: string) => [
        `if [ "$(sha256sum ${shq(dest)} 2>/dev/null | cut -d' ' -f1)" != ${shq(sha)} ]; then`,
        `  if [ ! -f ${shq(stagedPath)} ]; then`,
        `    echo "picluster: ${what} (sha256 ${sha}) is neither at ${dest} nor staged at ${stagedPath} on $(hostname);" \\`,
        `      "run 'pulumi up' again with --target-replace on this Pi's airgap copy resource to send it again" >&2`,
        "    exit 1",
        "  fi",
        `  if [ "$(sha256sum ${shq(stagedPath)} | cut -d' ' -f1)" != ${shq(sha)} ]; then`,
        `    echo "picluster: the copy of ${what} at ${stagedPath} on $(hostname) does not have sha256 ${sha}; the transfer was damaged" >&2`,
        `    rm -f ${shq(stagedPath)}`,
        "    exit 1",
        "  fi",
        `  install -d -m 0755 "$(dirname ${shq(dest)})"`,
        `  install -m ${mode} ${shq(stagedPath)} ${shq(dest + ".picluster-new")}`,
        `  mv -f ${shq(dest + ".picluster-new")} ${shq(dest)}`,
        `  echo "picluster: placed ${what} at ${dest} on $(hostname)"`,
        "fi",
        `rm -f ${shq(stagedPath)}`,
    ];
    return [
        ...place(staged.binary.stagedPath, staged.binary.sha256, "/usr/local/bin/k3s", "0755", "the k3s binary"),
        ...(staged.images ? place(staged.images.stagedPath, staged.images.sha256,
            `${K3S_IMAGES_DIR}/${staged.images.fileName}`, "0644", "the k3s images tarball") : []),
    ];
}

/**
 * Copies the artifacts to one Pi. Returns what the install script needs and the resources the
 * install must wait for (none without an air-gap setting).
 */
export function shipAirgap(
    name: string, pi: Pi, airgap: AirgapSettings | undefined, parent: pulumi.Resource,
): { staged?: StagedAirgap; ready: pulumi.Resource[] } {
    if (airgap === undefined) return { ready: [] };
    const staged = stagedAirgap(airgap);
    const dir = remoteCommand(`${name}-airgap-dir`, {
        connection: pi.connection,
        create: renderStagingDirCommand(),
        delete: asRoot(renderRemoveStagingDirScript()),
        triggers: [pi.address],
    }, hostBound(parent, pi, [pi.ready]));
    const copies = [new command.remote.CopyToRemote(`${name}-airgap-k3s`, {
        connection: pi.connection,
        source: new pulumi.asset.FileAsset(airgap.binary.path),
        remotePath: staged.binary.stagedPath,
        triggers: [pi.address],
    }, hostBound(parent, pi, [dir]))];
    if (airgap.images && staged.images) {
        copies.push(new command.remote.CopyToRemote(`${name}-airgap-images`, {
            connection: pi.connection,
            source: new pulumi.asset.FileAsset(airgap.images.path),
            remotePath: staged.images.stagedPath,
            triggers: [pi.address],
        }, hostBound(parent, pi, [dir])));
    }
    return { staged, ready: copies };
}
