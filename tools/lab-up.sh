#!/usr/bin/env bash
# The README's first command: installs what is needed (Debian packages, npm packages, the
# Pulumi toolchain built from Go modules), creates the lab's 26 simulated Pis in the seed's
# layout (test/lab/specs/seed.spec: 5 servers, 2 load balancers with a VIP, 19 agents), runs
# the real `pulumi up` against them over SSH, and prints how to reach the cluster.
# Safe to interrupt and run again at any point: it converges from whatever an earlier run (or
# an interrupted tools/lab-down.sh) left. PILAB_SPEC=<spec file> brings up another lab.
# Needs root (network namespaces). Tear down with tools/lab-down.sh.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
bash tools/install-deps.sh
bash tools/setup.sh
exec test/lab/lab cluster "${PILAB_SPEC:-test/lab/specs/seed.spec}"
