#!/usr/bin/env bash
# Takes the lab cluster of tools/lab-up.sh down: `pulumi destroy` (bounded), then removes
# every simulated Pi, namespace and process of the lab. A second run is harmless.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$repo/test/lab/lab" teardown --lab seed
