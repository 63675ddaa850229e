# The hospitals' REST gateways. Sourced, never executed.
# shellcheck shell=bash

GATEWAY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../gateway" && pwd)"

gateways_up() {
  if [[ ! -f "${GATEWAY_DIR}/dist/main.js" ]]; then
    warn "gateway is not built; run: npm run build, then network/network.sh up"
    return 0
  fi
  local h
  for h in $(local_hospitals); do start_gateway "$h"; done
  for h in $(local_hospitals); do await_gateway "$h"; done
}

# Ready once /health answers, which is after the gateway has registered (or
# rotated) its encryption key on the ledger. Right after a peer or orderer
# restart under load that registration can wait for a Raft election and a
# catching-up peer, so the bound is generous and configurable.
GATEWAY_READY_TIMEOUT="${EHR_GATEWAY_READY_TIMEOUT:-180}"
await_gateway() {
  [[ "$GATEWAY_READY_TIMEOUT" =~ ^[1-9][0-9]{0,4}$ ]] || die "EHR_GATEWAY_READY_TIMEOUT must be a number of seconds, e.g. 180 (got '${GATEWAY_READY_TIMEOUT}')"
  await_ready "$(hospital_name "$1")-gateway" "$GATEWAY_READY_TIMEOUT" curl -sf --cacert "$(hospital_tls_root "$1")" "$(gateway_url "$1")/health"
}

# HTTPS when the gateway's configuration names a certificate: EHR_GATEWAY_HTTPS=1,
# or server.tls in the hospital's gateway/overrides.json.
gateway_scheme() {
  local cfg; cfg="$(hospital_dir "$1")/gateway/config.json"
  if [[ -f "$cfg" ]] && jq -e '.server.tls' "$cfg" >/dev/null 2>&1; then echo https; else echo http; fi
}
gateway_url() { echo "$(gateway_scheme "$1")://$(hospital_host "$1"):$(port "$1" "$OFF_GATEWAY")"; }

start_gateway() {
  local h=$1 cfg; cfg="$(hospital_dir "$h")/gateway/config.json"
  # A running gateway keeps the configuration it started with, and so does its file
  # (status and the readiness probe read its scheme from it).
  is_running "$(hospital_name "$h")-gateway" && return 0
  write_gateway_config "$h" "$cfg"
  start_process "$(hospital_name "$h")-gateway" "$GATEWAY_DIR" - env EHR_GATEWAY_CONFIG="$cfg" node "${GATEWAY_DIR}/dist/main.js"
}

# The gateway's configuration (validated by gateway/src/config); secrets stay in
# their own 0600 files and the config only names them.
write_gateway_config() {
  local h=$1 out=$2 hd; hd=$(hospital_dir "$h")
  local creds; creds="$(secrets_dir "$h")/cluster-rest-credentials"
  cluster_credentials "$h" | write_secret "$creds"
  mkdir -p "$(dirname "$out")" "${hd}/gateway/state"
  jq -n --arg host "$(hospital_listen "$h")" --argjson port "$(port "$h" "$OFF_GATEWAY")" \
    --arg msp "$(hospital_msp "$h")" --arg name "$(hospital_name "$h")" \
    --arg peer "$(endpoint "$h" "$OFF_PEER")" --arg peerTls "$(peer_tls_name "$h")" --arg tlsRoot "${hd}/peer/tls/ca.crt" \
    --arg cert "${hd}/users/gateway/msp/signcerts/cert.pem" --arg key "${hd}/users/gateway/msp/keystore/key.pem" \
    --arg channel "$CHANNEL_NAME" --arg chaincode "$CHAINCODE_NAME" \
    --arg kubo "$(kubo_api "$h")" \
    --arg rest "$(cluster_rest "$h")" --arg creds "$creds" \
    --argjson min "$CLUSTER_REPLICATION_MIN" --argjson max "$CLUSTER_REPLICATION_MAX" \
    --arg encKey "$(encryption_key "$h")" --arg encPub "$(encryption_pub "$h")" \
    --argjson previousKeys "$(previous_encryption_keys "$h" | jq -R . | jq -s .)" \
    --arg jwt "$(jwt_verify_key "$h")" --arg iss "$(gateway_issuer "$h")" --arg aud "$(gateway_audience "$h")" \
    --arg checkpoint "${hd}/gateway/state/events-checkpoint.json" --arg level "${EHR_GATEWAY_LOG_LEVEL:-info}" \
    '{server: {host: $host, port: $port},
      hospital: {mspId: $msp, name: $name},
      fabric: {peerEndpoint: $peer, peerHostAlias: $peerTls, tlsRootCertPath: $tlsRoot, certPath: $cert, keyPath: $key,
               channel: $channel, chaincode: $chaincode},
      ipfs: {kuboApiUrl: $kubo, clusterRestUrl: $rest, clusterBasicAuthPath: $creds,
             replicationMin: $min, replicationMax: $max},
      keys: {encryptionPrivateKeyPath: $encKey, encryptionPublicKeyPath: $encPub, previousPrivateKeyPaths: $previousKeys},
      auth: {jwtPublicKeyPath: $jwt, issuer: $iss, audience: $aud},
      events: {checkpointPath: $checkpoint},
      log: {level: $level}}' >"${out}.new"
  # The gateway identity's TLS certificate from the hospital CA (its names include
  # the hospital's host): clients trust the hospital's TLS root.
  if [[ "${EHR_GATEWAY_HTTPS:-0}" == 1 ]]; then
    jq --arg cert "${hd}/users/gateway/tls/server.crt" --arg key "${hd}/users/gateway/tls/server.key" \
      '.server.tls = {certPath: $cert, keyPath: $key}' "${out}.new" >"${out}.tls" && mv "${out}.tls" "${out}.new"
  fi
  # The file is rewritten on every start (ports, paths and keys follow the
  # instance); an admin's own settings live in overrides.json beside it and are
  # merged over it, key by key.
  local overrides="${hd}/gateway/overrides.json"
  if [[ -f "$overrides" ]]; then
    jq -e 'type == "object"' "$overrides" >/dev/null 2>&1 ||
      die "${overrides} is not a JSON object; fix it, then run: network/network.sh up"
    jq -s '.[0] * .[1]' "${out}.new" "$overrides" >"${out}.merged" && mv "${out}.merged" "${out}.new"
  fi
  mv "${out}.new" "$out"
}
