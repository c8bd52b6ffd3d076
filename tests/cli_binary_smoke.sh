#!/usr/bin/env bash
# Smoke test of the standalone `strata` binary: builds it with
# `bun build --compile` into a temporary directory, then runs every command
# against it. Prints one line per check and ends with "N passed, N failed";
# exits non-zero when a check fails (or the build does).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Where tools/toolchain.sh installs bun when the system has none.
export PATH="$root/.tools/node_modules/.bin:$PATH"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bin="$work/strata"
db="$work/db"
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1${2:+: $2}"; }

# check NAME EXPECTED_STATUS COMMAND... : runs the command, keeps its output
# in $out / $err, and checks its exit status.
check() {
  local name="$1" want="$2"
  shift 2
  "$@" >"$work/out" 2>"$work/err"
  local got=$?
  out="$(cat "$work/out")"
  err="$(cat "$work/err")"
  if [ "$got" -eq "$want" ]; then
    return 0
  fi
  fail "$name" "exit $got, expected $want; stderr: $(head -c 300 "$work/err")"
  return 1
}

# expect NAME PATTERN: $out matches the extended regex PATTERN.
expect() {
  if grep -Eq -- "$2" <<<"$out"; then pass "$1"; else fail "$1" "output: $(head -c 300 <<<"$out")"; fi
}

if ! command -v bun >/dev/null 2>&1; then
  fail "bun is on PATH"
  echo "$passed passed, $failed failed"
  exit 1
fi
if (cd "$root" && bun build --compile cli.ts --outfile "$bin") >"$work/build.log" 2>&1 && [ -x "$bin" ]; then
  pass "bun build --compile ($(wc -c <"$bin" | tr -d ' ') bytes)"
else
  fail "bun build --compile" "$(tail -5 "$work/build.log")"
  echo "$passed passed, $failed failed"
  exit 1
fi
cd "$work" || exit 1

check "--version" 0 "$bin" --version && expect "--version" "^strata [0-9]+\.[0-9]+\.[0-9]+$"
check "--help" 0 "$bin" --help && expect "--help lists commands" "^  bench "
check "help scan" 0 "$bin" help scan && expect "help scan" "^Usage: strata scan <dir>"

check "put" 0 "$bin" put "$db" greeting "hello world" --sync && pass "put"
check "get" 0 "$bin" get "$db" greeting && expect "get prints the value" "^hello world$"
check "put --hex" 0 "$bin" put "$db" --hex 00ff 80c3 && pass "put --hex"
check "get --hex" 0 "$bin" get "$db" --hex 00ff && expect "get --hex" "^80c3$"
"$bin" put "$db" gone soon >/dev/null 2>&1
check "delete" 0 "$bin" delete "$db" gone && pass "delete"

if check "missing key exits 1" 1 "$bin" get "$db" gone; then
  if grep -q "^strata: NotFoundError: key not found: gone$" <<<"$err"; then
    pass "missing key exits 1"
  else
    fail "missing key exits 1" "stderr: $err"
  fi
fi
if check "usage error exits 2" 2 "$bin" scan "$db" --bogus; then
  if [ "$(wc -l <<<"$err")" -eq 1 ] && grep -q "unknown option '--bogus'" <<<"$err" && [ -z "$out" ]; then
    pass "usage error exits 2 (one line, no stack)"
  else
    fail "usage error exits 2" "stderr: $err"
  fi
fi
check "unknown command exits 2" 2 "$bin" frobnicate && pass "unknown command exits 2"

check "scan" 0 "$bin" scan "$db" &&
  expect "scan prints key<TAB>value with escapes" $'^\\\\x00\\\\xff\t\\\\x80\\\\xc3$'
check "scan --json" 0 "$bin" scan "$db" --json && expect "scan --json" '^\{"key":"greeting","value":"hello world"\}$'
check "scan --hex" 0 "$bin" scan "$db" --hex && expect "scan --hex" $'^6772656574696e67\t68656c6c6f20776f726c64$'
check "scan --prefix --limit --reverse" 0 "$bin" scan "$db" --prefix g --limit 1 --reverse &&
  expect "scan --prefix --limit --reverse" $'^greeting\thello world$'

for i in $(seq 1 500); do printf '{"key":"k%05d","value":"value-%d"}\n' "$i" "$i"; done >"$work/in.jsonl"
check "import" 0 "$bin" import "$db" "$work/in.jsonl" && expect "import" "^imported 500 entries"
check "export" 0 "$bin" export "$db" && expect "export" '^\{"key":"k00500","value":"value-500"\}$'
if [ "$(grep -c . <<<"$out")" -eq 502 ]; then pass "export writes every entry"; else fail "export writes every entry" "$(grep -c . <<<"$out") lines"; fi
"$bin" export "$db" --hex >"$work/hex.jsonl" 2>/dev/null
check "import --hex" 0 "$bin" import "$work/db2" "$work/hex.jsonl" --hex && expect "import --hex" "^imported 502 entries"

check "flush" 0 "$bin" flush "$db" && pass "flush"
check "stats" 0 "$bin" stats "$db" && expect "stats shows levels" "^L0 +[0-9]+ "
check "stats --json" 0 "$bin" stats "$db" --json && expect "stats --json" '^\{"levels":\[\{"level":0,'
check "compact" 0 "$bin" compact "$db" && expect "compact" "^compacted "
check "verify" 0 "$bin" verify "$db" && expect "verify clean" "no damage$"

# Opening a database writes a new manifest: look for files after the last open.
"$bin" put "$db" in-the-wal yes >/dev/null 2>&1
table="$(ls "$db"/*.sst | head -1)"
manifest="$(ls "$db"/MANIFEST-* | head -1)"
wal="$(ls "$db"/*.log | head -1)"
check "dump table" 0 "$bin" dump "$table" && expect "dump table" "^index: +offset [0-9]+, size [0-9]+"
check "dump --entries" 0 "$bin" dump "$table" --entries && expect "dump --entries" ' PUT "value-1"$'
check "dump wal" 0 "$bin" dump "$wal" && expect "dump wal" '^    PUT "in-the-wal" = "yes"$'
check "dump manifest" 0 "$bin" dump "$manifest" && expect "dump manifest" '^@8 \{'

cp "$table" "$work/table.bak"
# Bytes 10..13 lie in the first data block and hold text, never these.
printf '\x00\xff\x00\xff' | dd of="$table" bs=1 seek=10 conv=notrunc status=none
if check "verify detects a flipped byte" 1 "$bin" verify "$db"; then
  if grep -q "$(basename "$table")" <<<"$err$out"; then pass "verify detects a flipped byte"; else fail "verify names the file" "$err"; fi
fi
cp "$work/table.bak" "$table"

check "bench" 0 "$bin" bench --num 2000 && expect "bench prints db_bench lines" "^fillseq +: +[0-9.]+ micros/op; +[0-9]+ ops/sec;"
check "bench --json" 0 "$bin" bench --num 2000 --workloads fillrandom,readrandom --json &&
  expect "bench --json" '"name":"readrandom"'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
