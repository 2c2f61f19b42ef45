#!/usr/bin/env bash
# Builds and installs the project-local Pulumi toolchain (idempotent), in the order the first
# `pulumi up` needs it:
#
#   .toolchain/bin/pulumi                   the Pulumi CLI, built from tools/pulumi-cli (pkg/v3, Go module proxy)
#   .toolchain/bin/pulumi-language-nodejs   the Node.js language host, upstream source from
#                                           ../shared/upstream/pulumi-language-nodejs
#   .toolchain/bin/pulumi-resource-pulumi-nodejs
#                                           the launcher of Node.js dynamic providers (a script)
#   .toolchain/pulumi-home/plugins/resource-<name>-v<version>/pulumi-resource-<name>
#                                           the command and random providers, upstream source from
#                                           ../shared/upstream/pulumi-<name>; then the Kubernetes
#                                           provider (tools/provider-kubernetes, Go module proxy)
#   .toolchain/control-plane/bin/kube (+ a symlink per command)
#                                           the lab's real Kubernetes control plane and kubectl
#                                           (tools/control-plane, Go module proxy)
#
# The Go module proxy refuses the upstream modules of the language host and of the command and
# random providers, so their unmodified upstream sources sit in ../shared/upstream (see its
# README.md). Each build copies its folder to .toolchain/build/<name> (git-ignored) and builds the
# copy; the only changes on the copy are made here, in the open: the language host's go.mod drops
# its in-repo replaces and requires pulumi pkg/sdk v$PULUMI_VERSION (`go mod edit`), and gets the
# project's own tools/upstream-plugins/language-nodejs/*.go beside its main.go. When the folder is
# missing this script stops and says what to do instead.
#
# Versions come from tools/versions.env only; tools/check-pins.sh first checks that the provider
# pins equal what the installed npm SDKs ask the engine for. Each build is skipped when its stamp
# file (.toolchain/stamps/<name>) records the same versions, Go version, build flags and hashes of
# the sources (the upstream folder and the project's added files). Go's module and build caches
# stay at Go's defaults (outside the repo), so a fresh clone on a warm machine builds quickly.
# Every binary is built with -trimpath and without DWARF (-ldflags "-s -w"): smaller, faster to
# link; the CLI and the language host share tags and flags so that the language host reuses the
# packages the CLI build compiled (both are on pulumi v$PULUMI_VERSION).
#
# Needs: go (PATH or /usr/local/go/bin) and the Go module proxy. Set GOTOOLCHAIN=go1.x.y yourself
# if a future pkg/v3 needs a newer Go than the installed one (the proxy serves toolchains).
# Environment: PICLUSTER_UPSTREAM=<dir> to take the upstream sources from elsewhere than
# ../shared/upstream (relative to the checkout).
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
: "${KUBERNETES_PLUGIN_VERSION:?missing in tools/versions.env}"
: "${NODEJS_LANGUAGE_VERSION:?missing in tools/versions.env}"

# Before anything is built: the pins must be what the npm SDKs ask for, and the upstream
# sources must be there (a missing folder would otherwise fail after the CLI's long build).
bash "$repo/tools/check-pins.sh"

upstream="${PICLUSTER_UPSTREAM:-$repo/../shared/upstream}"
upstream_shown="${PICLUSTER_UPSTREAM:-../shared/upstream}"
require_upstream() { # <folder under upstream> <what it is>
  [[ -d "$upstream/$1" ]] && return 0
  cat >&2 <<MSG
toolchain.sh: $upstream_shown/$1 is missing ($upstream/$1).
  It holds the unmodified upstream source of $2, which this machine cannot download
  (the Go module proxy refuses that module); $upstream_shown/README.md says where each folder
  comes from and how it is built. Put the upstream sources there and run this again.
  On a machine with internet access, use the upstream pulumi CLI instead of tools/pulumi: it ships
  the Node.js language host, and it installs the providers the npm SDKs ask for:
    pulumi plugin install resource command $COMMAND_PLUGIN_VERSION
    pulumi plugin install resource random $RANDOM_PLUGIN_VERSION
    pulumi plugin install resource kubernetes $KUBERNETES_PLUGIN_VERSION
MSG
  exit 1
}
require_upstream pulumi-language-nodejs/src "the Node.js language host v$NODEJS_LANGUAGE_VERSION (github.com/pulumi/pulumi sdk/nodejs/cmd/pulumi-language-nodejs)"
require_upstream pulumi-command/provider "the command provider v$COMMAND_PLUGIN_VERSION (github.com/pulumi/pulumi-command/provider)"
require_upstream pulumi-random/provider "the random provider (github.com/pulumi/pulumi-random/provider/v4)"
upstream="$(cd "$upstream" && pwd)"

