#!/usr/bin/env bash
# Builds the lab's real Kubernetes control plane into .toolchain/control-plane/bin (git-ignored),
# skipped when its stamp (.toolchain/stamps/control-plane: versions, Go version, flags, a hash of
# this folder) is unchanged:
#   kube-apiserver kube-controller-manager kube-scheduler kubectl   k8s.io/kubernetes v$KUBERNETES_VERSION
#   kwok                                                            sigs.k8s.io/kwok v$KWOK_VERSION
# Versions come from tools/versions.env. Each binary is stamped with the Kubernetes version
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
all=true
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do [[ -x "$dest/$b" ]] || all=false; done
if $all && ! $force && [[ -f "$stamp" && "$(cat "$stamp")" == "$key" ]]; then
  printf '%-24s up to date (%s)\n' control-plane "${dest#"$repo"/}"
  exit 0
fi
rm -f "$stamp"
total=$(date +%s)
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  start=$(date +%s)
  (cd "$here" && go build -buildvcs=false -trimpath -tags "$tags" -ldflags "$ldflags" -o "$dest/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
  mv -f "$dest/$cmd.tmp" "$dest/$cmd"
  printf '%-24s built in %ss\n' "$cmd" "$(($(date +%s) - start))"
done
# kwok has no replace directives: its own module builds as published.
start=$(date +%s)
gobin="$(mktemp -d)"
GOBIN="$gobin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
mv -f "$gobin/kwok" "$dest/kwok"
rmdir "$gobin"
printf '%-24s built in %ss\n' kwok "$(($(date +%s) - start))"
printf '%s\n' "$key" >"$stamp"
printf '%-24s built in %ss -> %s\n' control-plane "$(($(date +%s) - total))" "${dest#"$repo"/}"
