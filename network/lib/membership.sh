# Membership: a hospital joins a running consortium the way Fabric consortia
# grow. The new hospital makes its own identities and exports its organisation
# definition; the members turn it into a channel configuration update, which a
# MAJORITY of their admins sign one after another (the update travels between
# them as a file) and the last signer submits. Then the new hospital's orderer
# (a new Raft consenter), peer, chaincode, Kubo, Cluster peer and gateway start.
# Every step checks what is already done, so a failed run resumes where it stopped.
# Sourced, never executed.
# shellcheck shell=bash

join_dir() { echo "${CONSORTIUM_DIR}/join/$(hospital_name "$1")"; }

# How many admins must sign a change of the channel: its Admins policies are
# "MAJORITY Admins" of the member organisations.
majority_of() { echo $(($1 / 2 + 1)); }

# record_joining <hospital>: instance.env names the hospital being added, so
# `down` stops its processes too and a second add-hospital resumes it.
record_joining() {
  local env="${STATE_DIR}/instance.env"
  grep -q "^JOINING=$1\$" "$env" && return 0
  sed -i '/^JOINING=/d' "$env"
  echo "JOINING=$1" >>"$env"
  JOINING_HOSPITAL=$1
}

# record_member <hospital>: the joined hospital counts from now on.
record_member() {
  local env="${STATE_DIR}/instance.env"
  sed -i -e '/^JOINING=/d' -e "s/^HOSPITALS=.*/HOSPITALS=$1/" "$env"
  HOSPITAL_COUNT=$1
  JOINING_HOSPITAL=""
}

# ---- the new hospital's side -------------------------------------------------

new_hospital_identities() {
  local h=$1
  ensure_admin_tls "$h"
  start_ca "$h"
  await_ca "$h"
  issue_identities "$h"
  enroll_identity "$h" chaincode client "$(hospital_dir "$h")/chaincode-server" "" --tls
  ensure_hospital_keys "$h"
}

# export_org_definition <hospital>: the two config groups the hospital hands to
# the members: as an application org (MSP, policies, anchor peer) and as an
# orderer org (MSP, policies, its orderer's endpoint).
export_org_definition() {
  local h=$1 dir kind endpoints
  dir=$(join_dir "$h")
  [[ -s "${dir}/application-org.json" && -s "${dir}/orderer-org.json" ]] && return 0
  mkdir -p "$dir"
  for kind in application orderer; do
    endpoints='[]'
    [[ "$kind" == orderer ]] && endpoints="[ \"$(endpoint "$h" "$OFF_ORDERER")\" ]"
    render org.yaml.tmpl "${dir}/${kind}/configtx.yaml" MSP_ID="$(hospital_msp "$h")" \
      MSP_DIR="$(hospital_dir "$h")/msp" ORDERER_ENDPOINTS="$endpoints" \
      HOST="$(hospital_host "$h")" PEER_PORT="$(port "$h" "$OFF_PEER")"
    FABRIC_CFG_PATH="${dir}/${kind}" configtxgen -printOrg "$(hospital_msp "$h")" >"${dir}/${kind}-org.json.new" \
      2>>"$(log_file configtxgen)" || die "configtxgen -printOrg failed; see $(log_file configtxgen)"
    mv "${dir}/${kind}-org.json.new" "${dir}/${kind}-org.json"
  done
  # The orderer's TLS certificate makes it a Raft consenter.
  base64 -w0 "$(hospital_dir "$h")/orderer/tls/server.crt" >"${dir}/orderer-tls.b64"
  log "$(hospital_name "$h"): organisation definition exported to ${dir}"
}

# ---- the members' side -------------------------------------------------------

# fetch_channel_config <member> <out.json> [<block.pb>]: the channel's current
# configuration, read through that member's admin.
fetch_channel_config() {
  local m=$1 out=$2 block=${3:-} o tmp
  tmp=$(mktemp -d)
  block=${block:-${tmp}/config.pb}
  o=$(live_orderer_hospital)
  # shellcheck disable=SC2046
  peer_cli "$m" channel fetch config "$block" -c "$CHANNEL_NAME" $(orderer_flags "$o") >>"$(log_file peer-cli)" 2>&1 ||
    { rm -rf "$tmp"; die "fetching the configuration of ${CHANNEL_NAME} failed; see $(log_file peer-cli)"; }
  configtxlator proto_decode --type common.Block --input "$block" | jq '.data.data[0].payload.data.config' >"$out"
  rm -rf "$tmp"
}

