# Per-host deployment: each hospital on its own machine, with a state directory
# of its own that holds its own keys only. What the others need of a hospital
# (its organisation definition: CA roots, its orderer's TLS certificate, its
# address, its Kubo and Cluster peer IDs) and what the consortium shares
# (genesis block, private swarm key, Cluster secret) travel as files that
# admins copy between hosts:
#   every host   export-org --hospital hospital<n> --address A   -> hospital<n>-org.tgz
#   one host     create-consortium <the others' org files>      -> consortium.tgz
#   other hosts  join-consortium consortium.tgz
#   every host   up --hospital hospital<n>  (again once a majority runs)
# Sourced, never executed.
# shellcheck shell=bash

# The hospital this state directory runs, in per-host mode (instance.env LOCAL=).
LOCAL_HOSPITAL=""
# The hospital named with --hospital, as a number.
ARG_HOSPITAL=""

per_host() { [[ -n "$LOCAL_HOSPITAL" ]]; }

# The hospitals whose processes this command starts and shows here: the local
# one in per-host mode, the one named with --hospital, or every member.
local_hospitals() {
  if per_host; then
    echo "$LOCAL_HOSPITAL"
  elif [[ -n "$ARG_HOSPITAL" ]]; then
    echo "$ARG_HOSPITAL"
  else
    hospitals
  fi
}

# The same for stopping: on a whole instance, a hospital that an unfinished
# add-hospital brings in stops with the members.
local_present_hospitals() {
  if per_host || [[ -n "$ARG_HOSPITAL" ]]; then local_hospitals; else present_hospitals; fi
}

# What a hospital publishes of itself, beside the certificates at their usual
# places under its directory: address, Kubo and Cluster peer IDs.
public_dir() { echo "$(hospital_dir "$1")/public"; }
published() { cat "$(public_dir "$1")/$2" 2>/dev/null; }

outbox_dir() { echo "${STATE_DIR}/outbox"; }
org_file() { echo "$(outbox_dir)/$(hospital_name "$1")-org.tgz"; }
bundle_file() { echo "$(outbox_dir)/consortium.tgz"; }

# The public part of a hospital's directory: what the other hospitals need to
# put it in the channel, verify its nodes' TLS and peer with its IPFS nodes.
ORG_FILES=(msp/cacerts/ca.pem msp/tlscacerts/ca.pem msp/config.yaml orderer/tls/server.crt
  orderer/tls/ca.crt peer/tls/ca.crt public/address public/kubo-peer-id public/cluster-peer-id)

