#!/usr/bin/env bash
# Shared by `npm start` and `npm test`: toolchain, dependencies, build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${ROOT}/network/lib/common.sh"

bash "${ROOT}/network/install.sh"
# shellcheck source=../network/lib/toolchain.sh
source "${ROOT}/network/lib/toolchain.sh"
# npm, the build and everything after run on the pinned Node LTS.
use_toolchain
cd "$ROOT"
runtime_stamp="node_modules/.ehr-node-version"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "installing npm dependencies"
  # Not `npm ci`: npm 11 leaves other platforms' optional bindings (e.g. @unrs/*)
  # out of the lock file and then refuses it as out of sync; `npm install`
  # still installs the locked versions.
  npm install --no-audit --no-fund --loglevel=error
  node --version >"$runtime_stamp"
fi
# Native add-ons (fabric-gateway's optional pkcs11js) are built for one Node ABI:
# dependencies installed under another Node are rebuilt for the pinned one.
if [[ "$(cat "$runtime_stamp" 2>/dev/null)" != "$(node --version)" ]]; then
  log "rebuilding native npm add-ons for node $(node --version)"
  npm rebuild --loglevel=error
  node --version >"$runtime_stamp"
fi
log "building ledger-model, chaincode and gateway (processes already running keep the code they started with; network.sh up says what picks up the new build)"
npm run build --silent
