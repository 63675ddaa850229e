# Kubo nodes in a private swarm and IPFS Cluster peers (CRDT), one each per hospital.
# Sourced by network/network.sh, never executed.
# shellcheck shell=bash

IPFS_CLUSTER_CONFIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Replication of every pin across hospitals' Cluster peers (DESIGN §2).
CLUSTER_REPLICATION_MIN="${EHR_REPLICATION_MIN:-2}"
CLUSTER_REPLICATION_MAX="${EHR_REPLICATION_MAX:-3}"
# How long `up` waits for every Cluster peer to be able to allocate new pins.
CLUSTER_ALLOCATION_TIMEOUT="${EHR_CLUSTER_ALLOCATION_TIMEOUT:-120}"
# Informer metric lifetime: peers rebroadcast at half of it, so after a restart
# allocation works within about half of it (Cluster's default is 30s).
CLUSTER_METRIC_TTL="${EHR_CLUSTER_METRIC_TTL:-10s}"
# Self-healing (DESIGN §9): seconds a Cluster peer may stay silent before the pins
# allocated to it are re-pinned on other peers (back to replication min). In
# Cluster v1.1.5 a peer is "gone" when its "ping" metric expires: pings go out
# every monitor_ping_interval and live twice that, and the monitor looks for
# expired metrics every pubsubmon.check_interval (Cluster's default, 15 s: a
# shorter one was tried and the peers' CRDT states then lagged in CI); the
# closest live peer then re-allocates every pin that named the gone one. So the
# ping interval is half of this and repinning starts between REPIN_AFTER/2 and
# REPIN_AFTER + 15 s after the peer's last ping.
CLUSTER_REPIN_AFTER="${EHR_CLUSTER_REPIN_AFTER:-10}"
[[ "$CLUSTER_REPIN_AFTER" =~ ^[0-9]+$ ]] && ((CLUSTER_REPIN_AFTER >= 4)) ||
  die "EHR_CLUSTER_REPIN_AFTER must be a whole number of seconds, at least 4 (got '${CLUSTER_REPIN_AFTER}')"
CLUSTER_PING_INTERVAL="$((CLUSTER_REPIN_AFTER / 2))s"
# How often a peer retries its pins (and unpins) in an error state, e.g. after its
# Kubo came back (Cluster's pin_recover_interval).
CLUSTER_PIN_RECOVER_INTERVAL="${EHR_CLUSTER_PIN_RECOVER_INTERVAL:-2m0s}"

kubo_repo() { echo "$(hospital_dir "$1")/kubo"; }
cluster_home() { echo "$(hospital_dir "$1")/cluster"; }
# Kubo's RPC API is a unix socket in the repo (mode 0700): only the hospital's
# service user can reach it. Kubo's own RPC authorizations would lock out Cluster,
# whose connector cannot send credentials (ipfshttp has no such setting).
kubo_socket() { echo "$(kubo_repo "$1")/api.sock"; }
kubo_api() { echo "unix://$(kubo_socket "$1")"; }
cluster_rest() { echo "http://$(hospital_host "$1"):$(port "$1" "$OFF_CLUSTER_REST")"; }
cluster_credentials() { echo "ehr-admin:$(secret "$1" cluster-rest)"; }

# --- Kubo ---------------------------------------------------------------

kubo() { IPFS_PATH="$(kubo_repo "$1")" LIBP2P_FORCE_PNET=1 ipfs "${@:2}"; }

# A hospital of another host is known by the peer IDs it published (network/lib/hosts.sh).
kubo_peer_id() {
  if [[ -f "$(kubo_repo "$1")/config" ]]; then jq -r .Identity.PeerID "$(kubo_repo "$1")/config"; else published "$1" kubo-peer-id; fi
}
has_kubo_identity() { [[ -f "$(kubo_repo "$1")/config" || -s "$(public_dir "$1")/kubo-peer-id" ]]; }

init_kubo() {
  local h=$1 repo; repo=$(kubo_repo "$h")
  if [[ ! -f "${repo}/config" ]]; then
    mkdir -p "$repo"
    kubo "$h" init --empty-repo --profile=server >>"$(log_file "$(hospital_name "$h")-kubo")" 2>&1 ||
      die "ipfs init failed; see $(log_file "$(hospital_name "$h")-kubo")"
  fi
  # A per-host hospital makes its identity before it receives the consortium's swarm key.
  if [[ -s "${CONSORTIUM_DIR}/swarm.key" ]]; then
    cp "${CONSORTIUM_DIR}/swarm.key" "${repo}/swarm.key"
    chmod 600 "${repo}/swarm.key"
  fi
  local listen; listen=$(hospital_listen "$h")
  local patch
  patch=$(jq -n --arg api "/unix$(kubo_socket "$h")" \
    --arg swarm "/ip4/${listen}/tcp/$(port "$h" "$OFF_KUBO_SWARM")" \
    --arg announce "/ip4/$(hospital_host "$h")/tcp/$(port "$h" "$OFF_KUBO_SWARM")" \
    -f "${IPFS_CLUSTER_CONFIG_DIR}/kubo-config.jq")
  local cfg="${repo}/config"
  jq --argjson patch "$patch" '. * $patch | .DNS.Resolvers = $patch.DNS.Resolvers' "$cfg" >"${cfg}.new" && mv "${cfg}.new" "$cfg"
}

