#!/usr/bin/env bash
# Builds and installs the project-local Pulumi toolchain from Go modules (idempotent).
#
#   .toolchain/bin/pulumi                   real Pulumi CLI, built from tools/pulumi-cli (pkg/v3)
#   .toolchain/bin/pulumi-language-nodejs   stand-in language host (test/stand-ins/pulumi-language-nodejs)
#   .toolchain/pulumi-home/plugins/resource-<name>-v<version>/pulumi-resource-<name>
#                                           stand-in providers, when test/stand-ins/pulumi-resource-<name> exists
#
# Versions come from tools/versions.env only. Each build is skipped when its stamp file
# (.toolchain/stamps/<name>) records the same versions, Go version and hash of the sources;
# editing a stand-in therefore rebuilds it. Go's module and build caches stay at Go's defaults
# (outside the repo), so a fresh clone on a warm machine builds quickly.
#
# Needs: go (PATH or /usr/local/go/bin) and the Go module proxy. Set GOTOOLCHAIN=go1.x.y yourself
# if a future pkg/v3 needs a newer Go than the installed one (the proxy serves toolchains).
# Usage: tools/toolchain.sh [--force]     (tools/setup.sh runs npm ci first, then this)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
force=false
[[ "${1:-}" == "--force" ]] && force=true

# shellcheck source=tools/versions.env
source "$repo/tools/versions.env"
: "${PULUMI_VERSION:?missing in tools/versions.env}"
: "${COMMAND_PLUGIN_VERSION:?missing in tools/versions.env}"
: "${RANDOM_PLUGIN_VERSION:?missing in tools/versions.env}"

if ! command -v go >/dev/null 2>&1; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || { echo "toolchain.sh: go not found (expected on PATH or in /usr/local/go/bin)" >&2; exit 1; }

out="$repo/.toolchain"
bin="$out/bin"
plugins="$out/pulumi-home/plugins"
stamps="$out/stamps"
mkdir -p "$bin" "$plugins" "$stamps"

# One toolchain.sh at a time per checkout.
exec 9>"$out/.toolchain.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

export CGO_ENABLED=0
go_version="$(go env GOVERSION)"
total_start=$(date +%s.%N)

