# The hospitals' REST gateways. Sourced, never executed.
# shellcheck shell=bash

GATEWAY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../gateway" && pwd)"

gateways_up() {
  if [[ ! -f "${GATEWAY_DIR}/dist/main.js" ]]; then
    warn "gateway is not built; run: npm run build, then network/network.sh up"
    return 0
  fi
  local h
  for h in $(hospitals); do start_gateway "$h"; done
  for h in $(hospitals); do
    await_ready "$(hospital_name "$h")-gateway" 60 \
      curl -sf "http://$(hospital_host "$h"):$(port "$h" "$OFF_GATEWAY")/health"
  done
}

start_gateway() {
  local h=$1 cfg; cfg="$(hospital_dir "$h")/gateway/config.json"
  write_gateway_config "$h" "$cfg"
  start_process "$(hospital_name "$h")-gateway" "$GATEWAY_DIR" - env EHR_GATEWAY_CONFIG="$cfg" node "${GATEWAY_DIR}/dist/main.js"
}