# Every node peers with every other hospital's node: no public bootstrap, DHT or relays.
set_kubo_peering() {
  local h=$1 o peers=()
  for o in $(present_hospitals); do
    ((o == h)) && continue
    has_kubo_identity "$o" || continue
    peers+=("$(jq -n --arg id "$(kubo_peer_id "$o")" \
      --arg addr "/ip4/$(hospital_host "$o")/tcp/$(port "$o" "$OFF_KUBO_SWARM")" '{ID: $id, Addrs: [$addr]}')")
  done
  local cfg; cfg="$(kubo_repo "$h")/config"
  printf '%s\n' "${peers[@]}" | jq -s . | jq --slurpfile p /dev/stdin '.Peering.Peers = $p[0]' "$cfg" >"${cfg}.new" &&
    mv "${cfg}.new" "$cfg"
}

start_kubo() {
  local h=$1
  # A Kubo killed with -9 leaves its socket file behind, and a new one cannot bind
  # over it ("address already in use"). Only a stopped node's socket is removed.
  is_running "$(hospital_name "$h")-kubo" || rm -f "$(kubo_socket "$h")"
  start_process "$(hospital_name "$h")-kubo" "$(kubo_repo "$h")" - \
    env IPFS_PATH="$(kubo_repo "$h")" LIBP2P_FORCE_PNET=1 GOMAXPROCS=2 ipfs daemon
}

