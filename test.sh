#!/usr/bin/env bash
# Runs every test under Deno and under Bun, then the smoke test of the
# compiled `strata` binary. Needs only Node and npm: Deno and Bun are
# installed from the npm registry when missing. The last line is the total:
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"
source tools/toolchain.sh
reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT

echo "== deno $(deno --version | head -1 | cut -d' ' -f2): deno test"
deno test -A --quiet --reporter=dot --junit-path="$reports/deno.xml" tests/
deno_rc=$?

echo "== bun $(bun --version): bun test"
bun test --timeout 120000 --reporter=junit --reporter-outfile="$reports/bun.xml" ./tests 2>&1 |
  grep -vE '^\s*$' | tail -n 15
bun_rc=${PIPESTATUS[0]}

read -r passed failed < <(node tools/count_junit.mjs "$reports/deno.xml" "$reports/bun.xml")

smoke_rc=0
if [ -f tests/cli_binary_smoke.sh ]; then
  echo "== strata binary (bun build --compile): smoke test"
  out="$(bash tests/cli_binary_smoke.sh 2>&1)"
  smoke_rc=$?
  echo "$out" | tail -n 25
  read -r sp sf < <(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1 | tr -dc '0-9 \n' | awk '{print $1, $2}')
  passed=$((passed + ${sp:-0}))
  failed=$((failed + ${sf:-1}))
fi

echo "deno exit $deno_rc, bun exit $bun_rc, smoke exit $smoke_rc"
if [ "$deno_rc" -ne 0 ] || [ "$bun_rc" -ne 0 ] || [ "$smoke_rc" -ne 0 ]; then
  [ "$failed" -eq 0 ] && failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
