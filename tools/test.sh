#!/usr/bin/env bash
# The README's test command: installs what the tests need (Debian packages, npm
# packages, the Pulumi toolchain built from Go modules), then runs every test:
# type check, lint, the plugin pins, unit and render tests, the Go tests, and the suites that
# drive the real Pulumi engine and plugins (with the replay of upstream's recorded gRPC
# traffic), the lab, the load balancer and the streaming stack.
# Ends with one line "N passed, N failed".
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo" || exit 1

step() { printf '\n=== %s\n' "$*"; }

step "install: Debian packages, npm packages, Pulumi toolchain"
bash tools/install-deps.sh || exit 1
bash tools/setup.sh || exit 1
# shellcheck source=env.sh
source tools/env.sh
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"
export TS_NODE_TRANSPILE_ONLY=true

passed=0
failed=0
count() { # <label> <exit code> <pass> <fail>
  passed=$((passed + $3)); failed=$((failed + $4))
  if [[ $2 -ne 0 && $4 -eq 0 ]]; then failed=$((failed + 1)); echo "!!! $1 exited $2 without a failing test: counted as one failure"; fi
}
check() { # <label> <command...>: a check that is one test
  local label="$1"; shift
  step "$label"
  if "$@"; then count "$label" 0 1 0; else count "$label" 1 0 1; fi
}
node_suite() { # <label> <concurrency> <files...>
  local label="$1" conc="$2"; shift 2
  local files=() f
  for f in "$@"; do [[ -e "$f" ]] && files+=("$f"); done
  step "$label (${#files[@]} files)"
  [[ ${#files[@]} -gt 0 ]] || return 0
  local totals rc p fl
  totals=$(mktemp)
  # The spec reporter for the reader, test/kit/countReporter.mjs for the totals (node:test's own events).
  node --require ts-node/register --test --test-concurrency="$conc" \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=./test/kit/countReporter.mjs --test-reporter-destination="$totals" "${files[@]}" 2>&1
  rc=$?
  p=$(node -e 'const t = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(t.passed)' "$totals" 2>/dev/null)
  fl=$(node -e 'const t = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(t.failed)' "$totals" 2>/dev/null)
  rm -f "$totals"
  count "$label" "$rc" "${p:-0}" "${fl:-0}"
}
go_suite() { # <module dir>
  local dir="$1" log rc p fl
  step "go test $dir"
  log=$(mktemp)
  (cd "$dir" && go test -count=1 -v ./... 2>&1) | tee "$log" | grep -E '^(--- |ok|FAIL|PASS)'
  rc=${PIPESTATUS[0]}
  p=$(grep -cE '^\s*--- PASS' "$log"); fl=$(grep -cE '^\s*--- FAIL' "$log")
  rm -f "$log"
  count "go test $dir" "$rc" "$p" "$fl"
}

check "typecheck (tsc --noEmit)" node_modules/.bin/tsc --noEmit -p .
check "lint (eslint with @pulumi/eslint-plugin)" node_modules/.bin/eslint .
check "plugin pins agree with the npm SDKs (tools/check-pins.sh)" bash tools/check-pins.sh
node_suite "unit and render tests" 2 test/unit/*.test.ts test/render/*.test.ts
for mod in test/lab/k3s-standin/ test/lab/systemctl-standin/ test/streaming/viewers/; do
  [[ -f "$mod/go.mod" ]] && ls "$mod"/*_test.go >/dev/null 2>&1 && go_suite "$mod"
done
node_suite "real Pulumi engine tests" 1 test/engine/*.test.ts
node_suite "load balancer tests" 1 test/lb/*.test.ts
node_suite "streaming tests" 1 test/streaming/*.test.ts
node_suite "lab end-to-end tests" 1 test/lab/*.test.ts

echo
echo "${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