# Hash of every file under the given paths (names and contents), for the stamps.
source_hash() {
  find "$@" -type f -not -path '*/.git/*' -print0 | LC_ALL=C sort -z |
    xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

# The module's go.mod must require pulumi at the pinned version; we never edit go.mod here.
require_pin() { # <go.mod> <module> <version>
  if ! grep -Eq "^[[:space:]]*(require[[:space:]]+)?$2[[:space:]]+v$3([[:space:]]|$)" "$1"; then
    echo "toolchain.sh: $1 does not require $2 v$3 (tools/versions.env)." >&2
    echo "  Update the require line(s) there and run 'go mod tidy' in that directory." >&2
    exit 1
  fi
}

seconds_since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

# up_to_date <name> <output file> <stamp key>: true when the stamp matches and the output exists.
up_to_date() {
  ! $force && [[ -x "$2" && -f "$stamps/$1" && "$(cat "$stamps/$1")" == "$3" ]]
}

# build <name> <module dir> <output file> <package> <stamp key> [go build args...]
# Skips when up to date. Builds into a temporary file first so an interrupted build never
# leaves a half-written binary behind; the stamp is written only after a successful build.
build() {
  local name="$1" dir="$2" dest="$3" pkg="$4"
  shift 4
  local key="$1 flags=${*:2}" # the flags are part of the stamp: changing them rebuilds
  shift
  set -- -buildvcs=false "$@"
  if up_to_date "$name" "$dest" "$key"; then
    printf '%-24s up to date (%s)\n' "$name" "${dest#"$repo"/}"
    return 0
  fi
  local start
  start=$(date +%s.%N)
  printf '%-24s building...\n' "$name"
  rm -f "$stamps/$name"
  (cd "$dir" && go build -o "$dest.tmp" "$@" "$pkg")
  mv -f "$dest.tmp" "$dest"
  printf '%s\n' "$key" >"$stamps/$name"
  printf '%-24s built in %ss -> %s\n' "$name" "$(seconds_since "$start")" "${dest#"$repo"/}"
}

# 1. The real Pulumi CLI.
cli_dir="$repo/tools/pulumi-cli"
require_pin "$cli_dir/go.mod" github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION"
require_pin "$cli_dir/go.mod" github.com/pulumi/pulumi/sdk/v3 "$PULUMI_VERSION"
build pulumi "$cli_dir" "$bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
  "pulumi=$PULUMI_VERSION go=$go_version src=$(source_hash "$cli_dir")" \
  -tags osusergo,grpcnotrace \
  -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"

# 2. The Node.js language host (stand-in; the upstream module is not served by the proxy).
lang_dir="$repo/test/stand-ins/pulumi-language-nodejs"
require_pin "$lang_dir/go.mod" github.com/pulumi/pulumi/sdk/v3 "$PULUMI_VERSION"
build pulumi-language-nodejs "$lang_dir" "$bin/pulumi-language-nodejs" . \
  "pulumi=$PULUMI_VERSION go=$go_version src=$(source_hash "$lang_dir")" \
  -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"

# 3. Stand-in providers, installed where the engine looks for an exact plugin version:
#    $PULUMI_HOME/plugins/resource-<name>-v<version>/pulumi-resource-<name>. The engine treats a
#    plugin directory as installed when it exists and no "<dir>.partial" file sits beside it
#    (sdk/go/common/workspace/plugins.go HasPlugin/GetPluginsFromDir; "<dir>.lock" is only the
#    installer's file lock), so we hold a .partial marker while building.
install_provider() { # <name> <version>
  local name="$1" version="$2"
  local src="$repo/test/stand-ins/pulumi-resource-$name"
  if [[ ! -f "$src/go.mod" ]]; then
    printf '%-24s skipped (no %s)\n' "resource-$name" "${src#"$repo"/}/go.mod"
    return 0
  fi
  local dir="$plugins/resource-$name-v$version" old
  for old in "$plugins/resource-$name-v"*; do # drop other versions that an earlier pin installed
    if [[ -e "$old" && "$old" != "$dir" && "$old" != "$dir".* ]]; then rm -rf "$old"; fi
  done
  local dest="$dir/pulumi-resource-$name"
  local flags=(-ldflags "-X main.Version=$version")
  local key hash
  hash="$(source_hash "$src")"
  key="version=$version go=$go_version src=$hash"
  if [[ ! -e "$dir.partial" ]] && up_to_date "resource-$name" "$dest" "$key flags=${flags[*]}"; then
    printf '%-24s up to date (%s)\n' "resource-$name" "${dest#"$repo"/}"
    return 0
  fi
  mkdir -p "$dir"
  touch "$dir.partial"
  rm -f "$stamps/resource-$name" # force build() to build
  build "resource-$name" "$src" "$dest" . "$key" "${flags[@]}"
  rm -f "$dir.partial"
}
install_provider command "$COMMAND_PLUGIN_VERSION"
install_provider random "$RANDOM_PLUGIN_VERSION"

# 4. The Kubernetes provider, built from the Go module proxy by tools/provider-kubernetes/build.sh
#    (the npm SDK @pulumi/kubernetes asks the engine for exactly KUBERNETES_PLUGIN_VERSION).
: "${KUBERNETES_PLUGIN_VERSION:?missing in tools/versions.env}"
k8s_src="$repo/tools/provider-kubernetes"
k8s_dir="$plugins/resource-kubernetes-v$KUBERNETES_PLUGIN_VERSION"
# Only the tracked sources: build.sh writes schema-embed.json and terraform-mapping-embed.json there.
k8s_key="version=$KUBERNETES_PLUGIN_VERSION go=$go_version src=$(source_hash "$k8s_src/go.mod" "$k8s_src/go.sum" "$k8s_src/main.go" "$k8s_src/internal" "$k8s_src/build.sh")"
for old in "$plugins/resource-kubernetes-v"*; do
  if [[ -e "$old" && "$old" != "$k8s_dir" && "$old" != "$k8s_dir".* ]]; then rm -rf "$old"; fi
done
if [[ ! -e "$k8s_dir.partial" ]] && up_to_date resource-kubernetes "$k8s_dir/pulumi-resource-kubernetes" "$k8s_key"; then
  printf '%-24s up to date (%s)\n' resource-kubernetes "${k8s_dir#"$repo"/}"
else
  rm -f "$stamps/resource-kubernetes"
  bash "$k8s_src/build.sh" "$k8s_dir" "$KUBERNETES_PLUGIN_VERSION"
  printf '%s\n' "$k8s_key" >"$stamps/resource-kubernetes"
fi

printf 'toolchain ready in %ss (pulumi v%s; PULUMI_HOME=%s)\n' \
  "$(seconds_since "$total_start")" "$PULUMI_VERSION" "${out#"$repo"/}/pulumi-home"
