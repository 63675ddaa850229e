# Departure: a hospital leaves a running consortium. A MAJORITY of the members'
# admins approve it on the ledger (its consents end; its gateway purges what
# they gave it), the blobs its Cluster peer held are re-pinned on the others,
# the same majority signs the channel update that removes its organisations and
# its Raft consenter, its processes stop, and the private swarm key and Cluster
# secret it knew are replaced. Every step checks what is already done.
# Sourced, never executed.
# shellcheck shell=bash

# record_departed <hospital>: it no longer counts among the instance's hospitals.
record_departed() {
  local env="${STATE_DIR}/instance.env" left
  left=$(sed -n 's/^LEFT=//p' "$env")
  grep -qw "$1" <<<"$left" && return 0
  sed -i '/^LEFT=/d' "$env"
  echo "LEFT=${left:+${left} }$1" >>"$env"
  LEFT_HOSPITALS="${left:+${left} }$1"
}

# admin_invoke <member> <function> <args-json> [excluded]: a chaincode
# transaction signed by the member's admin and endorsed by every running
# member's peer but the excluded one's (a hospital no longer in the channel).
admin_invoke() {
  local m=$1 fn=$2 args=$3 o
  running_peer_flags "${4:-}"
  o=$(live_orderer_hospital)
  # shellcheck disable=SC2046
  peer_cli "$m" chaincode invoke $(orderer_flags "$o") -C "$CHANNEL_NAME" -n "$CHAINCODE_NAME" \
    -c "$(jq -cn --arg fn "$fn" --argjson args "$args" '{function: $fn, Args: $args}')" \
    "${PEER_FLAGS[@]}" --waitForEvent 2>&1
}

admin_query() {
  local m=$1 fn=$2 args=$3
  peer_cli "$m" chaincode query -C "$CHANNEL_NAME" -n "$CHAINCODE_NAME" \
    -c "$(jq -cn --arg fn "$fn" --argjson args "$args" '{function: $fn, Args: $args}')" 2>/dev/null
}

departed_on_ledger() {
  admin_query "$1" Membership:GetDeparture "[\"$2\"]" | jq -e '.departed' >/dev/null
}

# approve_departure <leaving>: the members other than the leaving one approve,
# each with its own admin, until a majority has.
approve_departure() {
  local h=$1 msp m out
  msp=$(hospital_msp "$h")
  for m in $(hospitals); do
    ((m == h)) && continue
    departed_on_ledger "$m" "$msp" && break
    is_running "$(hospital_name "$m")-peer" || continue
    out=$(admin_invoke "$m" Membership:ApproveDeparture "[\"${msp}\"]") ||
      die "$(hospital_name "$m")'s admin could not approve the departure of ${msp}: ${out}"
    echo "$out" >>"$(log_file peer-cli)"
    log "$(hospital_name "$m")'s admin approved the departure of ${msp}"
  done
  departed_on_ledger "$(first_running_member_except "$h")" "$msp" ||
    die "a majority of the members' admins has not approved the departure of ${msp}; every other member's peer must run"
}

first_running_member_except() {
  local m
  for m in $(hospitals); do
    ((m == $1)) && continue
    is_running "$(hospital_name "$m")-peer" && { echo "$m"; return 0; }
  done
  die "no other member's peer runs; run: network/network.sh up"
}

custody_idle() {
  local c; c=$(custody_json "$1")
  [[ "$c" != null ]] && jq -e '.queued == 0 and .inFlight == 0' <<<"$c" >/dev/null
}

