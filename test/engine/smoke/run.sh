#!/usr/bin/env bash
# End-to-end smoke test of the project-local toolchain (tools/toolchain.sh must have run):
# real Pulumi CLI + stand-in Node.js language host + the SDK's TypeScript run path, against a
# throwaway file backend. Nothing in the repository changes: the program is copied to a temporary
# directory whose node_modules is a symlink to the repository's.
#
#   test/engine/smoke/run.sh            prints each check and a closing "N passed, M failed" line
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
src="$repo/test/engine/smoke"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/program" "$work/state"
cp "$src/Pulumi.yaml" "$src/package.json" "$src/tsconfig.json" "$src/index.ts" "$work/program/"
ln -s "$repo/node_modules" "$work/program/node_modules"

export PULUMI_BACKEND_URL="file://$work/state"
export PULUMI_CONFIG_PASSPHRASE="smoke-test-passphrase-not-a-secret"
unset PULUMI_CONFIG_PASSPHRASE_FILE

passed=0 failed=0
ok() { echo "ok   - $1"; passed=$((passed + 1)); }
not_ok() {
  echo "FAIL - $1"
  sed 's/^/    | /' "$work/out" | tail -40
  failed=$((failed + 1))
}
# p <args...>: run tools/pulumi in the program directory; output in $work/out, status in $rc.
p() {
  "$repo/tools/pulumi" --cwd "$work/program" --non-interactive "$@" >"$work/out" 2>&1
  rc=$?
}
expect() { # <description> <want: 0|nonzero> [grep pattern that must appear]...
  local what="$1" want="$2"
  shift 2
  if [[ "$want" == 0 && $rc -ne 0 ]] || [[ "$want" == nonzero && $rc -eq 0 ]]; then
    not_ok "$what (exit $rc)"
    return
  fi
  local pat
  for pat in "$@"; do
    if ! grep -q -- "$pat" "$work/out"; then
      not_ok "$what (output lacks '$pat')"
      return
    fi
  done
  ok "$what"
}

# The wrapper refuses to run without a passphrase and says why.
env -u PULUMI_CONFIG_PASSPHRASE "$repo/tools/pulumi" --cwd "$work/program" stack ls >"$work/out" 2>&1
rc=$?
if [[ $rc -eq 2 ]] && grep -q PULUMI_CONFIG_PASSPHRASE "$work/out"; then
  ok "tools/pulumi without a passphrase exits 2 with a clear message"
else
  not_ok "tools/pulumi without a passphrase exits 2 with a clear message (exit $rc)"
fi

p version
expect "pulumi version" 0 "v3\."

p stack init smoke
expect "stack init" 0
p config set name world
expect "config set" 0
p config set --secret token s3cr3t-smoke-value
expect "config set --secret" 0

p preview
expect "preview" 0 "hello, world" "1 to create"
p up --yes
expect "up --yes" 0 "1 created"
p up --yes --expect-no-changes
expect "second up --yes: no changes" 0 "1 unchanged"

p stack output greeting
expect "stack output greeting" 0 "^hello, world$"
p stack output --show-secrets tokenLength
expect "secret config reaches the program (tokenLength)" 0 "^18$"
if grep -rq "s3cr3t-smoke-value" "$work/state" "$work/program/Pulumi.smoke.yaml"; then
  echo "FAIL - the secret is stored in plain text"
  failed=$((failed + 1))
else
  ok "the secret is encrypted in the stack config and the state"
fi

p config set x bad
p preview
expect "a throwing program fails preview with its message" nonzero "config key x is bad"
if grep -q "Program exited with non-zero exit code" "$work/out"; then
  not_ok "no extra language-host error after the SDK reported the error"
else
  ok "no extra language-host error after the SDK reported the error"
fi
p config rm x

p destroy --yes
expect "destroy --yes" 0 "1 deleted"
p stack rm --yes smoke
expect "stack rm" 0

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
