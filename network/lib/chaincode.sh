# Chaincode as a service: package (connection.json only), install, approve,
# commit with the channel's MAJORITY endorsement, and run one server per hospital.
# Sourced, never executed.
# shellcheck shell=bash

PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHAINCODE_DIR="${PROJECT_DIR}/chaincode"

chaincode_state() { echo "$(hospital_dir "$1")/chaincode"; }
chaincode_version() { jq -r .version "${CHAINCODE_DIR}/package.json"; }
# Two server ports alternate between sequences, so an upgrade starts the new
# server beside the old one and the channel never points at a stopped server.
chaincode_port() { if (($2 % 2)); then port "$1" "$OFF_CHAINCODE_A"; else port "$1" "$OFF_CHAINCODE_B"; fi; }

committed_sequence() {
  local out
  out=$(peer_cli "$1" lifecycle chaincode querycommitted -C "$CHANNEL_NAME" -n "$CHAINCODE_NAME" -O json 2>/dev/null) || { echo 0; return; }
  jq -r '.sequence // 0' <<<"$out"
}

# package_chaincode <hospital> <sequence>: prints the package ID.
package_chaincode() {
  local h=$1 seq=$2 dir pkg
  dir=$(chaincode_state "$h")
  pkg="${dir}/${CHAINCODE_NAME}-s${seq}.tgz"
  if [[ ! -s "$pkg" ]]; then
    local work hd; work=$(mktemp -d)
    hd=$(hospital_dir "$h")
    mkdir -p "$dir"
    # The peer's client certificate comes from the hospital's chaincode-client TLS
    # CA (network/lib/keys.sh), the only CA its chaincode server trusts for clients.
    ensure_admin_tls "$h"
    jq -n --arg address "$(hospital_host "$h"):$(chaincode_port "$h" "$seq")" \
      --rawfile root "${hd}/chaincode-server/tls/ca.crt" \
      --rawfile cert "$(cc_client_cert "$h")" --rawfile key "$(cc_client_key "$h")" \
      '{address: $address, dial_timeout: "10s", tls_required: true, client_auth_required: true,
        root_cert: $root, client_cert: $cert, client_key: $key}' >"${work}/connection.json"
    jq -n --arg lbl "${CHAINCODE_NAME}_s${seq}" '{"type": "ccaas", "label": $lbl}' >"${work}/metadata.json"
    (cd "$work" && tar -czf code.tar.gz connection.json && tar -czf package.tgz metadata.json code.tar.gz)
    chmod 600 "${work}/package.tgz"
    mv "${work}/package.tgz" "$pkg"
    rm -rf "$work"
  fi
  peer_cli "$h" lifecycle chaincode calculatepackageid "$pkg"
}

install_chaincode() {
  local h=$1 seq=$2 id pkg
  id=$(package_chaincode "$h" "$seq") || die "packaging the chaincode for $(hospital_name "$h") failed"
  pkg="$(chaincode_state "$h")/${CHAINCODE_NAME}-s${seq}.tgz"
  if ! peer_cli "$h" lifecycle chaincode queryinstalled -O json 2>/dev/null | jq -e --arg id "$id" \
    '.installed_chaincodes // [] | any(.package_id == $id)' >/dev/null; then
    peer_cli "$h" lifecycle chaincode install "$pkg" >>"$(log_file peer-cli)" 2>&1 ||
      die "installing the chaincode on $(hospital_name "$h") failed; see $(log_file peer-cli)"
    log "$(hospital_name "$h")-peer: installed ${id}"
  fi
  echo "$id" >"$(chaincode_state "$h")/package-id-s${seq}"
}

approve_chaincode() {
  local h=$1 seq=$2 id approved
  id=$(cat "$(chaincode_state "$h")/package-id-s${seq}")
  approved=$(peer_cli "$h" lifecycle chaincode queryapproved -C "$CHANNEL_NAME" -n "$CHAINCODE_NAME" \
    --sequence "$seq" -O json 2>/dev/null | jq -r '.source.Type.LocalPackage.package_id // empty' || true)
  [[ "$approved" == "$id" ]] && return 0
  # shellcheck disable=SC2046
  peer_cli "$h" lifecycle chaincode approveformyorg $(orderer_flags "$(live_orderer_hospital)") \
    --channelID "$CHANNEL_NAME" --name "$CHAINCODE_NAME" --version "$(chaincode_version)" \
    --package-id "$id" --sequence "$seq" --waitForEvent >>"$(log_file peer-cli)" 2>&1 ||
    die "approving the chaincode for $(hospital_name "$h") failed; see $(log_file peer-cli)"
  log "$(hospital_name "$h"): approved ${CHAINCODE_NAME} sequence ${seq}"
}