kubo_ready() { curl -sf --unix-socket "$(kubo_socket "$1")" -X POST http://kubo/api/v0/id >/dev/null; }

ipfs_up() {
  local h
  for h in $(local_hospitals); do init_kubo "$h"; done
  for h in $(local_hospitals); do set_kubo_peering "$h"; done
  for h in $(local_hospitals); do start_kubo "$h"; done
  for h in $(local_hospitals); do await_ready "$(hospital_name "$h")-kubo" 60 kubo_ready "$h"; done
}

# --- IPFS Cluster -------------------------------------------------------

cluster_service() { IPFS_CLUSTER_PATH="$(cluster_home "$1")" ipfs-cluster-service "${@:2}"; }
cluster_peer_id() {
  if [[ -f "$(cluster_home "$1")/identity.json" ]]; then jq -r .id "$(cluster_home "$1")/identity.json"; else published "$1" cluster-peer-id; fi
}
has_cluster_identity() { [[ -f "$(cluster_home "$1")/identity.json" || -s "$(public_dir "$1")/cluster-peer-id" ]]; }
cluster_swarm_addr() { echo "/ip4/$(hospital_host "$1")/tcp/$(port "$1" "$OFF_CLUSTER_SWARM")/p2p/$(cluster_peer_id "$1")"; }

init_cluster() {
  local h=$1 home; home=$(cluster_home "$h")
  if [[ ! -f "${home}/identity.json" ]]; then
    mkdir -p "$home"
    cluster_service "$h" init --consensus crdt --force >>"$(log_file "$(hospital_name "$h")-cluster")" 2>&1 ||
      die "ipfs-cluster-service init failed; see $(log_file "$(hospital_name "$h")-cluster")"
  fi
}

configure_cluster() {
  local h=$1 home o trusted=() listen
  secret "$h" cluster-rest >/dev/null
  home=$(cluster_home "$h")
  listen=$(hospital_listen "$h")
  # A joining hospital (add-hospital) is trusted from its first start on, by itself too.
  # (One whose join stopped before its Cluster peer existed has no identity yet.)
  for o in $(present_hospitals); do
    has_cluster_identity "$o" && trusted+=("$(cluster_peer_id "$o")")
  done
  local cfg="${home}/service.json"
  # Secrets reach jq as files (--rawfile), never in its argv.
  jq --rawfile secret "${CONSORTIUM_DIR}/cluster-secret" \
    --arg name "$(hospital_name "$h")" \
    --arg swarm "/ip4/${listen}/tcp/$(port "$h" "$OFF_CLUSTER_SWARM")" \
    --arg rest "/ip4/${listen}/tcp/$(port "$h" "$OFF_CLUSTER_REST")" \
    --arg kubo "/unix$(kubo_socket "$h")" \
    --arg user "ehr-admin" --rawfile pass "$(secrets_dir "$h")/cluster-rest" --arg metricTtl "$CLUSTER_METRIC_TTL" \
    --arg pingInterval "$CLUSTER_PING_INTERVAL" \
    --arg pinRecover "$CLUSTER_PIN_RECOVER_INTERVAL" \
    --argjson min "$CLUSTER_REPLICATION_MIN" --argjson max "$CLUSTER_REPLICATION_MAX" \
    --argjson trusted "$(printf '%s\n' "${trusted[@]}" | jq -R . | jq -s .)" \
    -f "${IPFS_CLUSTER_CONFIG_DIR}/cluster-service.jq" "$cfg" >"${cfg}.new"
  mv "${cfg}.new" "$cfg"
  chmod 600 "$cfg"
  # The peerstore tells a starting peer where the others are; CRDT trusts only the consortium.
  for o in $(present_hospitals); do
    ((o == h)) || ! has_cluster_identity "$o" || cluster_swarm_addr "$o"
  done >"${home}/peerstore"
}

start_cluster() {
  local h=$1
  start_process "$(hospital_name "$h")-cluster" "$(cluster_home "$h")" - \
    env IPFS_CLUSTER_PATH="$(cluster_home "$h")" GOMAXPROCS=2 ipfs-cluster-service daemon
}

# Cluster REST calls; the credentials reach curl as a config file on a pipe, never in argv.
cluster_curl() {
  local h=$1
  shift
  curl -s --max-time 3 -K <(printf 'user = "%s"\n' "$(cluster_credentials "$h")") "$@"
}

cluster_api() { cluster_curl "$1" -f "$(cluster_rest "$1")$2"; }

# How many Cluster peers this hospital's peer sees (itself included); 0 when down.
cluster_peer_count() {
  local out
  is_running "$(hospital_name "$1")-cluster" 2>/dev/null || { echo 0; return; }
  out=$(cluster_api "$1" /peers 2>/dev/null) || { echo 0; return; }
  jq -s '[.[] | select(.id != null and (.error // "") == "")] | length' <<<"$out" 2>/dev/null || echo 0
}

cluster_sees() { (($(cluster_peer_count "$1") >= $2)); }

# The metrics the allocator ranks peers by (service.json allocator.balanced.allocate_by).
cluster_allocation_metrics() {
  jq -r '.allocator.balanced.allocate_by // ["tag:group", "freespace"] | .[]' "$(cluster_home "$1")/service.json"
}

# How many peers this hospital's Cluster peer could allocate a new pin to right
# now: Cluster counts a peer as a candidate only once it holds a valid (unexpired)
# metric from it for every allocator metric, and those arrive over pubsub some
# time after the peers see each other. 0 when down.
cluster_allocatable_count() {
  local h=$1 metric docs=()
  is_running "$(hospital_name "$h")-cluster" 2>/dev/null || { echo 0; return; }
  while read -r metric; do
    docs+=("$(cluster_api "$h" "/monitor/metrics/$(jq -rn --arg m "$metric" '$m | @uri')" 2>/dev/null || echo '[]')")
  done < <(cluster_allocation_metrics "$h")
  printf '%s\n' "${docs[@]}" | jq -s '
    map([.[]? | select(.valid != false) | .peer] | unique) as $sets
    | if ($sets | length) == 0 then 0
      else reduce $sets[1:][] as $s ($sets[0]; [.[] | select(. as $p | $s | index($p))]) | length end' 2>/dev/null || echo 0
}

cluster_can_allocate() { (($(cluster_allocatable_count "$1") >= $2)); }

# Waits until every running Cluster peer can allocate a pin to replication-min
# peers: seeing the peers is not enough (a store in between fails with "not
# enough peers to allocate").
await_cluster_allocation() {
  local h need=$CLUSTER_REPLICATION_MIN running
  running=$(count_reachable "$OFF_CLUSTER_SWARM")
  ((running >= need)) || {
    warn "only ${running} Cluster peers run, fewer than replication min ${need}: stores will fail until more run"
    return 0
  }
  for h in $(local_hospitals); do
    is_running "$(hospital_name "$h")-cluster" || continue
    wait_until "$(hospital_name "$h")'s Cluster peer to be able to allocate to ${need} peers (allocator metrics $(cluster_allocation_metrics "$h" | paste -sd, -) from ${need} peers)" \
      "$CLUSTER_ALLOCATION_TIMEOUT" cluster_can_allocate "$h" "$need" ||
      die "$(hospital_name "$h")'s Cluster peer cannot allocate pins to ${need} peers (it has metrics from $(cluster_allocatable_count "$h")); see $(log_file "$(hospital_name "$h")-cluster")"
    log "$(hospital_name "$h")-cluster: can allocate to $(cluster_allocatable_count "$h") peers"
  done
}

cluster_up() {
  local h
  for h in $(local_hospitals); do init_cluster "$h"; done
  for h in $(local_hospitals); do configure_cluster "$h"; done
  for h in $(local_hospitals); do start_cluster "$h"; done
  for h in $(local_hospitals); do await_ready "$(hospital_name "$h")-cluster" 90 cluster_api "$h" /id; done
  local running
  running=$(count_reachable "$OFF_CLUSTER_SWARM")
  for h in $(local_hospitals); do
    wait_until "$(hospital_name "$h")'s Cluster peer to see ${running} peers" 60 cluster_sees "$h" "$running" ||
      warn "$(hospital_name "$h")'s Cluster peer sees fewer than ${running} peers; see $(log_file "$(hospital_name "$h")-cluster")"
  done
  await_cluster_allocation
}
