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
Extra arguments go to network.sh, e.g. npm start -- --instance demo --port-base 9000
EOF2
  exit 0
fi

bash "${ROOT}/scripts/prepare.sh"
exec bash "${ROOT}/network/network.sh" "$@" up
