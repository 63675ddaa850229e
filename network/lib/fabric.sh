# Per-hospital orderer and peer, and the peer CLI environment.
# Sourced, never executed.
# shellcheck shell=bash

fabric_config_dir() { echo "${CONSORTIUM_DIR}/fabric-config"; }

# One copy of Fabric's default core.yaml/orderer.yaml per instance. Two values
# cannot come from the environment: the external builder path (a list) and the
# Docker endpoint, which must be empty so the peer neither uses nor health-checks Docker.
prepare_fabric_config() {
  local dir; dir=$(fabric_config_dir)
  mkdir -p "$dir"
  cp "$(fabric_dir)/config/orderer.yaml" "${dir}/orderer.yaml"
  sed -e "s#path: /opt/hyperledger/ccaas_builder#path: $(ccaas_builder_dir)#" \
    -e "s#endpoint: unix:///var/run/docker.sock#endpoint: \"\"#" \
    "$(fabric_dir)/config/core.yaml" >"${dir}/core.yaml"
  grep -q "path: $(ccaas_builder_dir)" "${dir}/core.yaml" || die "could not set the ccaas builder path in core.yaml"
}

node_env() {
  local h=$1 tmpl=$2 out=$3 node_dir=$4
  render "$tmpl" "$out" FABRIC_CONFIG="$(fabric_config_dir)" HOSPITAL="$(hospital_name "$h")" PEER_NAME="$(peer_tls_name "$h")" \
    MSP_ID="$(hospital_msp "$h")" NODE_DIR="$node_dir" LISTEN="$(hospital_listen "$h")" HOST="$(hospital_host "$h")" \
    INSTANCE="$INSTANCE" ORDERER_PORT="$(port "$h" "$OFF_ORDERER")" ORDERER_ADMIN_PORT="$(port "$h" "$OFF_ORDERER_ADMIN")" \
    ORDERER_OPS_PORT="$(port "$h" "$OFF_ORDERER_OPS")" PEER_PORT="$(port "$h" "$OFF_PEER")" \
    PEER_CC_PORT="$(port "$h" "$OFF_PEER_CC")" PEER_OPS_PORT="$(port "$h" "$OFF_PEER_OPS")" \
    ADMIN_TLS_CA="$(admin_tls_ca "$h")" LOG_SPEC="$(fabric_log_spec "$tmpl")"
}

# Per-call lines (every gRPC call, every endorsement) at INFO cost CPU on the hot path
# and bury what an admin looks for: warnings by default for those loggers only.
# EHR_PEER_LOG_SPEC / EHR_ORDERER_LOG_SPEC override (Fabric's FABRIC_LOGGING_SPEC syntax).
fabric_log_spec() {
  case "$1" in
    peer.env.tmpl) echo "${EHR_PEER_LOG_SPEC:-info:gossip=warn:gossip.privdata=info:comm.grpc.server=warn:endorser=warn:gateway=warn}" ;;
    *) echo "${EHR_ORDERER_LOG_SPEC:-info:comm.grpc.server=warn}" ;;
  esac
}

# Operations endpoints speak TLS with the node's own TLS certificate (from the
# hospital CA); /metrics and /logspec also want the admin client certificate.
peer_ops_url() { echo "https://$(hospital_host "$1"):$(port "$1" "$OFF_PEER_OPS")"; }
orderer_ops_url() { echo "https://$(hospital_host "$1"):$(port "$1" "$OFF_ORDERER_OPS")"; }
hospital_tls_root() { echo "$(hospital_dir "$1")/msp/tlscacerts/ca.pem"; }

# ops_get <hospital> <url> [--admin]: GET from an operations endpoint (curl -sf);
# with --admin it presents the admin client certificate (paths only in argv).
ops_get() {
  local h=$1 url=$2 args=()
  [[ "${3:-}" != --admin ]] || args=(--cert "$(admin_client_cert "$h")" --key "$(admin_client_key "$h")")
  curl -sf --max-time 2 --cacert "$(hospital_tls_root "$h")" "${args[@]}" "$url"
}

