#!/usr/bin/env bash
# Prints the time of `pulumi preview` on the dev stack (real engine, offline) next to the
# same program under mocks. Builds the toolchain first if needed.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash tools/setup.sh >/dev/null
# shellcheck source=env.sh
source tools/env.sh
TS_NODE_TRANSPILE_ONLY=true exec node --require ts-node/register test/engine/bench-preview.ts
