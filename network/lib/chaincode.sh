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

approved_by() {
  local h=$1 seq=$2 id approved
  id=$(cat "$(chaincode_state "$h")/package-id-s${seq}")
  approved=$(peer_cli "$h" lifecycle chaincode queryapproved -C "$CHANNEL_NAME" -n "$CHAINCODE_NAME" \
    --sequence "$seq" -O json 2>/dev/null | jq -r '.source.Type.LocalPackage.package_id // empty' || true)
  [[ "$approved" == "$id" ]]
}

try_approve() {
  local h=$1 seq=$2
  # shellcheck disable=SC2046
  peer_cli "$h" lifecycle chaincode approveformyorg $(orderer_flags "$(live_orderer_hospital)") \
    --channelID "$CHANNEL_NAME" --name "$CHAINCODE_NAME" --version "$(chaincode_version)" \
    --package-id "$(cat "$(chaincode_state "$h")/package-id-s${seq}")" --sequence "$seq" --waitForEvent >>"$(log_file peer-cli)" 2>&1
}

# approve_chaincode <hospital> <sequence>: fails (1) without ordering: Raft
# orders only once a majority of the consenters run, which on separate hosts
# may not be yet. Right after they do, the first tries may meet an election.
approve_chaincode() {
  local h=$1 seq=$2
  approved_by "$h" "$seq" && return 0
  if ! ordering_has_quorum; then
    log "$(hospital_name "$h"): the approval of ${CHAINCODE_NAME} sequence ${seq} waits until a majority of the orderers run ($(count_reachable "$OFF_ORDERER") of ${HOSPITAL_COUNT} reachable)"
    return 1
  fi
  wait_until "$(hospital_name "$h")'s approval of ${CHAINCODE_NAME} sequence ${seq} to be ordered" 120 try_approve "$h" "$seq" ||
    die "approving the chaincode for $(hospital_name "$h") failed; see $(log_file peer-cli)"
  log "$(hospital_name "$h"): approved ${CHAINCODE_NAME} sequence ${seq}"
}

# running_peer_flags [excluded...]: PEER_FLAGS names every member's reachable
# peer (but the excluded hospitals') as an endorser (--peerAddresses and its
# TLS root), for a MAJORITY-endorsed invoke.
running_peer_flags() {
  local h excluded=" $* "
  PEER_FLAGS=()
  for h in $(hospitals); do
    [[ "$excluded" == *" $h "* ]] && continue
    tcp_open "$(hospital_host "$h")" "$(port "$h" "$OFF_PEER")" || continue
    PEER_FLAGS+=(--peerAddresses "$(endpoint "$h" "$OFF_PEER")" --tlsRootCertFiles "$(hospital_dir "$h")/peer/tls/ca.crt")
  done
}

# approving_hospitals <hospital> <sequence>: the hospitals whose organisations
# approved the definition this hospital would commit.
approving_hospitals() {
  peer_cli "$1" lifecycle chaincode checkcommitreadiness -C "$CHANNEL_NAME" -n "$CHAINCODE_NAME" \
    --version "$(chaincode_version)" --sequence "$2" -O json 2>/dev/null |
    jq -r '.approvals // {} | to_entries[] | select(.value) | .key' 2>/dev/null |
    sed -n 's/^Hospital\([0-9]*\)MSP$/\1/p' || true
}

# commit_chaincode <sequence>: commits once a MAJORITY of the organisations
# approved (the channel's LifecycleEndorsement); fails (1) before that.
commit_chaincode() {
  local seq=$1 l
  l=$(live_peer_hospital)
  (($(committed_sequence "$l") >= seq)) && return 0
  local approving need; approving=$(approving_hospitals "$l" "$seq") need=$(majority_of "$HOSPITAL_COUNT")
  if (($(grep -c . <<<"$approving") < need)); then
    log "channel ${CHANNEL_NAME}: ${CHAINCODE_NAME} sequence ${seq} has $(grep -c . <<<"$approving") of the ${need} approvals it needs; it is committed by the 'up' that completes them"
    return 1
  fi
  # Each endorsing peer checks that its own organisation approved the definition.
  local h excluded=()
  for h in $(hospitals); do grep -qx "$h" <<<"$approving" || excluded+=("$h"); done
  running_peer_flags "${excluded[@]}"
  local peers=("${PEER_FLAGS[@]}")
  local o; o=$(live_orderer_hospital)
  # shellcheck disable=SC2046
  peer_cli "$l" lifecycle chaincode commit $(orderer_flags "$o") --channelID "$CHANNEL_NAME" \
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
  # The shim logs every invocation at INFO (winston): a fifth of the server's CPU under load.
  start_process "$name" "$CHAINCODE_DIR" - env CORE_CHAINCODE_LOGGING_LEVEL="${EHR_CHAINCODE_LOG_LEVEL:-WARNING}" \
    node "${PROJECT_DIR}/node_modules/.bin/fabric-chaincode-node" server \
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
# channel (sequence 1) and upgrade a running one (next sequence). Fails (1)
# while the sequence waits for other hospitals' approvals (per-host mode).
deploy_chaincode() {
  local seq=$1 h
  ensure_chaincode_built
  for h in $(local_hospitals); do
    is_running "$(hospital_name "$h")-peer" || continue
    install_chaincode "$h" "$seq"
    start_chaincode_server "$h" "$seq"
    approve_chaincode "$h" "$seq" || true
  done
  commit_chaincode "$seq" || return 1
  echo "SEQUENCE=${seq}" >"${CONSORTIUM_DIR}/chaincode.env"
  for h in $(local_hospitals); do stop_chaincode_servers "$h" "$seq"; done
}

current_sequence() { sed -n 's/^SEQUENCE=//p' "${CONSORTIUM_DIR}/chaincode.env" 2>/dev/null || true; }
