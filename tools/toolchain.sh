# Sourced by test.sh and .ci/run: puts Deno 2.9 and Bun 1.4 on PATH,
# installing them from the npm registry into .tools/ when missing.
DENO_VERSION=2.9.6
BUN_VERSION=1.4.5
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$root/.tools/node_modules/.bin:$PATH"
have() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"; }
# Without the runtimes no test runs: say so in the total line CI reads.
fail() { echo "$1" >&2; echo "0 passed, 1 failed"; exit 1; }
if ! have deno "deno ${DENO_VERSION%.*}" || ! have bun "^${BUN_VERSION%.*}"; then
  echo "installing deno@$DENO_VERSION and bun@$BUN_VERSION into .tools/ (npm registry)" >&2
  npm install --silent --no-save --no-package-lock --prefix "$root/.tools" \
    "deno@$DENO_VERSION" "bun@$BUN_VERSION" >&2 || fail "npm install of deno and bun failed"
fi
have deno "deno ${DENO_VERSION%.*}" || fail "deno $DENO_VERSION is not usable"
have bun "^${BUN_VERSION%.*}" || fail "bun $BUN_VERSION is not usable"
