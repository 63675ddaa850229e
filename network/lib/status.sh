# What the instance looks like: endpoints and health per hospital.
# Sourced, never executed.
# shellcheck shell=bash

live_peer_hospital() {
  local h
  for h in $(local_hospitals); do
    if is_running "$(hospital_name "$h")-peer"; then echo "$h"; return 0; fi
  done
  die "no peer is running; run: network/network.sh up"
}

running_word() { if is_running "$1"; then echo running; else echo stopped; fi; }

# custody_json <h>: the gateway's custody outbox summary (custody-status.json, written by
# the gateway beside its events checkpoint), or null before the gateway wrote one.
custody_json() {
  local f; f="$(hospital_dir "$1")/gateway/state/custody-status.json"
  if [[ -r "$f" ]] && jq -e . "$f" >/dev/null 2>&1; then jq -c '{queued, retrying, inFlight, oldestAgeSeconds, deliveriesByGrantee, updatedAt}' "$f"; else echo null; fi
}

# custody_line <h>: one line for the summary: queued, failing, oldest age, the grantees waited for.
custody_line() {
  local c; c=$(custody_json "$1")
  if [[ "$c" == null ]]; then echo "no outbox yet"; return 0; fi
  jq -r '"\(.queued) queued, \(.retrying) failing, oldest \(.oldestAgeSeconds | floor) s"
    + (if (.deliveriesByGrantee | length) > 0 then ", deliveries waiting for " + ([.deliveriesByGrantee | to_entries[] | "\(.key): \(.value)"] | join(", ")) else "" end)
    + " (as of \(.updatedAt))"' <<<"$c"
}

hospital_json() {
  local h=$1 n; n=$(hospital_name "$h")
  local host; host=$(hospital_host "$h")
  jq -n --arg name "$n" --arg msp "$(hospital_msp "$h")" \
    --arg gateway "$(gateway_url "$h")" --arg gwState "$(running_word "${n}-gateway")" \
    --arg peer "$(endpoint "$h" "$OFF_PEER")" --arg peerState "$(running_word "${n}-peer")" \
    --arg peerOps "$(peer_ops_url "$h")" --arg peerTls "$(peer_tls_name "$h")" \
    --arg orderer "$(endpoint "$h" "$OFF_ORDERER")" --arg ordererState "$(running_word "${n}-orderer")" \
    --arg ordererOps "$(orderer_ops_url "$h")" --arg caOps "$(ca_ops_url "$h")" \
    --arg admCert "$(admin_client_cert "$h")" --arg admKey "$(admin_client_key "$h")" \
    --arg admCa "$(hospital_tls_root "$h")" --arg admIssuer "$(admin_tls_ca "$h")" \
    --arg ordererAdmin "$(endpoint "$h" "$OFF_ORDERER_ADMIN")" \
    --arg ca "https://$(endpoint "$h" "$OFF_CA")" --arg caState "$(running_word "${n}-ca")" \
    --arg caName "ca-${n}" --arg kubo "$(kubo_api "$h")" \
    --arg kuboState "$(running_word "${n}-kubo")" --arg swarm "/ip4/${host}/tcp/$(port "$h" "$OFF_KUBO_SWARM")" \
    --arg clusterRest "http://${host}:$(port "$h" "$OFF_CLUSTER_REST")" \
    --arg clusterState "$(running_word "${n}-cluster")" --argjson clusterPeers "$(cluster_peer_count "$h")" \
    --arg dir "$(hospital_dir "$h")" --argjson custody "$(custody_json "$h")" \
    '{name: $name, mspId: $msp, gatewayUrl: $gateway, stateDir: $dir, custody: $custody,
      gateway: {url: $gateway, state: $gwState},
      peer: {endpoint: $peer, tlsServerName: $peerTls, operations: $peerOps, state: $peerState},
      orderer: {endpoint: $orderer, admin: $ordererAdmin, operations: $ordererOps, state: $ordererState},
      ca: {url: $ca, name: $caName, operations: $caOps, state: $caState},
      adminTls: {cert: $admCert, key: $admKey, ca: $admCa, issuer: $admIssuer},
      kubo: {rpc: $kubo, swarm: $swarm, state: $kuboState},
      cluster: {rest: $clusterRest, state: $clusterState, peersSeen: $clusterPeers}}'
}

status_json() {
  local h seq docs=()
  seq=$(current_sequence)
  for h in $(local_hospitals); do docs+=("$(hospital_json "$h")"); done
  printf '%s\n' "${docs[@]}" | jq -s --arg instance "$INSTANCE" --arg channel "$CHANNEL_NAME" \
    --arg cc "$CHAINCODE_NAME" --arg seq "${seq:-0}" --arg state "$STATE_DIR" --argjson base "$PORT_BASE" \
    --argjson rss "$(instance_memory | cut -d' ' -f1)" \
    '{instance: $instance, portBase: $base, stateDir: $state, channel: $channel, residentMemoryMb: $rss,
      chaincode: {name: $cc, sequence: ($seq | tonumber)}, hospitals: .}'
}