# running_peer_flags [excluded]: PEER_FLAGS names every member's reachable peer
# (but the excluded hospital's) as an endorser (--peerAddresses and its TLS
# root), for a MAJORITY-endorsed invoke.
running_peer_flags() {
  local h excluded=${1:-}
  PEER_FLAGS=()
  for h in $(hospitals); do
    [[ "$h" == "$excluded" ]] && continue
    tcp_open "$(hospital_host "$h")" "$(port "$h" "$OFF_PEER")" || continue
    PEER_FLAGS+=(--peerAddresses "$(endpoint "$h" "$OFF_PEER")" --tlsRootCertFiles "$(hospital_dir "$h")/peer/tls/ca.crt")
  done
}

commit_chaincode() {
  local seq=$1
  (($(committed_sequence "$(hospitals | head -n1)") >= seq)) && return 0
  running_peer_flags
  local peers=("${PEER_FLAGS[@]}")
  local o; o=$(live_orderer_hospital)
  # shellcheck disable=SC2046
  peer_cli "$o" lifecycle chaincode commit $(orderer_flags "$o") --channelID "$CHANNEL_NAME" \
    --name "$CHAINCODE_NAME" --version "$(chaincode_version)" --sequence "$seq" "${peers[@]}" \
    --waitForEvent >>"$(log_file peer-cli)" 2>&1 || die "committing the chaincode failed; see $(log_file peer-cli)"
  log "channel ${CHANNEL_NAME}: ${CHAINCODE_NAME} sequence ${seq} committed (endorsement: MAJORITY of the hospitals)"
}

ensure_chaincode_built() {
  [[ -f "${CHAINCODE_DIR}/dist/index.js" ]] ||
    die "chaincode is not built; run: npm install && npm run build (or npm start)"
}

# The CA the chaincode server of a sequence trusts for client certificates: the
# chaincode-client TLS CA, or, for a package made before there was one (its
# connection.json carries the peer's TLS certificate), the hospital CA until the
# next deploy-chaincode.
chaincode_client_ca() {
  local h=$1 seq=$2 pkg cert
  pkg="$(chaincode_state "$h")/${CHAINCODE_NAME}-s${seq}.tgz"
  cert=$(tar -xzOf "$pkg" code.tar.gz 2>/dev/null | tar -xzO connection.json 2>/dev/null | jq -r '.client_cert // empty' 2>/dev/null || true)
  if [[ -n "$cert" ]] && openssl verify -CAfile "$(cc_client_ca "$h")" <(printf '%s\n' "$cert") >/dev/null 2>&1; then
    cc_client_ca "$h"
  else
    warn "$(hospital_name "$h"): chaincode sequence ${seq} was packaged before the chaincode-client TLS CA; its server trusts the hospital CA for clients until: network/network.sh deploy-chaincode"
    echo "$(hospital_dir "$h")/chaincode-server/tls/ca.crt"
  fi
}

start_chaincode_server() {
  local h=$1 seq=$2 name id
  name="$(hospital_name "$h")-chaincode-s${seq}"
  id=$(cat "$(chaincode_state "$h")/package-id-s${seq}")
  local tls clients=""; tls="$(hospital_dir "$h")/chaincode-server/tls"
  is_running "$name" || clients=$(chaincode_client_ca "$h" "$seq")
  start_process "$name" "$CHAINCODE_DIR" - node "${PROJECT_DIR}/node_modules/.bin/fabric-chaincode-node" server \
    --chaincode-address "$(hospital_listen "$h"):$(chaincode_port "$h" "$seq")" --chaincode-id "$id" \
    --module-path "$CHAINCODE_DIR" --chaincode-tls-cert-file "${tls}/server.crt" \
    --chaincode-tls-key-file "${tls}/server.key" --chaincode-tls-client-cacert-file "$clients"
  await_ready "$name" 60 tcp_open "$(hospital_host "$h")" "$(chaincode_port "$h" "$seq")"
  echo "$seq" >"$(chaincode_state "$h")/running-sequence"
}

stop_chaincode_servers() {
  local h=$1 keep=${2:-} pf
  for pf in "${RUN_DIR}/$(hospital_name "$h")"-chaincode-s*.pid; do
    [[ -e "$pf" ]] || continue
    local name; name=$(basename "$pf" .pid)
    [[ -n "$keep" && "$name" == "$(hospital_name "$h")-chaincode-s${keep}" ]] && continue
    stop_process "$name"
  done
}

# deploy_chaincode <sequence>: idempotent; the same steps bring up a fresh
# channel (sequence 1) and upgrade a running one (next sequence).
deploy_chaincode() {
  local seq=$1 h
  ensure_chaincode_built
  for h in $(hospitals); do
    is_running "$(hospital_name "$h")-peer" || continue
    install_chaincode "$h" "$seq"
    start_chaincode_server "$h" "$seq"
    approve_chaincode "$h" "$seq"
  done
  commit_chaincode "$seq"
  echo "SEQUENCE=${seq}" >"${CONSORTIUM_DIR}/chaincode.env"
  for h in $(hospitals); do stop_chaincode_servers "$h" "$seq"; done
}

current_sequence() { sed -n 's/^SEQUENCE=//p' "${CONSORTIUM_DIR}/chaincode.env" 2>/dev/null || true; }
