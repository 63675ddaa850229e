# Instance layout: a name and a port base choose every port and the state dir.
# Sourced, never executed.
# shellcheck shell=bash

HOSPITAL_COUNT=3
CHANNEL_NAME="${EHR_CHANNEL:-ehr}"
CHAINCODE_NAME="${EHR_CHAINCODE:-ehr}"
PORTS_PER_HOSPITAL=20

# Offsets inside a hospital's block of ports.
OFF_CA=0 OFF_CA_OPS=1 OFF_ORDERER=2 OFF_ORDERER_ADMIN=3 OFF_ORDERER_OPS=4
OFF_PEER=5 OFF_PEER_CC=6 OFF_PEER_OPS=7 OFF_CHAINCODE_A=8 OFF_GATEWAY=9
OFF_KUBO_SWARM=10 OFF_KUBO_API=11 OFF_CLUSTER_REST=13 OFF_CLUSTER_PROXY=14
OFF_CLUSTER_SWARM=15 OFF_CHAINCODE_B=17

# init_instance [name] [port-base]: resolves the instance from flags, env or
# what an earlier `up` recorded in the state dir, in that order.
init_instance() {
  INSTANCE="${1:-${EHR_INSTANCE:-dev}}"
  [[ "$INSTANCE" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "instance name '${INSTANCE}' must match [a-z0-9][a-z0-9-]{0,30}"
  STATE_ROOT="${EHR_STATE_HOME:-${XDG_STATE_HOME:-$HOME/.local/state}/ehr-consortium}"
  STATE_DIR="${STATE_ROOT}/${INSTANCE}"
  local recorded=""
  if [[ -f "${STATE_DIR}/instance.env" ]]; then
    recorded=$(sed -n 's/^PORT_BASE=//p' "${STATE_DIR}/instance.env")
  fi
  PORT_BASE="${2:-${EHR_PORT_BASE:-${recorded:-7000}}}"
  [[ "$PORT_BASE" =~ ^[0-9]+$ ]] && ((PORT_BASE >= 1024 && PORT_BASE + (HOSPITAL_COUNT + 1) * PORTS_PER_HOSPITAL < 65536)) ||
    die "port base ${PORT_BASE} must leave room for $(((HOSPITAL_COUNT + 1) * PORTS_PER_HOSPITAL)) ports between 1024 and 65535"
  if [[ -n "$recorded" && "$recorded" != "$PORT_BASE" ]]; then
    die "instance '${INSTANCE}' was created with port base ${recorded}; run 'network.sh clean' first to change it"
  fi
  CONSORTIUM_DIR="${STATE_DIR}/consortium"
  RUN_DIR="${STATE_DIR}/run"
  LOG_DIR="${STATE_DIR}/logs"
  export INSTANCE STATE_DIR PORT_BASE
}

record_instance() {
  mkdir -p "$STATE_DIR" "$CONSORTIUM_DIR" "$RUN_DIR" "$LOG_DIR"
  if [[ ! -f "${STATE_DIR}/instance.env" ]]; then
    printf 'INSTANCE=%s\nPORT_BASE=%s\nCHANNEL=%s\n' "$INSTANCE" "$PORT_BASE" "$CHANNEL_NAME" >"${STATE_DIR}/instance.env"
  fi
}

hospitals() { seq 1 "$HOSPITAL_COUNT"; }
hospital_name() { echo "hospital$1"; }
hospital_msp() { echo "Hospital$1MSP"; }
hospital_dir() { echo "${STATE_DIR}/hospital$1"; }
# Each hospital's address; set EHR_HOST_<n> when hospitals run on their own hosts.
hospital_host() {
  local var="EHR_HOST_$1"
  echo "${!var:-${EHR_HOST:-127.0.0.1}}"
}
# Where a hospital's services listen; loopback unless configured otherwise.
hospital_listen() {
  local var="EHR_LISTEN_$1"
  echo "${!var:-${EHR_LISTEN:-$(hospital_host "$1")}}"
}
port() { echo $((PORT_BASE + $1 * PORTS_PER_HOSPITAL + $2)); }
endpoint() { echo "$(hospital_host "$1"):$(port "$1" "$2")"; }
# hospital_number <name|number|mspId>
hospital_number() {
  local h=$1
  h=${h#hospital}
  h=${h#Hospital}
  h=${h%MSP}
  [[ "$h" =~ ^[0-9]+$ ]] && ((h >= 1 && h <= HOSPITAL_COUNT)) || die "unknown hospital '$1' (expected hospital1..hospital${HOSPITAL_COUNT})"
  echo "$h"
}
