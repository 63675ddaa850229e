#!/usr/bin/env bash
# Shared by `npm start` and `npm test`: toolchain, dependencies, build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${ROOT}/network/lib/common.sh"

bash "${ROOT}/network/install.sh"
cd "$ROOT"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "installing npm dependencies"
  # Not `npm ci`: npm 11 leaves other platforms' optional bindings (e.g. @unrs/*)
  # out of the lock file and then refuses it as out of sync; `npm install`
  # still installs the locked versions.
  npm install --no-audit --no-fund --loglevel=error
fi
log "building ledger-model, chaincode and gateway (processes already running keep the code they started with; network.sh up says what picks up the new build)"
npm run build --silent