channel_lacks_org() { ! channel_has_org "$@"; }

channel_has_org() {
  local m=$1 msp=$2 cfg
  cfg=$(mktemp)
  fetch_channel_config "$m" "$cfg"
  jq -e --arg msp "$msp" '.channel_group.groups.Application.groups | has($msp)' "$cfg" >/dev/null
  local rc=$?
  rm -f "$cfg"
  return "$rc"
}

# propose_addition <new> <member>: the update (new application org, new orderer
# org, one more Raft consenter) as an unsigned envelope file.
propose_addition() {
  local h=$1 m=$2 dir work
  dir=$(join_dir "$h")
  [[ -s "${dir}/update.pb" ]] && return 0
  work=$(mktemp -d)
  fetch_channel_config "$m" "${work}/config.json"
  jq --arg msp "$(hospital_msp "$h")" --slurpfile app "${dir}/application-org.json" \
    --slurpfile ord "${dir}/orderer-org.json" --rawfile tls "${dir}/orderer-tls.b64" \
    --arg host "$(hospital_host "$h")" --argjson port "$(port "$h" "$OFF_ORDERER")" '
      .channel_group.groups.Application.groups[$msp] = $app[0]
      | .channel_group.groups.Orderer.groups[$msp] = $ord[0]
      | .channel_group.groups.Orderer.values.ConsensusType.value.metadata.consenters +=
          [{host: $host, port: $port, client_tls_cert: $tls, server_tls_cert: $tls}]' \
    "${work}/config.json" >"${work}/modified.json"
  config_update_envelope "${work}/config.json" "${work}/modified.json" "${dir}/update.pb.new" "$work"
  mv "${dir}/update.pb.new" "${dir}/update.pb"
  rm -rf "$work"
  log "$(hospital_name "$m"): proposed the update that adds $(hospital_msp "$h") (${dir}/update.pb)"
}

# config_update_envelope <original.json> <modified.json> <out.pb> <workdir>
config_update_envelope() {
  local from=$1 to=$2 out=$3 work=$4
  configtxlator proto_encode --type common.Config --input "$from" --output "${work}/from.pb"
  configtxlator proto_encode --type common.Config --input "$to" --output "${work}/to.pb"
  configtxlator compute_update --channel_id "$CHANNEL_NAME" --original "${work}/from.pb" --updated "${work}/to.pb" \
    --output "${work}/update.pb" || die "computing the configuration update failed (is the change already in the channel?)"
  configtxlator proto_decode --type common.ConfigUpdate --input "${work}/update.pb" |
    jq --arg ch "$CHANNEL_NAME" '{payload: {header: {channel_header: {channel_id: $ch, type: 2}}, data: {config_update: .}}}' \
      >"${work}/envelope.json"
  configtxlator proto_encode --type common.Envelope --input "${work}/envelope.json" --output "$out"
}

# sign_update <file-in> <member> <file-out>: one member's admin adds its signature
# to a copy, as it would to a file received from another hospital.
sign_update() {
  local in=$1 m=$2 out=$3
  [[ -s "$out" ]] && return 0
  cp "$in" "${out}.new"
  peer_cli "$m" channel signconfigtx -f "${out}.new" >>"$(log_file peer-cli)" 2>&1 ||
    die "$(hospital_name "$m")'s admin could not sign ${in}; see $(log_file peer-cli)"
  mv "${out}.new" "$out"
  log "$(hospital_name "$m")'s admin signed the update (${out})"
}

# submit_update <file> <member>: the member's admin submits, adding its own signature.
submit_update() {
  local file=$1 m=$2 o
  o=$(live_orderer_hospital)
  # shellcheck disable=SC2046
  peer_cli "$m" channel update -f "$file" -c "$CHANNEL_NAME" $(orderer_flags "$o") >>"$(log_file peer-cli)" 2>&1 ||
    die "$(hospital_name "$m") could not submit the update; see $(log_file peer-cli)"
  log "$(hospital_name "$m")'s admin submitted the signed update to ${CHANNEL_NAME}"
}

