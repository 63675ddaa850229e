#!/usr/bin/env bash
# Runs a Node script on the pinned Node LTS (network/versions.env), e.g. the
# bench: `npm run bench` is `bash scripts/node.sh bench/run.mjs`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${ROOT}/network/lib/common.sh"
# shellcheck source=../network/lib/toolchain.sh
source "${ROOT}/network/lib/toolchain.sh"
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" || $# -eq 0 ]]; then
  echo "Usage: scripts/node.sh <script.mjs> [arguments]   runs it on the pinned Node ${NODE_VERSION}"
  exit 0
fi
exec "$(node_bin)" "$@"
