#!/usr/bin/env bash
# The README's first command. Installs what is needed, builds the Pulumi toolchain, and
# runs the most real step available: while the lab of simulated Pis is not in place,
# that is `pulumi preview` of the example stack (Pulumi.dev.yaml, the seed's 26 Pis),
# which touches no Pi.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash tools/install-deps.sh
bash tools/setup.sh
# shellcheck source=env.sh
source tools/env.sh

# A throwaway workspace so the example stack file in the repo is left untouched.
work=$(mktemp -d /tmp/picluster-example.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r Pulumi.yaml Pulumi.dev.yaml index.ts config.ts package.json tsconfig.json inventory render components "$work/"
ln -s "$repo/node_modules" "$work/node_modules"
export PULUMI_BACKEND_URL="file://$work/.state" PULUMI_CONFIG_PASSPHRASE="example-preview-only"
mkdir -p "$work/.state"
ssh-keygen -q -t ed25519 -N "" -f "$work/example_key"
cd "$work"
pulumi stack init dev --non-interactive >/dev/null
pulumi config set --secret picluster:sshPrivateKey < "$work/example_key"
pulumi preview -s dev --non-interactive
