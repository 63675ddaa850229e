#!/usr/bin/env bash
# Shared by `npm start` and `npm test`: toolchain, dependencies, build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${ROOT}/network/lib/common.sh"

bash "${ROOT}/network/install.sh"
cd "$ROOT"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi
log "building chaincode and gateway"
npm run build --silent
