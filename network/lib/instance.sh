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
# what an earlier `up` recorded in the state dir, in that order. Reads the
# state dir, never writes it; a bad name or port base is a usage error (exit 2).
init_instance() {
  INSTANCE="${1:-${EHR_INSTANCE:-dev}}"
  [[ "$INSTANCE" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || usage_error "instance name '${INSTANCE}' must match [a-z0-9][a-z0-9-]{0,30}"
  STATE_ROOT="${EHR_STATE_HOME:-${XDG_STATE_HOME:-$HOME/.local/state}/ehr-consortium}"
  STATE_DIR="${STATE_ROOT}/${INSTANCE}"
  local recorded="" given="${2:-${EHR_PORT_BASE:-}}"
  if instance_exists; then
    recorded=$(sed -n 's/^PORT_BASE=//p' "${STATE_DIR}/instance.env")
    local hospitals_recorded; hospitals_recorded=$(sed -n 's/^HOSPITALS=//p' "${STATE_DIR}/instance.env")
    HOSPITAL_COUNT=${hospitals_recorded:-$HOSPITAL_COUNT}
    JOINING_HOSPITAL=$(sed -n 's/^JOINING=//p' "${STATE_DIR}/instance.env")
    LEFT_HOSPITALS=$(sed -n 's/^LEFT=//p' "${STATE_DIR}/instance.env")
    LOCAL_HOSPITAL=$(sed -n 's/^LOCAL=//p' "${STATE_DIR}/instance.env")
  fi
  PORT_BASE="${given:-${recorded:-7000}}"
  [[ "$PORT_BASE" =~ ^[0-9]{1,5}$ ]] || usage_error "port base '${PORT_BASE}' is not a number; e.g. --port-base 7000"
  PORT_BASE=$((10#$PORT_BASE))
  if [[ -n "$recorded" && "$recorded" != "$PORT_BASE" ]]; then
    usage_error "instance '${INSTANCE}' was created with port base ${recorded}, not ${PORT_BASE}; drop --port-base (and EHR_PORT_BASE), or run 'network/network.sh clean --instance ${INSTANCE}' first to change it"
  fi
  # A new instance's ports are checked before anything binds them; an existing
  # one keeps the ports it was created with.
  if [[ -z "$recorded" ]]; then check_port_base "$PORT_BASE"; fi
  CONSORTIUM_DIR="${STATE_DIR}/consortium"
  RUN_DIR="${STATE_DIR}/run"
  LOG_DIR="${STATE_DIR}/logs"
  export INSTANCE STATE_DIR PORT_BASE
}

instance_exists() { [[ -f "${STATE_DIR}/instance.env" ]]; }

# The last port an instance with this base may use: hospital n takes
# base+20n .. base+20n+19, and one block more is kept free for a hospital to come.
last_port() { echo $(($1 + PORTS_PER_HOSPITAL * (HOSPITAL_COUNT + 1) + PORTS_PER_HOSPITAL - 1)); }

# check_port_base <base>: inside 1024..65535 and outside the kernel's ephemeral
# port range, from which it picks the local port of every outgoing connection:
# a listener there fails now and then with "address already in use".
check_port_base() {
  local base=$1 last range lo hi
  last=$(last_port "$base")
  ((base >= 1024 && last <= 65535)) ||
    usage_error "port base ${base} must leave room for ports ${base}..${last} between 1024 and 65535"
  range=$(cat /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || return 0
  read -r lo hi <<<"$range"
  [[ "$lo" =~ ^[0-9]+$ && "$hi" =~ ^[0-9]+$ ]] || return 0
  ((last < lo || base > hi)) && return 0
  local highest=$((lo - 1 - (last - base))) advice
  if ((highest >= 1024)); then
    advice="pick a base of at most ${highest}, e.g. --port-base $((highest / 1000 * 1000 >= 1024 ? highest / 1000 * 1000 : highest))"
  else
    advice="there is no room below it; pick a base above ${hi} or narrow the range (sysctl net.ipv4.ip_local_port_range)"
  fi
  usage_error "port base ${base} puts the instance's ports ${base}..${last} inside the kernel's ephemeral port range ${lo}..${hi} (/proc/sys/net/ipv4/ip_local_port_range). The kernel hands those ports out as the local end of outgoing connections, so a component would now and then fail to start with 'address already in use'; ${advice}"
}

record_instance() {
  mkdir -p "$STATE_DIR" "$CONSORTIUM_DIR" "$RUN_DIR" "$LOG_DIR"
  if [[ ! -f "${STATE_DIR}/instance.env" ]]; then
    printf 'INSTANCE=%s\nPORT_BASE=%s\nCHANNEL=%s\nHOSPITALS=%s\n' "$INSTANCE" "$PORT_BASE" "$CHANNEL_NAME" "$HOSPITAL_COUNT" >"${STATE_DIR}/instance.env"
  fi
}

JOINING_HOSPITAL=""
LEFT_HOSPITALS=""
# The members: hospital1..hospital<HOSPITALS> but those that left (numbers are never reused).
hospitals() {
  local h
  for h in $(seq 1 "$HOSPITAL_COUNT"); do
    [[ " ${LEFT_HOSPITALS} " == *" ${h} "* ]] || echo "$h"
  done
}
# The members and a hospital that an unfinished add-hospital is bringing in:
# its processes run, so they stop and show with the instance's.
present_hospitals() { hospitals; [[ -z "$JOINING_HOSPITAL" ]] || echo "$JOINING_HOSPITAL"; }
hospital_name() { echo "hospital$1"; }
hospital_msp() { echo "Hospital$1MSP"; }
hospital_dir() { echo "${STATE_DIR}/hospital$1"; }
# Each hospital's address: the one it published (per-host mode, network/lib/hosts.sh),
# else EHR_HOST_<n>, EHR_HOST, loopback.
hospital_host() {
  local var="EHR_HOST_$1" published
  published=$(cat "$(hospital_dir "$1")/public/address" 2>/dev/null || true)
  echo "${published:-${!var:-${EHR_HOST:-127.0.0.1}}}"
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
  [[ "$h" =~ ^[0-9]{1,4}$ ]] && ((10#$h >= 1 && 10#$h <= HOSPITAL_COUNT)) ||
    usage_error "unknown hospital '$1' (instance '${INSTANCE}' has hospital1..hospital${HOSPITAL_COUNT})"
  echo $((10#$h))
}
