# The application channel: genesis block, orderers joined with osnadmin, peers joined.
# Sourced, never executed.
# shellcheck shell=bash

genesis_block() { echo "${CONSORTIUM_DIR}/${CHANNEL_NAME}.block"; }

create_genesis_block() {
  [[ -s "$(genesis_block)" ]] && return 0
  local vars=(BATCH_TIMEOUT="${EHR_BATCH_TIMEOUT:-250ms}") h
  for h in $(hospitals); do
    vars+=("H${h}_MSP_DIR=$(hospital_dir "$h")/msp" "H${h}_HOST=$(hospital_host "$h")"
      "H${h}_ORDERER=$(endpoint "$h" "$OFF_ORDERER")" "H${h}_ORDERER_PORT=$(port "$h" "$OFF_ORDERER")"
      "H${h}_PEER_PORT=$(port "$h" "$OFF_PEER")" "H${h}_ORDERER_TLS=$(hospital_dir "$h")/orderer/tls/server.crt")
  done
  render configtx.yaml.tmpl "${CONSORTIUM_DIR}/configtx/configtx.yaml" "${vars[@]}"
  FABRIC_CFG_PATH="${CONSORTIUM_DIR}/configtx" configtxgen -profile EhrChannel -channelID "$CHANNEL_NAME" \
    -outputBlock "$(genesis_block)" >>"$(log_file configtxgen)" 2>&1 ||
    die "configtxgen failed; see $(log_file configtxgen)"
  log "channel ${CHANNEL_NAME}: genesis block created"
}

# The orderer's admin API trusts client certificates of the hospital's admin TLS
# CA only (network/lib/keys.sh), not the hospital CA's.
osnadmin_cli() {
  local h=$1 hd
  shift
  hd=$(hospital_dir "$h")
  osnadmin channel "$@" -o "$(endpoint "$h" "$OFF_ORDERER_ADMIN")" --ca-file "${hd}/orderer/tls/ca.crt" \
    --client-cert "$(admin_client_cert "$h")" --client-key "$(admin_client_key "$h")"
}

orderer_admin_answers() { osnadmin_cli "$1" list 2>/dev/null | grep -q '^Status: 200'; }

orderer_has_channel() { osnadmin_cli "$1" list --channelID "$CHANNEL_NAME" 2>/dev/null | grep -q '^Status: 200'; }

join_orderer() {
  local h=$1
  # An orderer restarted after a crash answers /healthz before its admin API lists
  # channels; deciding "not joined" from a list that failed would try a join that
  # fails, since the channel exists in its ledger.
  wait_until "$(hospital_name "$h")-orderer's admin API to answer" 60 orderer_admin_answers "$h" ||
    die "orderer admin API of $(hospital_name "$h") does not answer; see $(log_file "$(hospital_name "$h")-orderer")"
  orderer_has_channel "$h" && return 0
  if ! osnadmin_cli "$h" join --channelID "$CHANNEL_NAME" --config-block "$(genesis_block)" >>"$(log_file osnadmin)" 2>&1; then
    orderer_has_channel "$h" ||
      die "orderer of $(hospital_name "$h") could not join ${CHANNEL_NAME}; see $(log_file osnadmin)"
    return 0
  fi
  log "$(hospital_name "$h")-orderer: joined ${CHANNEL_NAME}"
}

orderer_channel_active() {
  osnadmin_cli "$1" list --channelID "$CHANNEL_NAME" 2>/dev/null | sed -n '/^{/,$p' | jq -e '.status == "active"' >/dev/null
}

peer_has_channel() { peer_cli "$1" channel list 2>/dev/null | grep -qx "$CHANNEL_NAME"; }

peer_answers() { peer_cli "$1" channel list >/dev/null 2>&1; }

join_peer() {
  local h=$1
  # A peer resuming after `down` answers /healthz before its gRPC service takes
  # channel queries; deciding "not joined" from a query that failed would try a
  # join that fails, since the ledger exists.
  wait_until "$(hospital_name "$h")-peer to answer channel queries" 60 peer_answers "$h" ||
    die "peer of $(hospital_name "$h") does not answer channel queries; see $(log_file "$(hospital_name "$h")-peer")"
  peer_has_channel "$h" && return 0
  if ! peer_cli "$h" channel join -b "$(genesis_block)" >>"$(log_file peer-cli)" 2>&1; then
    peer_has_channel "$h" ||
      die "peer of $(hospital_name "$h") could not join ${CHANNEL_NAME}; see $(log_file peer-cli)"
    return 0
  fi
  log "$(hospital_name "$h")-peer: joined ${CHANNEL_NAME}"
}

channel_height() { peer_cli "$1" channel getinfo -c "$CHANNEL_NAME" 2>/dev/null | sed -n 's/^Blockchain info: //p' | jq -r .height; }
