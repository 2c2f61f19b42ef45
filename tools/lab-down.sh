#!/usr/bin/env bash
# Takes the lab cluster of tools/lab-up.sh down: `pulumi destroy` (bounded), then removes
# every simulated Pi, namespace and process of the lab. A second run is harmless, and so is
# running it again after it was interrupted. PILAB_SPEC: as for tools/lab-up.sh.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
spec="${PILAB_SPEC:-$repo/test/lab/specs/seed.spec}"
lab="$(basename "${spec%.*}")"
exec "$repo/test/lab/lab" teardown --lab "$lab" --spec "$spec"
