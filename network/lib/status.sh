# What the instance looks like: endpoints and health per hospital.
# Sourced, never executed.
# shellcheck shell=bash

live_peer_hospital() {
  local h
  for h in $(hospitals); do
    if is_running "$(hospital_name "$h")-peer"; then echo "$h"; return 0; fi
  done
  die "no peer is running; run: network/network.sh up"
}

running_word() { if is_running "$1"; then echo running; else echo stopped; fi; }

hospital_json() {
  local h=$1 n; n=$(hospital_name "$h")
  local host; host=$(hospital_host "$h")
  jq -n --arg name "$n" --arg msp "$(hospital_msp "$h")" \
    --arg gateway "http://${host}:$(port "$h" "$OFF_GATEWAY")" --arg gwState "$(running_word "${n}-gateway")" \
    --arg peer "$(endpoint "$h" "$OFF_PEER")" --arg peerState "$(running_word "${n}-peer")" \
    --arg peerOps "http://${host}:$(port "$h" "$OFF_PEER_OPS")" --arg peerTls "$(peer_tls_name "$h")" \
    --arg orderer "$(endpoint "$h" "$OFF_ORDERER")" --arg ordererState "$(running_word "${n}-orderer")" \
    --arg ordererAdmin "$(endpoint "$h" "$OFF_ORDERER_ADMIN")" \
    --arg ca "https://$(endpoint "$h" "$OFF_CA")" --arg caState "$(running_word "${n}-ca")" \
    --arg caName "ca-${n}" --arg kubo "http://${host}:$(port "$h" "$OFF_KUBO_API")" \
    --arg kuboState "$(running_word "${n}-kubo")" --arg swarm "/ip4/${host}/tcp/$(port "$h" "$OFF_KUBO_SWARM")" \
    --arg clusterRest "http://${host}:$(port "$h" "$OFF_CLUSTER_REST")" \
    --arg clusterProxy "http://${host}:$(port "$h" "$OFF_CLUSTER_PROXY")" \
    --arg clusterState "$(running_word "${n}-cluster")" --argjson clusterPeers "$(cluster_peer_count "$h")" \
    --arg dir "$(hospital_dir "$h")" \
    '{name: $name, mspId: $msp, gatewayUrl: $gateway, stateDir: $dir,
      gateway: {url: $gateway, state: $gwState},
      peer: {endpoint: $peer, tlsServerName: $peerTls, operations: $peerOps, state: $peerState},
      orderer: {endpoint: $orderer, admin: $ordererAdmin, state: $ordererState},
      ca: {url: $ca, name: $caName, state: $caState},
      kubo: {rpc: $kubo, swarm: $swarm, state: $kuboState},
      cluster: {rest: $clusterRest, proxy: $clusterProxy, state: $clusterState, peersSeen: $clusterPeers}}'
}

status_json() {
  local h seq docs=()
  seq=$(current_sequence)
  for h in $(hospitals); do docs+=("$(hospital_json "$h")"); done
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
  for h in $(hospitals); do
    n=$(hospital_name "$h")
    local host; host=$(hospital_host "$h")
    printf '  %s (%s)\n' "$n" "$(hospital_msp "$h")"
    printf '    gateway   http://%s:%s  [%s]\n' "$host" "$(port "$h" "$OFF_GATEWAY")" "$(running_word "${n}-gateway")"
    printf '    peer      %s  [%s]\n' "$(endpoint "$h" "$OFF_PEER")" "$(running_word "${n}-peer")"
    printf '    orderer   %s  [%s]\n' "$(endpoint "$h" "$OFF_ORDERER")" "$(running_word "${n}-orderer")"
    printf '    ca        https://%s  [%s]\n' "$(endpoint "$h" "$OFF_CA")" "$(running_word "${n}-ca")"
    printf '    kubo rpc  http://%s:%s  [%s]\n' "$host" "$(port "$h" "$OFF_KUBO_API")" "$(running_word "${n}-kubo")"
    printf '    cluster   http://%s:%s (proxy :%s)  [%s, sees %s peers]\n' "$host" "$(port "$h" "$OFF_CLUSTER_REST")" \
      "$(port "$h" "$OFF_CLUSTER_PROXY")" "$(running_word "${n}-cluster")" "$(cluster_peer_count "$h")"
  done
  echo
  echo "next: network/network.sh token hospital1 dr-alice clinician   # a token for hospital1's gateway"
  echo "      network/network.sh status --json | network/network.sh down | network/network.sh logs <component>"
}