start_orderer() {
  local h=$1 dir; dir="$(hospital_dir "$h")/orderer"
  node_env "$h" orderer.env.tmpl "${dir}/orderer.env" "$dir"
  mkdir -p "${dir}/data"
  start_process "$(hospital_name "$h")-orderer" "$dir" "${dir}/orderer.env" orderer
}

await_orderer() {
  await_ready "$(hospital_name "$1")-orderer" 60 \
    ops_get "$1" "$(orderer_ops_url "$1")/healthz"
}

start_peer() {
  local h=$1 dir; dir="$(hospital_dir "$h")/peer"
  node_env "$h" peer.env.tmpl "${dir}/peer.env" "$dir"
  mkdir -p "${dir}/data"
  start_process "$(hospital_name "$h")-peer" "$dir" "${dir}/peer.env" peer node start
}

await_peer() {
  await_ready "$(hospital_name "$1")-peer" 60 \
    ops_get "$1" "$(peer_ops_url "$1")/healthz"
}

# peer_cli <hospital> <peer args...>: the peer CLI acting as the hospital's admin.
peer_cli() {
  local h=$1 hd
  shift
  hd=$(hospital_dir "$h")
  FABRIC_CFG_PATH="$(fabric_config_dir)" FABRIC_LOGGING_SPEC=warn \
    CORE_PEER_LOCALMSPID="$(hospital_msp "$h")" CORE_PEER_MSPCONFIGPATH="${hd}/users/admin/msp" \
    CORE_PEER_ADDRESS="$(endpoint "$h" "$OFF_PEER")" CORE_PEER_TLS_ENABLED=true \
    CORE_PEER_TLS_ROOTCERT_FILE="${hd}/peer/tls/ca.crt" \
    CORE_PEER_TLS_CLIENTCERT_FILE="${hd}/users/admin/tls/server.crt" \
    CORE_PEER_TLS_CLIENTKEY_FILE="${hd}/users/admin/tls/server.key" \
    peer "$@"
}

# Flags that make a peer CLI command reach the hospital's own orderer over TLS.
orderer_flags() {
  local h=$1
  echo "-o $(endpoint "$h" "$OFF_ORDERER") --tls --cafile $(hospital_dir "$h")/orderer/tls/ca.crt"
}

# An orderer that is up, for CLI commands that need one (any hospital's will do).
live_orderer_hospital() {
  local h
  for h in $(hospitals); do
    if tcp_open "$(hospital_host "$h")" "$(port "$h" "$OFF_ORDERER")"; then echo "$h"; return 0; fi
  done
  die "no orderer is reachable; run: network/network.sh up"
}

# How many other peers this peer's gossip knows on the channel (0 if unknown).
gossip_peers_known() {
  ops_get "$1" "$(peer_ops_url "$1")/metrics" --admin 2>/dev/null |
    awk -v ch="$CHANNEL_NAME" '$1 == "gossip_membership_total_peers_known{channel=\"" ch "\"}" {print $2}' | head -n1 | grep . || echo 0
}

gossip_knows() { (($(gossip_peers_known "$1") >= $2)); }

# Ready means usable: service discovery (and so the Fabric Gateway's choice of
# endorsers) only sees the peers that gossip has found, which takes a few
# seconds after peers (re)start.
await_gossip() {
  local h running
  running=$(count_reachable "$OFF_PEER")
  for h in $(local_hospitals); do
    is_running "$(hospital_name "$h")-peer" || continue
    wait_until "$(hospital_name "$h")-peer to see the other $((running - 1)) peers" 90 gossip_knows "$h" $((running - 1)) ||
      warn "$(hospital_name "$h")-peer knows only $(gossip_peers_known "$h") other peers; see $(log_file "$(hospital_name "$h")-peer")"
  done
}