if ! command -v go >/dev/null 2>&1; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || { echo "toolchain.sh: go not found (expected on PATH or in /usr/local/go/bin)" >&2; exit 1; }

out="$repo/.toolchain"
bin="$out/bin"
plugins="$out/pulumi-home/plugins"
stamps="$out/stamps"
build_root="$out/build"
mkdir -p "$bin" "$plugins" "$stamps" "$build_root"

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

# The project's own module (tools/pulumi-cli) must require pulumi at the pinned version; we never
# edit that go.mod here (only the language host's build copy, see step 2).
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

# The lab's real Kubernetes control plane (tools/control-plane/build.sh: kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl and kwok in one binary, pinned by
# KUBERNETES_VERSION and KWOK_VERSION), which the lab's k3s stand-in runs and the lab's tests use
# as kubectl. It builds in the background, at a lower priority, while the steps below run: on a
# cold machine they spend much of their time fetching modules rather than compiling (measured: the
# CLI built in 522 s alone and in 522 s beside it), so most of its ~20 min of compiling overlaps.
# Step 5 waits for it. Its own stamp skips it when up to date.
control_plane_log="$out/control-plane.log"
nice -n 10 bash "$repo/tools/control-plane/build.sh" >"$control_plane_log" 2>&1 &
control_plane_pid=$!
printf '%-24s building in the background (log: %s)\n' control-plane "${control_plane_log#"$repo"/}"

# Flags shared by the CLI and the language host: the same flags and tags make the same packages
# (both on pulumi v$PULUMI_VERSION), so the language host's build reuses what the CLI's compiled.
host_flags=(-trimpath -tags "osusergo,grpcnotrace")
sdk_version_var=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version

# 1. The Pulumi CLI.
cli_dir="$repo/tools/pulumi-cli"
require_pin "$cli_dir/go.mod" github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION"
require_pin "$cli_dir/go.mod" github.com/pulumi/pulumi/sdk/v3 "$PULUMI_VERSION"
build pulumi "$cli_dir" "$bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
  "pulumi=$PULUMI_VERSION go=$go_version src=$(source_hash "$cli_dir")" \
  "${host_flags[@]}" -ldflags "-s -w -X $sdk_version_var=v$PULUMI_VERSION"

# fresh_copy <upstream folder> <name>: a writable copy under .toolchain/build/<name>, made anew
# for every build so nothing from an earlier build (or an earlier upstream version) is left in it.
fresh_copy() {
  local dest="$build_root/$2"
  rm -rf "$dest"
  cp -R "$upstream/$1" "$dest"
  chmod -R u+w "$dest" # the shared sources are read-only
  printf '%s\n' "$dest"
}

# 2. The Node.js language host, upstream v$NODEJS_LANGUAGE_VERSION built against the CLI's pulumi
#    version. Its go.mod points pkg/v3 and sdk/v3 at the pulumi repository it lives in; the copy
#    requires the published modules instead, and gets the project's own files beside main.go
#    (today one method that v$PULUMI_VERSION's ResourceMonitor interface added, see that file).
lang_own="$repo/tools/upstream-plugins/language-nodejs"
lang_key="version=$NODEJS_LANGUAGE_VERSION pulumi=$PULUMI_VERSION go=$go_version src=$(source_hash "$upstream/pulumi-language-nodejs") own=$(source_hash "$lang_own")"
lang_flags=("${host_flags[@]}" -ldflags "-s -w -X $sdk_version_var=v$NODEJS_LANGUAGE_VERSION")
if up_to_date pulumi-language-nodejs "$bin/pulumi-language-nodejs" "$lang_key flags=${lang_flags[*]}"; then
  printf '%-24s up to date (%s)\n' pulumi-language-nodejs .toolchain/bin/pulumi-language-nodejs
