#!/usr/bin/env bash
# `npm start`: everything a fresh machine needs to run the dev consortium:
# the pinned toolchain, the npm dependencies, the build, then `network.sh up`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${ROOT}/network/lib/common.sh"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  cat <<'EOF2'
Usage: npm start [-- network.sh options]
Builds the pinned toolchain (first run only), installs npm dependencies, builds
the chaincode and gateway, and brings up the 'dev' instance (port base 7000).
Extra arguments go to 'network.sh up', e.g. npm start -- --instance demo --port-base 9000

On an instance that is already running, a second 'npm start' rebuilds the code
but starts nothing: the running processes keep the code they were started
with. 'up' then names what was rebuilt since and what picks it up:
  network/network.sh deploy-chaincode          the chaincode, as the next sequence
  network/network.sh stop hospital<n>-gateway ... ; network/network.sh up
                                               the gateways
  network/network.sh down ; network/network.sh up
                                               everything
EOF2
  exit 0
fi

# Check up's arguments before the (slow) build, so a mistyped option fails at once.
EHR_CHECK_ARGS_ONLY=1 bash "${ROOT}/network/network.sh" up "$@"
bash "${ROOT}/scripts/prepare.sh"
exec bash "${ROOT}/network/network.sh" up "$@"
