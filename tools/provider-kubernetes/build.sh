#!/usr/bin/env bash
# Builds the Pulumi Kubernetes provider plugin from the Go module proxy and installs it where the
# engine looks for an exact plugin version:
#
#   tools/provider-kubernetes/build.sh <dest-plugin-dir> <version>
#   e.g. build.sh .toolchain/pulumi-home/plugins/resource-kubernetes-v4.25.0 4.25.0
#   -> <dest-plugin-dir>/pulumi-resource-kubernetes, reporting version <version>
#
# <version> must equal the "pulumi.version" of the @pulumi/kubernetes npm package in use
# (the version the SDK asks the engine for). The provider code is always the commit pinned in
# go.mod (the only one the proxy serves); see README.md beside this file for which release
# that is. A "<dest>.partial" marker exists while building, so the engine never takes a
# half-installed plugin directory as installed. Prints the build time.
# Environment: GO (default: go on PATH, else /usr/local/go/bin/go); GOFLAGS etc. pass through.
set -euo pipefail

if [[ $# -ne 2 || -z "$1" || -z "$2" ]]; then
  echo "usage: $0 <dest-plugin-dir> <version>   (e.g. ~/.pulumi/plugins/resource-kubernetes-v4.25.0 4.25.0)" >&2
  exit 2
fi
dest="$1"
version="${2#v}"
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "build.sh: version '$2' is not a semantic version such as 4.25.0" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

go="${GO:-}"
if [[ -z "$go" ]]; then
  if command -v go >/dev/null 2>&1; then go=go; elif [[ -x /usr/local/go/bin/go ]]; then go=/usr/local/go/bin/go; else
    echo "build.sh: go not found (PATH or /usr/local/go/bin)" >&2; exit 1
  fi
fi

mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
touch "$dest.partial"
start=$(date +%s.%N)

cd "$here"
export CGO_ENABLED=0
"$go" mod download
"$go" run ./internal/gen "$version"
# Same version variable as upstream's Makefile sets.
"$go" build -trimpath -o "$dest/pulumi-resource-kubernetes.tmp" \
  -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$version" .
mv -f "$dest/pulumi-resource-kubernetes.tmp" "$dest/pulumi-resource-kubernetes"
rm -f "$dest.partial"

secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "build.sh: pulumi-resource-kubernetes v$version built in ${secs}s -> $dest/pulumi-resource-kubernetes"