else
  lang_start=$(date +%s.%N)
  lang_src="$(fresh_copy pulumi-language-nodejs/src language-nodejs)"
  cp "$lang_own"/*.go "$lang_src/"
  (cd "$lang_src" &&
    go mod edit -dropreplace=github.com/pulumi/pulumi/pkg/v3 -dropreplace=github.com/pulumi/pulumi/sdk/v3 \
      -require="github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" -require="github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" &&
    go mod tidy)
  printf '%-24s go.mod edited and tidied in %ss\n' pulumi-language-nodejs "$(seconds_since "$lang_start")"
  rm -f "$stamps/pulumi-language-nodejs"
  build pulumi-language-nodejs "$lang_src" "$bin/pulumi-language-nodejs" . "$lang_key" "${lang_flags[@]}"
fi

# 2b. The launcher of Node.js dynamic providers (the engine finds it beside the CLI); a script,
#     no build (tools/upstream-plugins/dynamic-provider says what it follows).
install -m 0755 "$repo/tools/upstream-plugins/dynamic-provider/pulumi-resource-pulumi-nodejs" "$bin/pulumi-resource-pulumi-nodejs"
printf '%-24s installed (%s)\n' pulumi-resource-pulumi-nodejs .toolchain/bin/pulumi-resource-pulumi-nodejs

# 3. The command and random providers from their upstream sources, installed where the engine
#    looks for an exact plugin version: $PULUMI_HOME/plugins/resource-<name>-v<version>/
#    pulumi-resource-<name>. The engine treats a plugin directory as installed when it exists and
#    no "<dir>.partial" file sits beside it (sdk/go/common/workspace/plugins.go
#    HasPlugin/GetPluginsFromDir; "<dir>.lock" is only the installer's file lock), so we hold a
#    .partial marker while building. The version stamped into each is the version the npm SDK
#    asks for (tools/check-pins.sh checked that above).
install_provider() { # <name> <version> <version variable> <prepare function>
  local name="$1" version="$2" version_var="$3" prepare="$4"
  local dir="$plugins/resource-$name-v$version" old
  for old in "$plugins/resource-$name-v"*; do # drop other versions that an earlier pin installed
    if [[ -e "$old" && "$old" != "$dir" && "$old" != "$dir".* ]]; then rm -rf "$old"; fi
  done
  local dest="$dir/pulumi-resource-$name"
  local flags=(-trimpath -ldflags "-s -w -X $version_var=$version")
  local key hash
  hash="$(source_hash "$upstream/pulumi-$name")"
  key="version=$version go=$go_version src=$hash"
  if [[ ! -e "$dir.partial" ]] && up_to_date "resource-$name" "$dest" "$key flags=${flags[*]}"; then
    printf '%-24s up to date (%s)\n' "resource-$name" "${dest#"$repo"/}"
    return 0
  fi
  mkdir -p "$dir"
  touch "$dir.partial"
  rm -f "$stamps/resource-$name" # force build() to build
  local src
  src="$(fresh_copy "pulumi-$name/provider" "provider-$name")"
  "$prepare" "$src" "$version"
  build "resource-$name" "$src" "$dest" "./cmd/pulumi-resource-$name" "$key" "${flags[@]}"
  rm -f "$dir.partial"
}

# pulumi-command v1.2.1 (tag 7f3eb6f3): builds as published.
prepare_command() { :; }
install_provider command "$COMMAND_PLUGIN_VERSION" \
  github.com/pulumi/pulumi-command/provider/pkg/version.Version prepare_command

# pulumi-random: the stored source is commit f64d8726 (tag v4.21.1 plus two bridge upgrades; the
# v4.21.1 tag itself does not build from the module proxy, and there is no v4.21.2 tag in the
# stored snapshot). It is stamped $RANDOM_PLUGIN_VERSION because that is the version the npm SDK
# @pulumi/random asks the engine for; the code is f64d8726's. Upstream's `go generate` step writes
# the embedded schema-embed.json (with the version in it) first.
prepare_random() { # <copy> <version>
  local start
  start=$(date +%s.%N)
  (cd "$1/cmd/pulumi-resource-random" && VERSION="$2" go run ./generate.go)
  printf '%-24s schema generated in %ss\n' resource-random "$(seconds_since "$start")"
}
install_provider random "$RANDOM_PLUGIN_VERSION" \
  github.com/pulumi/pulumi-random/provider/v4/pkg/version.Version prepare_random

# 4. The Kubernetes provider, built from the Go module proxy by tools/provider-kubernetes/build.sh
#    (the npm SDK @pulumi/kubernetes asks the engine for exactly KUBERNETES_PLUGIN_VERSION). Last:
#    it is the longest build, and only the streaming platform needs it.
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

# 5. The lab's real Kubernetes control plane, started in the background at the top (see there):
#    wait for it, and show its log if it failed.
if ! wait "$control_plane_pid"; then
  echo "toolchain.sh: the control-plane build failed; its log ($control_plane_log):" >&2
  tail -n 40 "$control_plane_log" >&2
  exit 1
fi
cat "$control_plane_log"

printf 'toolchain ready in %ss (pulumi v%s; PULUMI_HOME=%s)\n' \
  "$(seconds_since "$total_start")" "$PULUMI_VERSION" "${out#"$repo"/}/pulumi-home"