# resolve_hospital_option: --hospital against the state dir (after init_instance).
resolve_hospital_option() {
  local given=${ARG_OPT[--hospital]:-}
  [[ -n "$given" ]] || return 0
  ARG_HOSPITAL=$((10#${given#hospital}))
  if per_host && ((ARG_HOSPITAL != LOCAL_HOSPITAL)); then
    usage_error "this state directory (${STATE_DIR}) runs hospital${LOCAL_HOSPITAL}, not ${given}; drop --hospital or run the command on ${given}'s host"
  fi
  ((ARG_HOSPITAL >= 1 && ARG_HOSPITAL <= HOSPITAL_COUNT)) ||
    usage_error "unknown hospital '${given}' (instance '${INSTANCE}' has hospital1..hospital${HOSPITAL_COUNT})"
}

require_per_host() {
  per_host || die "instance '${INSTANCE}' (${STATE_DIR}) is not a per-host instance; start one with: network/network.sh export-org --hospital hospital<n> --address <this host's address> --instance ${INSTANCE}"
}

# ---- this hospital's side ----------------------------------------------------

record_local_hospital() {
  local h=$1 address=$2 env="${STATE_DIR}/instance.env"
  mkdir -p "$STATE_DIR" "$CONSORTIUM_DIR" "$RUN_DIR" "$LOG_DIR" "$(public_dir "$h")"
  if [[ ! -f "$env" ]]; then
    printf 'INSTANCE=%s\nPORT_BASE=%s\nCHANNEL=%s\nHOSPITALS=%s\nLOCAL=%s\n' \
      "$INSTANCE" "$PORT_BASE" "$CHANNEL_NAME" "$HOSPITAL_COUNT" "$h" >"$env"
  fi
  echo "$address" >"$(public_dir "$h")/address"
  LOCAL_HOSPITAL=$h
}

# copy_public_tree <hospital> <root>: its public files to <root>/hospital<n>/.
copy_public_tree() {
  local f dest="$2/$(hospital_name "$1")"
  for f in "${ORG_FILES[@]}"; do
    mkdir -p "$(dirname "${dest}/${f}")"
    cp "$(hospital_dir "$1")/${f}" "${dest}/${f}"
  done
}

# export_org <hospital>: its public files as one archive, for the other admins.
export_org() {
  local h=$1 work
  printf '%s\n' "$(kubo_peer_id "$h")" >"$(public_dir "$h")/kubo-peer-id"
  printf '%s\n' "$(cluster_peer_id "$h")" >"$(public_dir "$h")/cluster-peer-id"
  scratch_dir work
  copy_public_tree "$h" "$work"
  mkdir -p "$(outbox_dir)"
  tar -C "$work" -czf "$(org_file "$h").new" "$(hospital_name "$h")" && mv "$(org_file "$h").new" "$(org_file "$h")"
}

# fingerprint <pem>: what admins compare out of band before they trust a file.
fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }

# ---- receiving the others' files ---------------------------------------------

# unpack <archive> <dir>: regular files and directories only; no absolute or
# parent paths, no links, nothing outside the listed hospitals' trees and the
# consortium files. Whatever a host receives may come from a hostile peer.
unpack() {
  local archive=$1 dir=$2 name
  [[ -f "$archive" ]] || die "no such file: ${archive}"
  tar -tzvf "$archive" >/dev/null 2>&1 || die "${archive} is not a gzip'd tar archive"
  while read -r name; do
    [[ "$name" =~ ^(hospital[0-9]{1,3}(/[A-Za-z0-9._-]+)*|consortium(/[A-Za-z0-9._-]+)*)/?$ && "$name" != *..* ]] ||
      die "${archive} holds an unexpected path '${name}'; refusing it"
  done < <(tar -tzf "$archive")
  tar -tzvf "$archive" | awk '$1 !~ /^[-d]/ { bad = 1 } END { exit bad }' ||
    die "${archive} holds links or special files; refusing it"
  tar -C "$dir" --no-same-owner --no-same-permissions -xzf "$archive"
}

# check_org_tree <dir> <hospital>: the unpacked tree of one hospital is complete
# and consistent: its orderer's TLS certificate chains to its TLS root.
check_org_tree() {
  local tree=$1/$(hospital_name "$2") f
  for f in "${ORG_FILES[@]}"; do
    [[ -f "${tree}/${f}" ]] || die "the definition of $(hospital_name "$2") lacks ${f}"
  done
  for f in msp/cacerts/ca.pem msp/tlscacerts/ca.pem orderer/tls/server.crt orderer/tls/ca.crt peer/tls/ca.crt; do
    openssl x509 -in "${tree}/${f}" -noout 2>/dev/null || die "$(hospital_name "$2")'s ${f} is not a certificate"
  done
  openssl verify -CAfile "${tree}/msp/tlscacerts/ca.pem" "${tree}/orderer/tls/server.crt" >/dev/null 2>&1 ||
    die "$(hospital_name "$2")'s orderer TLS certificate is not issued by its TLS root"
  [[ "$(cat "${tree}/public/address")" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] ||
    die "$(hospital_name "$2")'s address '$(cat "${tree}/public/address")' is not an IPv4 address"
  for f in kubo-peer-id cluster-peer-id; do
    [[ "$(cat "${tree}/public/${f}")" =~ ^[1-9A-HJ-NP-Za-km-z]{40,64}$ ]] || die "$(hospital_name "$2")'s ${f} is not a peer ID"
  done
}

# install_org_tree <dir> <hospital>: another hospital's public files into place.
# This hospital's own directory is never written from outside.
install_org_tree() {
  local src=$1/$(hospital_name "$2") h=$2 f
  ((h != LOCAL_HOSPITAL)) || die "refusing to overwrite this hospital's own files with received ones"
  for f in "${ORG_FILES[@]}"; do
    mkdir -p "$(dirname "$(hospital_dir "$h")/${f}")"
    cp "${src}/${f}" "$(hospital_dir "$h")/${f}"
  done
  log "$(hospital_name "$h") ($(published "$h" address)): CA $(fingerprint "$(hospital_dir "$h")/msp/cacerts/ca.pem")"
}

# trees_in <dir>: the hospital numbers of the trees unpacked there.
trees_in() { find "$1" -mindepth 1 -maxdepth 1 -type d -name 'hospital*' -printf '%f\n' | sed 's/^hospital//' | sort -n; }

# scratch_dir <var>: a temporary directory in <var>, removed when the command
# exits, however it exits (a refused file dies half-way through its checks).
SCRATCH_DIRS=()
scratch_dir() {
  local d; d=$(mktemp -d)
  SCRATCH_DIRS+=("$d")
  trap 'rm -rf "${SCRATCH_DIRS[@]}"' EXIT
  printf -v "$1" '%s' "$d"
}

import_org_file() {
  local file=$1 work n
  scratch_dir work
  unpack "$file" "$work"
  n=$(trees_in "$work")
  [[ "$n" =~ ^[0-9]+$ ]] || die "${file} must hold exactly one hospital's definition"
  ((n >= 1 && n <= HOSPITAL_COUNT)) || die "${file} defines hospital${n}; the consortium is hospital1..hospital${HOSPITAL_COUNT}"
  check_org_tree "$work" "$n"
  install_org_tree "$work" "$n"
}

# genesis_root_cert <block> <msp>: the root certificate a genesis block gives an org.
genesis_root_cert() {
  configtxlator proto_decode --type common.Block --input "$1" |
    jq -r --arg msp "$2" '.data.data[0].payload.data.config.channel_group.groups.Application.groups[$msp].values.MSP.value.config.root_certs[0] // empty' |
    base64 -d 2>/dev/null
}

# check_genesis_names_us <block>: the block the founder made admits this hospital
# with its own root certificate, and its orderer among the Raft consenters.
check_genesis_names_us() {
  local block=$1 h=$LOCAL_HOSPITAL ours theirs consenter
  ours=$(openssl x509 -in "$(hospital_dir "$h")/msp/cacerts/ca.pem" -outform DER | sha256sum)
  theirs=$(genesis_root_cert "$block" "$(hospital_msp "$h")" | openssl x509 -outform DER 2>/dev/null | sha256sum)
  [[ "$ours" == "$theirs" ]] || die "the genesis block does not carry $(hospital_name "$h")'s own CA certificate; do not use it"
  consenter=$(base64 -w0 "$(hospital_dir "$h")/orderer/tls/server.crt")
  configtxlator proto_decode --type common.Block --input "$block" |
    jq -e --arg c "$consenter" '.data.data[0].payload.data.config.channel_group.groups.Orderer.values.ConsensusType.value.metadata.consenters | any(.server_tls_cert == $c)' >/dev/null ||
    die "the genesis block does not make $(hospital_name "$h")'s orderer a consenter; do not use it"
  genesis_policies_hold "$block" ||
    die "the genesis block's policies are not the consortium's (MAJORITY of admins for changes, MAJORITY for endorsement, each organisation's own policies naming only its own members); do not use it"
}

# genesis_policies_hold <block>: no founder can make itself more than one vote
# among many: channel changes and endorsements need a MAJORITY, and every
# organisation's policies name only that organisation's members.
genesis_policies_hold() {
  configtxlator proto_decode --type common.Block --input "$1" | jq -e '
    .data.data[0].payload.data.config.channel_group as $c
    | ([$c.policies.Admins, $c.groups.Application.policies.Admins, $c.groups.Orderer.policies.Admins,
        $c.groups.Application.policies.LifecycleEndorsement, $c.groups.Application.policies.Endorsement]
       | all(.policy.type == 3 and .policy.value.rule == "MAJORITY"))
    and ([($c.groups.Application.groups, $c.groups.Orderer.groups) | to_entries[] | .key as $org
          | .value.policies[] | .policy | select(.type == 1) | .value.identities[] | .principal.msp_identifier == $org] | all)' >/dev/null
}

# What create-consortium hands every other host besides the definitions: the
# genesis block and the two secrets of the private swarm and the Cluster.
CONSORTIUM_FILES=("${CHANNEL_NAME}.block" swarm.key cluster-secret)

# write_bundle: the consortium's files and every hospital's definition, one archive.
write_bundle() {
  local work h f
  scratch_dir work
  mkdir -p "${work}/consortium"
  for f in "${CONSORTIUM_FILES[@]}"; do cp "${CONSORTIUM_DIR}/${f}" "${work}/consortium/${f}"; done
  for h in $(hospitals); do copy_public_tree "$h" "$work"; done
  mkdir -p "$(outbox_dir)"
  # shellcheck disable=SC2046
  (umask 077 && tar -C "$work" -czf "$(bundle_file).new" consortium $(hospital_names))
  chmod 600 "$(bundle_file).new"
  mv "$(bundle_file).new" "$(bundle_file)"
}

# ---- readiness across hosts ----------------------------------------------------

# count_reachable <offset>: members whose service at that port offset accepts TCP.
count_reachable() {
  local h n=0
  for h in $(hospitals); do tcp_open "$(hospital_host "$h")" "$(port "$h" "$1")" && n=$((n + 1)); done
  echo "$n"
}

# Raft orders only with a majority of the consenters up.
ordering_has_quorum() { (($(count_reachable "$OFF_ORDERER") >= $(majority_of "$HOSPITAL_COUNT"))); }
