#!/usr/bin/env bash
# `npm test`: lint, unit tests, then integration and end-to-end tests against a
# network instance of their own ('test', port base 17000), which the Jest
# global setup brings up and the global teardown removes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${ROOT}/network/lib/common.sh"

bash "${ROOT}/scripts/prepare.sh"
# shellcheck source=../network/lib/toolchain.sh
source "${ROOT}/network/lib/toolchain.sh"
use_toolchain
cd "$ROOT"
log "node $(node --version) (the pinned LTS, network/versions.env)"
log "lint"
npx eslint .
# ts-jest compiles tests without failing on type errors: the gateway's tests are type-checked here.
log "type-check the gateway's tests"
npx tsc --noEmit -p gateway/tsconfig.test.json
export NODE_OPTIONS=--experimental-vm-modules
results=$(mktemp -d)
log "unit tests (ledger-model, chaincode, gateway)"
npx jest --selectProjects ledger-model chaincode gateway --json --outputFile "${results}/unit.json" "$@"
log "integration and end-to-end tests (their own network instance)"
npx jest --selectProjects integration --runInBand --json --outputFile "${results}/integration.json" "$@"
# One plain closing line over both runs.
jq -s -r '"\(map(.numPassedTests) | add) passed, \(map(.numFailedTests) | add) failed"' "${results}"/*.json
rm -rf "$results"
