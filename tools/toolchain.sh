# Sourced by test.sh and .ci/run: puts Deno 2.9 and Bun 1.4 on PATH,
# installing them from the npm registry into .tools/ when missing.
DENO_VERSION=2.9.6
BUN_VERSION=1.4.5
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$root/.tools/node_modules/.bin:$PATH"
have() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"; }
if ! have deno "deno ${DENO_VERSION%.*}" || ! have bun "^${BUN_VERSION%.*}"; then
  echo "installing deno@$DENO_VERSION and bun@$BUN_VERSION into .tools/ (npm registry)" >&2
  npm install --silent --no-save --no-package-lock --prefix "$root/.tools" \
    "deno@$DENO_VERSION" "bun@$BUN_VERSION" >&2 || exit 1
fi
have deno "deno ${DENO_VERSION%.*}" || { echo "deno $DENO_VERSION is not usable" >&2; exit 1; }
have bun "^${BUN_VERSION%.*}" || { echo "bun $BUN_VERSION is not usable" >&2; exit 1; }