# Resident memory of the instance's running processes, in MB, and how many there are.
instance_memory() {
  local pf kb total=0 count=0
  for pf in "${RUN_DIR}"/*.pid; do
    [[ -e "$pf" ]] || continue
    kb=$(awk '/^VmRSS/ {print $2}' "/proc/$(cat "$pf")/status" 2>/dev/null) || continue
    [[ -n "$kb" ]] || continue
    total=$((total + kb))
    count=$((count + 1))
  done
  echo "$((total / 1024)) ${count}"
}

print_summary() {
  local h n
  echo
  echo "EHR consortium instance '${INSTANCE}': channel ${CHANNEL_NAME}, chaincode ${CHAINCODE_NAME} sequence $(current_sequence)"
  echo "state and logs: ${STATE_DIR}"
  local mem; read -r -a mem <<<"$(instance_memory)"
  echo "memory: ${mem[0]} MB resident in ${mem[1]} processes"
  for h in $(local_hospitals); do
    n=$(hospital_name "$h")
    local host; host=$(hospital_host "$h")
    printf '  %s (%s)\n' "$n" "$(hospital_msp "$h")"
    printf '    gateway   %s  [%s]\n' "$(gateway_url "$h")" "$(running_word "${n}-gateway")"
    printf '    custody   %s\n' "$(custody_line "$h")"
    printf '    peer      %s  [%s]\n' "$(endpoint "$h" "$OFF_PEER")" "$(running_word "${n}-peer")"
    printf '    orderer   %s  [%s]\n' "$(endpoint "$h" "$OFF_ORDERER")" "$(running_word "${n}-orderer")"
    printf '    ca        https://%s  [%s]\n' "$(endpoint "$h" "$OFF_CA")" "$(running_word "${n}-ca")"
    printf '    kubo rpc  %s  [%s]\n' "$(kubo_api "$h")" "$(running_word "${n}-kubo")"
    printf '    cluster   http://%s:%s  [%s, sees %s peers]\n' "$host" "$(port "$h" "$OFF_CLUSTER_REST")" \
      "$(running_word "${n}-cluster")" "$(cluster_peer_count "$h")"
  done
  local cli="network/network.sh" on="" first
  [[ "$INSTANCE" == dev ]] || on=" --instance ${INSTANCE}"
  first=$(hospital_name "$(local_hospitals | head -n1)")
  echo
  echo "Next steps (each line is one command):"
  local lines=(
    "${cli} token ${first} dr-alice clinician${on}" "a token for ${first}'s gateway"
    "${cli} status${on}" "this summary again (--json for scripts)"
    "${cli} logs ${first}-peer${on}" "a component's log ('logs --help' lists them)"
    "${cli} down${on}" "stop every process, keep the data"
  )
  local i width=0
  for ((i = 0; i < ${#lines[@]}; i += 2)); do ((${#lines[i]} <= width)) || width=${#lines[i]}; done
  for ((i = 0; i < ${#lines[@]}; i += 2)); do printf "  %-${width}s   # %s\n" "${lines[i]}" "${lines[i + 1]}"; done
}

# built_since <dir> <pid-file>: whether any file under dir is newer than the
# process that pid file belongs to (written when the process started).
built_since() { [[ -d "$1" && -f "$2" && -n "$(find "$1" -type f -newer "$2" -print -quit 2>/dev/null)" ]]; }

# report_running_code: a running process keeps the code it was started with;
# names what was rebuilt since and what picks the new code up.
report_running_code() {
  local h n seq stale_cc=() stale_gw=() on=""
  [[ "$INSTANCE" == dev ]] || on=" --instance ${INSTANCE}"
  local model="${PROJECT_DIR}/ledger-model/dist"
  seq=$(current_sequence)
  for h in $(local_hospitals); do
    n=$(hospital_name "$h")
    local cc; cc=$(pid_file "${n}-chaincode-s${seq}")
    if built_since "${CHAINCODE_DIR}/dist" "$cc" || built_since "$model" "$cc"; then stale_cc+=("${n}-chaincode-s${seq}"); fi
    local gw; gw=$(pid_file "${n}-gateway")
    if built_since "${GATEWAY_DIR}/dist" "$gw" || built_since "$model" "$gw"; then stale_gw+=("${n}-gateway"); fi
  done
  if ((${#stale_cc[@]} == 0 && ${#stale_gw[@]} == 0)); then
    log "its processes run the code they were started with; nothing was rebuilt since"
    return 0
  fi
  warn "its processes still run the code they were started with, not the code built since:"
  ((${#stale_cc[@]} == 0)) || log "  chaincode rebuilt after ${stale_cc[*]} started; to run it: network/network.sh deploy-chaincode${on}"
  if ((${#stale_gw[@]})); then
    log "  gateways rebuilt after ${stale_gw[*]} started; to run them, restart them:"
    log "    network/network.sh stop ${stale_gw[*]}${on}"
    log "    network/network.sh up${on}"
  fi
  log "  or restart everything: network/network.sh down${on}, then network/network.sh up${on}"
}