# Every pin of the pinset held ("pinned") by at least replication-min of the
# remaining Cluster peers, as the reference peer sees their status. A status
# call that fails, or that lists fewer pins than the pinset, is a "not yet".
pins_replicated_without() {
  local h=$1 ref=$2 ids statuses pinset
  ids=$(for m in $(hospitals); do ((m == h)) || cluster_peer_id "$m"; done | jq -R . | jq -sc .)
  pinset=$(cluster_api "$ref" /allocations 2>/dev/null | jq -s length) || return 1
  statuses=$(cluster_api "$ref" /pins 2>/dev/null) || return 1
  jq -se --argjson ids "$ids" --argjson need "$CLUSTER_REPLICATION_MIN" --argjson pinset "$pinset" '
    length >= $pinset and
    all(.[]; [.peer_map // {} | to_entries[] | select((.key as $k | $ids | index($k)) and .value.status == "pinned")] | length >= $need)' \
    <<<"${statuses:-}" >/dev/null
}

# Its Cluster peer stops first (its Kubo keeps serving blocks), so that Cluster
# re-pins what it held on the others; the wait ends when every pin is held by
# replication-min of them.
repin_elsewhere() {
  local h=$1 ref
  ref=$(first_running_member_except "$h")
  is_running "$(hospital_name "$h")-cluster" && stop_process "$(hospital_name "$h")-cluster"
  wait_until "every blob to be pinned on ${CLUSTER_REPLICATION_MIN} of the remaining Cluster peers" 300 pins_replicated_without "$h" "$ref" ||
    die "some blobs are not yet pinned on ${CLUSTER_REPLICATION_MIN} remaining peers; see $(log_file "$(hospital_name "$ref")-cluster"), then run remove-hospital again"
}

# propose_removal <leaving> <member> <out.pb>
propose_removal() {
  local h=$1 m=$2 out=$3 work
  [[ -s "$out" ]] && return 0
  work=$(mktemp -d)
  fetch_channel_config "$m" "${work}/config.json"
  jq --arg msp "$(hospital_msp "$h")" --arg host "$(hospital_host "$h")" --argjson port "$(port "$h" "$OFF_ORDERER")" '
      del(.channel_group.groups.Application.groups[$msp])
      | del(.channel_group.groups.Orderer.groups[$msp])
      | .channel_group.groups.Orderer.values.ConsensusType.value.metadata.consenters |=
          map(select(.host != $host or .port != $port))' \
    "${work}/config.json" >"${work}/modified.json"
  config_update_envelope "${work}/config.json" "${work}/modified.json" "${out}.new" "$work"
  mv "${out}.new" "$out"
  rm -rf "$work"
  log "$(hospital_name "$m"): proposed the update that removes $(hospital_msp "$h") (${out})"
}

# The nodes that remain stop trusting what the leaving hospital knew: a new swarm
# key and Cluster secret, Kubo peering and Cluster trusted peers without it.
rotate_swarm_secrets() {
  local m
  rm -f "${CONSORTIUM_DIR}/swarm.key" "${CONSORTIUM_DIR}/cluster-secret"
  ensure_consortium_secrets
  stop_everywhere stop_hospital_process cluster
  stop_everywhere stop_hospital_process kubo
  for m in $(hospitals); do init_kubo "$m"; set_kubo_peering "$m"; configure_cluster "$m"; done
  ipfs_up
  cluster_up
  log "private swarm key and Cluster secret replaced; the departed hospital's nodes can no longer join"
}

# remove_hospital <n>: the whole departure, resumable.
remove_hospital() {
  local h=$1 started=$SECONDS m dir
  dir=$(join_dir "$h")
  mkdir -p "$dir"

  log "leave 1/5: a MAJORITY of the members' admins approve the departure on the ledger"
  approve_departure "$h"
  if is_running "$(hospital_name "$h")-gateway"; then
    wait_until "$(hospital_name "$h")'s gateway to purge the envelopes its revoked consents gave it" 120 custody_idle "$h" ||
      warn "$(hospital_name "$h")'s gateway has custody work left; it may keep envelopes (see $(log_file "$(hospital_name "$h")-gateway"))"
  else
    warn "$(hospital_name "$h")'s gateway does not run, so the envelopes it holds stay on its own peer"
  fi

  log "leave 2/5: blobs its Cluster peer held are re-pinned on the other hospitals"
  repin_elsewhere "$h"

  log "leave 3/5: a MAJORITY of the members' admins sign the channel update that removes it"
  m=$(first_running_member_except "$h")
  if channel_has_org "$m" "$(hospital_msp "$h")"; then
    propose_removal "$h" "$m" "${dir}/removal.pb"
    sign_and_submit "${dir}/removal.pb" "$(hospitals | wc -l)" "$h"
    wait_until "channel ${CHANNEL_NAME} to no longer hold $(hospital_msp "$h")" 60 channel_lacks_org "$m" "$(hospital_msp "$h")" ||
      die "the update was submitted but ${CHANNEL_NAME} still holds $(hospital_msp "$h"); see $(log_file peer-cli) and the orderers' logs"
  fi
  # From now on the ledger counts it out of the endorsement majority too.
  admin_query "$m" Membership:GetDeparture "[\"$(hospital_msp "$h")\"]" | jq -e '.channelLeftAt != null' >/dev/null ||
    admin_invoke "$m" Membership:ConfirmChannelExit "[\"$(hospital_msp "$h")\"]" "$h" >>"$(log_file peer-cli)" ||
    die "$(hospital_name "$m")'s admin could not confirm the exit of $(hospital_msp "$h") on the ledger; see $(log_file peer-cli)"

  log "leave 4/5: its processes stop (its state stays in $(hospital_dir "$h"))"
  stop_hospital_process gateway "$h"
  stop_chaincode_servers "$h"
  local c
  for c in cluster kubo peer orderer ca; do is_running "$(hospital_name "$h")-${c}" && stop_hospital_process "$c" "$h"; done
  record_departed "$h"

  log "leave 5/5: the private swarm key and Cluster secret are replaced"
  rotate_swarm_secrets

  local count; count=$(hospitals | wc -l)
  log "$(hospital_name "$h") ($(hospital_msp "$h")) left ${CHANNEL_NAME} in $((SECONDS - started))s; endorsement now needs $(majority_of "$count") of ${count} hospitals"
}
