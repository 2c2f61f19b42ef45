#!/usr/bin/env bash
# Builds the lab's real Kubernetes control plane into .toolchain/control-plane/bin (git-ignored),
# skipped when its stamp (.toolchain/stamps/control-plane: versions, Go version, flags, a hash of
# this folder) is unchanged. One binary, `kube` (main.go: k8s.io/kubernetes v$KUBERNETES_VERSION's
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl, and sigs.k8s.io/kwok
# v$KWOK_VERSION), with a symlink for each command, as k3s packages them: the shared Kubernetes
# packages compile once (kwok's too, on the same Kubernetes modules) and the binary links once.
# Versions come from tools/versions.env. The binary is stamped with the Kubernetes version
# (k8s.io/component-base/version and k8s.io/client-go/pkg/version): unstamped builds report
# v0.0.0-master+$Format:%H$, which kubectl and the Kubernetes provider cannot parse as a server
# version. `-tags providerless` is Kubernetes' own build tag that leaves out the in-tree cloud
# providers, which the lab has no use for (less to compile on a cold machine).
# Usage: tools/control-plane/build.sh [--force]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
force=false
[[ "${1:-}" == "--force" ]] && force=true
# shellcheck source=tools/versions.env
source "$repo/tools/versions.env"
: "${KUBERNETES_VERSION:?missing in tools/versions.env}"
: "${KWOK_VERSION:?missing in tools/versions.env}"
command -v go >/dev/null 2>&1 || export PATH="/usr/local/go/bin:$PATH"
dest="$repo/.toolchain/control-plane/bin"
stamp="$repo/.toolchain/stamps/control-plane"
mkdir -p "$dest" "$(dirname "$stamp")"
export CGO_ENABLED=0

if ! grep -q "^require k8s.io/kubernetes v$KUBERNETES_VERSION\$" "$here/go.mod"; then
  echo "control-plane/build.sh: $here/go.mod does not require k8s.io/kubernetes v$KUBERNETES_VERSION (tools/versions.env)." >&2
  echo "  Update the require line and every staging replace (v0.${KUBERNETES_VERSION#1.}) there, then run 'go mod tidy'." >&2
  exit 1
fi
minor="${KUBERNETES_VERSION#*.}"; minor="${minor%%.*}"
ldflags="-s -w"
for var in "gitVersion=v$KUBERNETES_VERSION" gitMajor=1 "gitMinor=$minor" gitTreeState=clean buildDate=1970-01-01T00:00:00Z; do
  ldflags+=" -X k8s.io/component-base/version.$var -X k8s.io/client-go/pkg/version.$var"
done
tags=providerless
key="kubernetes=$KUBERNETES_VERSION kwok=$KWOK_VERSION go=$(go env GOVERSION) tags=$tags src=$(find "$here" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
commands=(kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)
all=true
for b in kube "${commands[@]}"; do [[ -x "$dest/$b" ]] || all=false; done
[[ -f "$dest/kwok-stages.yaml" ]] || all=false
if $all && ! $force && [[ -f "$stamp" && "$(cat "$stamp")" == "$key" ]]; then
  printf '%-24s up to date (%s)\n' control-plane "${dest#"$repo"/}"
  exit 0
fi
rm -f "$stamp"
grep -q "^	sigs.k8s.io/kwok v$KWOK_VERSION\$" "$here/go.mod" || {
  echo "control-plane/build.sh: $here/go.mod does not require sigs.k8s.io/kwok v$KWOK_VERSION (tools/versions.env); update it and run 'go mod tidy'." >&2
  exit 1
}
start=$(date +%s)
printf '%-24s building (cold: about 1460 CPU-seconds, measured on 2 cores)...\n' control-plane
(cd "$here" && go build -buildvcs=false -trimpath -tags "$tags" -ldflags "$ldflags" -o "$dest/kube.tmp" .)
mv -f "$dest/kube.tmp" "$dest/kube"
for b in "${commands[@]}"; do ln -sfn kube "$dest/$b"; done
# kwok has no stages built in: these are kwok's own, unmodified, from its module (kustomize/stage),
# the set its docs give for fast nodes with lease heartbeats and fast pods.
kwok_dir="$(cd "$here" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
: >"$dest/kwok-stages.yaml.tmp"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  { echo "---"; echo "# sigs.k8s.io/kwok@v$KWOK_VERSION kustomize/stage/$f"; cat "$kwok_dir/kustomize/stage/$f"; } >>"$dest/kwok-stages.yaml.tmp"
done
mv -f "$dest/kwok-stages.yaml.tmp" "$dest/kwok-stages.yaml"
printf '%s\n' "$key" >"$stamp"
printf '%-24s built in %ss -> %s\n' control-plane "$(($(date +%s) - start))" "${dest#"$repo"/}"