# sign_and_submit <update-file> <channel-orgs> [<excluded>]: a MAJORITY of the
# channel's organisations sign, each member's admin with its own identity (not
# the excluded hospital's: the one leaving); the last of them submits.
sign_and_submit() {
  local file=$1 orgs=$2 excluded=${3:-} need signers=() m
  need=$(majority_of "$orgs")
  for m in $(hospitals); do
    ((${#signers[@]} < need)) || break
    [[ "$m" == "$excluded" ]] && continue
    is_running "$(hospital_name "$m")-peer" && signers+=("$m")
  done
  ((${#signers[@]} == need)) ||
    die "the update needs ${need} members' admins and only ${#signers[@]} of them have a running peer; run: network/network.sh up"
  local i current=$file
  for ((i = 0; i < need - 1; i++)); do
    local next="${file%.pb}.signed-by-$(hospital_name "${signers[$i]}").pb"
    sign_update "$current" "${signers[$i]}" "$next"
    current=$next
  done
  submit_update "$current" "${signers[$((need - 1))]}"
}

# ---- bringing the new hospital's nodes in ------------------------------------

orderer_join_with_latest_config() {
  local h=$1 block
  block="$(join_dir "$h")/latest-config.pb"
  wait_until "$(hospital_name "$h")-orderer's admin API to answer" 60 orderer_admin_answers "$h" ||
    die "orderer admin API of $(hospital_name "$h") does not answer; see $(log_file "$(hospital_name "$h")-orderer")"
  orderer_has_channel "$h" && return 0
  # A consenter added to a running channel joins with a config block that names it,
  # then catches up on the blocks before it from the other orderers.
  fetch_channel_config "$(first_running_member)" /dev/null "$block"
  osnadmin_cli "$h" join --channelID "$CHANNEL_NAME" --config-block "$block" >>"$(log_file osnadmin)" 2>&1 ||
    orderer_has_channel "$h" || die "orderer of $(hospital_name "$h") could not join ${CHANNEL_NAME}; see $(log_file osnadmin)"
  log "$(hospital_name "$h")-orderer: joined ${CHANNEL_NAME} as a Raft consenter"
}

first_running_member() {
  local m
  for m in $(hospitals); do is_running "$(hospital_name "$m")-peer" && { echo "$m"; return 0; }; done
  die "no member's peer runs; run: network/network.sh up"
}

peer_caught_up() {
  local h=$1 ref=$2 mine theirs
  mine=$(channel_height "$h") && theirs=$(channel_height "$ref") && [[ -n "$mine" && "$mine" -ge "$theirs" ]]
}

# The new node in the private swarm; the running nodes are told at once and
# their configuration keeps it for their next start.
join_swarm() {
  local h=$1 m
  init_kubo "$h"
  for m in $(hospitals) "$h"; do set_kubo_peering "$m"; done
  is_running "$(hospital_name "$h")-kubo" || start_kubo "$h"
  await_ready "$(hospital_name "$h")-kubo" 60 kubo_ready "$h"
  for m in $(hospitals); do
    kubo "$m" swarm peering add "/ip4/$(hospital_host "$h")/tcp/$(port "$h" "$OFF_KUBO_SWARM")/p2p/$(kubo_peer_id "$h")" \
      >/dev/null 2>&1 || warn "$(hospital_name "$m")-kubo did not take the new peer at once; it will at its next start"
  done
}

# Cluster's CRDT accepts pins only from trusted peers, read at start: every
# member's peer restarts, one at a time, trusting the new one.
join_cluster() {
  local h=$1 m all
  init_cluster "$h"
  for m in $(hospitals) "$h"; do configure_cluster "$m"; done
  for m in $(hospitals); do
    if is_running "$(hospital_name "$m")-cluster" && ! cluster_trusts_running "$m" "$h"; then
      stop_process "$(hospital_name "$m")-cluster"
      start_cluster "$m"
      await_ready "$(hospital_name "$m")-cluster" 90 cluster_api "$m" /id
      log "$(hospital_name "$m")-cluster: restarted, trusting $(hospital_name "$h")"
    fi
  done
  is_running "$(hospital_name "$h")-cluster" || start_cluster "$h"
  await_ready "$(hospital_name "$h")-cluster" 90 cluster_api "$h" /id
  all=$(($(hospitals | wc -l) + 1))
  wait_until "$(hospital_name "$h")'s Cluster peer to see ${all} peers" 90 cluster_sees "$h" "$all" ||
    die "$(hospital_name "$h")'s Cluster peer sees fewer than ${all} peers; see $(log_file "$(hospital_name "$h")-cluster")"
}

# Whether a running Cluster peer was started with the new peer among its trusted
# peers (its service.json is older than its start otherwise).
cluster_trusts_running() {
  local m=$1 h=$2 pidfile
  pidfile="${RUN_DIR}/$(hospital_name "$m")-cluster.pid"
  [[ -f "$pidfile" && "$pidfile" -nt "$(cluster_home "$m")/service.json" ]] &&
    jq -e --arg id "$(cluster_peer_id "$h")" '.consensus.crdt.trusted_peers | index($id)' "$(cluster_home "$m")/service.json" >/dev/null
}

# ---- the command -------------------------------------------------------------

# add_hospital <n>: the whole join, resumable.
add_hospital() {
  local h=$1 started=$SECONDS seq m
  record_joining "$h"

  log "join 1/7: $(hospital_name "$h") creates its CA, identities and keys"
  new_hospital_identities "$h"
  export_org_definition "$h"

  log "join 2/7: a MAJORITY of the members' admins sign the channel update, one submits"
  m=$(first_running_member)
  if channel_has_org "$m" "$(hospital_msp "$h")"; then
    log "channel ${CHANNEL_NAME} already has $(hospital_msp "$h")"
  else
    propose_addition "$h" "$m"
    sign_and_submit "$(join_dir "$h")/update.pb" "$(hospitals | wc -l)"
    wait_until "channel ${CHANNEL_NAME} to hold $(hospital_msp "$h")" 60 channel_has_org "$m" "$(hospital_msp "$h")" ||
      die "the update was submitted but ${CHANNEL_NAME} does not hold $(hospital_msp "$h"); see $(log_file peer-cli) and the orderers' logs"
  fi

  log "join 3/7: $(hospital_name "$h")'s orderer becomes a Raft consenter"
  is_running "$(hospital_name "$h")-orderer" || start_orderer "$h"
  await_orderer "$h"
  orderer_join_with_latest_config "$h"
  wait_until "$(hospital_name "$h")-orderer active on ${CHANNEL_NAME}" 120 orderer_channel_active "$h" ||
    die "the new orderer did not become active; see $(log_file "$(hospital_name "$h")-orderer")"

  log "join 4/7: $(hospital_name "$h")'s peer joins from the genesis block and catches up"
  is_running "$(hospital_name "$h")-peer" || start_peer "$h"
  await_peer "$h"
  join_peer "$h"
  wait_until "$(hospital_name "$h")-peer to catch up with $(hospital_name "$m")" 180 peer_caught_up "$h" "$m" ||
    die "the new peer did not catch up; see $(log_file "$(hospital_name "$h")-peer")"

  log "join 5/7: the private swarm and IPFS Cluster admit $(hospital_name "$h")"
  join_swarm "$h"
  join_cluster "$h"

  log "join 6/7: $(hospital_name "$h") approves the chaincode definition in force"
  seq=$(current_sequence)
  install_chaincode "$h" "$seq"
  is_running "$(hospital_name "$h")-chaincode-s${seq}" || start_chaincode_server "$h" "$seq"
  approve_chaincode "$h" "$seq"

  log "join 7/7: $(hospital_name "$h")'s gateway registers its encryption key"
  record_member "$h"
  is_running "$(hospital_name "$h")-gateway" || start_gateway "$h"
  await_gateway "$h"
  await_cluster_allocation

  local count; count=$(hospitals | wc -l)
  log "$(hospital_name "$h") ($(hospital_msp "$h")) joined ${CHANNEL_NAME} in $((SECONDS - started))s; endorsement now needs $(majority_of "$count") of ${count} hospitals"
}
