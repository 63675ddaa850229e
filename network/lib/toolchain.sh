# Where the pinned binaries live. Sourced, never executed.
# shellcheck shell=bash

_toolchain_network_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../versions.env
source "${_toolchain_network_dir}/versions.env"

TOOLS_CACHE="${EHR_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ehr-consortium/tools}"

fabric_dir() { echo "${TOOLS_CACHE}/fabric-${FABRIC_VERSION}"; }
fabric_ca_dir() { echo "${TOOLS_CACHE}/fabric-ca-${FABRIC_CA_VERSION}"; }
kubo_dir() { echo "${TOOLS_CACHE}/kubo-${KUBO_VERSION}"; }
ipfs_cluster_dir() { echo "${TOOLS_CACHE}/ipfs-cluster-${IPFS_CLUSTER_VERSION}"; }
node_dir() { echo "${TOOLS_CACHE}/node-${NODE_VERSION}"; }
# Fabric's own ccaas builder is a nested Go module that the module proxy does
# not serve, so the project ships its own implementation of the external
# builder contract (detect/build/release) in network/ccaas-builder.
ccaas_builder_dir() { echo "${_toolchain_network_dir}/ccaas-builder"; }

tool_ready() { [[ -f "$1/.complete" ]]; }
mark_ready() { date -u +%FT%TZ >"$1/.complete"; }

toolchain_dirs() { printf '%s\n' "$(fabric_dir)" "$(fabric_ca_dir)" "$(kubo_dir)" "$(ipfs_cluster_dir)" "$(node_dir)"; }

# Puts the pinned binaries first on PATH; fails with the fix if any is missing.
use_toolchain() {
  local d
  while read -r d; do
    tool_ready "$d" || die "pinned toolchain missing at ${d}; run: network/install.sh"
    PATH="${d}/bin:${PATH}"
  done < <(toolchain_dirs)
  # npm builds native add-ons (e.g. fabric-gateway's optional pkcs11js) against the
  # pinned Node's own headers, not whatever Node the machine has.
  npm_config_nodedir="$(node_dir)"
  export PATH npm_config_nodedir
}

# The pinned node, for commands that need no other tool (e.g. minting a token).
node_bin() {
  tool_ready "$(node_dir)" || die "pinned Node missing at $(node_dir); run: network/install.sh"
  echo "$(node_dir)/bin/node"
}

toolchain_missing_report() {
  local d missing=0
  while read -r d; do
    if tool_ready "$d"; then echo "ok       ${d}"; else echo "missing  ${d}"; missing=1; fi
  done < <(toolchain_dirs)
  return "$missing"
}

toolchain_summary() {
  local d
  while read -r d; do
    echo "  $(basename "$d"): $(ls "${d}/bin" | tr '\n' ' ')"
  done < <(toolchain_dirs)
  echo "  ccaas builder: $(ccaas_builder_dir)"
}
