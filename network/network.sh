#!/usr/bin/env bash
# Admin entry point of the EHR consortium: one instance = three hospitals, each
# with its own Fabric CA, orderer, peer, chaincode server, Kubo, Cluster peer
# and REST gateway, all native processes supervised from here.
set -euo pipefail
# Everything under the instance's state dir holds keys, ledgers or blobs: owner only.
umask 077

NETWORK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for lib in common toolchain instance process render ca fabric channel chaincode keys gateway status; do
  # shellcheck disable=SC1090
  source "${NETWORK_DIR}/lib/${lib}.sh"
done
# shellcheck source=../ipfs-cluster/steps.sh
source "${NETWORK_DIR}/../ipfs-cluster/steps.sh"

usage() {
  cat <<'EOF'
Usage: network/network.sh [--instance NAME] [--port-base N] <command> [args]

Commands:
  up                       start the consortium (creates it on first run; resumes after down)
  down                     stop every process of the instance, keep its data
  clean                    stop and delete the instance's state (ledgers, keys, blobs)
  status [--json]          channel, chaincode and per hospital its endpoints and health
  stop <component>...      stop single components, e.g. stop hospital3-peer hospital3-orderer ('up' restarts them)
  logs <component> [-f]    show a component's log, e.g. logs hospital1-peer
  deploy-chaincode         upgrade the chaincode in place with the next sequence
  register-user <hospital> <name> [--role R]
                           register and enroll a Fabric identity with ehr.role=R
  token <hospital> <sub> <role> [--ttl SECONDS]
                           print a dev JWT for that hospital's gateway
  rotate-key <hospital>    replace the hospital's document-key wrapping key, keeping the old one for its envelopes

Options (or environment):
  --instance NAME   (EHR_INSTANCE, default dev) instances run side by side
  --port-base N     (EHR_PORT_BASE, default 7000) hospital n uses ports N+20n .. N+20n+19
  EHR_HOST, EHR_HOST_<n>       address other nodes use to reach hospital n (default 127.0.0.1)
  EHR_LISTEN, EHR_LISTEN_<n>   address hospital n's services listen on (default: its host)
  EHR_STATE_HOME               where instances keep their state (default ~/.local/state/ehr-consortium)

Run 'network/network.sh <command> --help' for a command's own help.
EOF
}

cmd_help_or() {
  local text=$1
  shift
  for a in "$@"; do
    if [[ "$a" == "-h" || "$a" == "--help" ]]; then
      echo "$text"
      exit 0
    fi
  done
}

all_up() {
  local h
  for h in $(hospitals); do
    for c in ca orderer peer kubo cluster; do is_running "$(hospital_name "$h")-${c}" || return 1; done
    if [[ -f "${GATEWAY_DIR}/dist/main.js" ]]; then is_running "$(hospital_name "$h")-gateway" || return 1; fi
    local seq; seq=$(current_sequence)
    [[ -z "$seq" ]] || is_running "$(hospital_name "$h")-chaincode-s${seq}" || return 1
  done
}

cmd_up() {
  cmd_help_or "Usage: network/network.sh up
Starts every component of the instance and waits until each answers. The first
run creates identities, the channel and the chaincode; later runs resume with the
ledgers intact. Running it on a running instance only reports the status." "$@"
  use_toolchain
  local started=$SECONDS h
  if all_up && [[ -n "$(current_sequence)" ]]; then
    log "instance '${INSTANCE}' is already running"
    print_summary
    return 0
  fi
  log "bringing up instance '${INSTANCE}' (port base ${PORT_BASE}, state ${STATE_DIR})"
  record_instance
  prepare_fabric_config
  ensure_consortium_secrets

  log "step 1/7: certificate authorities"
  for h in $(hospitals); do start_ca "$h"; done
  for h in $(hospitals); do await_ca "$h"; done
  for h in $(hospitals); do
    issue_identities "$h"
    enroll_identity "$h" chaincode client "$(hospital_dir "$h")/chaincode-server" "" --tls
    ensure_hospital_keys "$h"
  done

  log "step 2/7: ordering service (Raft, one consenter per hospital)"
  create_genesis_block
  for h in $(hospitals); do start_orderer "$h"; done
  for h in $(hospitals); do await_orderer "$h"; done
  for h in $(hospitals); do join_orderer "$h"; done
  for h in $(hospitals); do wait_until "orderer of $(hospital_name "$h") active on ${CHANNEL_NAME}" 60 orderer_channel_active "$h" ||
    die "the ordering service did not become active; see $(log_file "$(hospital_name "$h")-orderer")"; done

  log "step 3/7: peers"
  for h in $(hospitals); do start_peer "$h"; done
  for h in $(hospitals); do await_peer "$h"; done
  for h in $(hospitals); do join_peer "$h"; done
  await_gossip

  log "step 4/7: IPFS private swarm"
  ipfs_up

  log "step 5/7: IPFS Cluster"
  cluster_up

  log "step 6/7: chaincode ${CHAINCODE_NAME}"
  local seq; seq=$(current_sequence)
  deploy_chaincode "${seq:-1}"

  log "step 7/7: hospital gateways"
  gateways_up

  log "instance '${INSTANCE}' is up in $((SECONDS - started))s"
  print_summary
}

cmd_down() {
  cmd_help_or "Usage: network/network.sh down
Stops every process of the instance and keeps its data; 'up' resumes it." "$@"
  [[ -d "$RUN_DIR" ]] || { log "instance '${INSTANCE}' has no state; nothing to stop"; return 0; }
  # Each kind stops at every hospital at once, the kinds in order: callers
  # before what they call, the ordering service after the peers.
  stop_everywhere stop_hospital_process gateway
  stop_everywhere stop_chaincode_servers
  stop_everywhere stop_hospital_process cluster
  stop_everywhere stop_hospital_process kubo
  stop_everywhere stop_hospital_process peer
  stop_everywhere stop_hospital_process orderer
  stop_everywhere stop_hospital_process ca
  log "instance '${INSTANCE}' stopped; data kept in ${STATE_DIR}. Resume with: network/network.sh up"
}

cmd_clean() {
  cmd_help_or "Usage: network/network.sh clean
Stops the instance and deletes its state directory: ledgers, identities, keys and blobs." "$@"
  cmd_down
  rm -rf "$STATE_DIR"
  log "instance '${INSTANCE}' removed (${STATE_DIR})"
}

cmd_status() {
  cmd_help_or "Usage: network/network.sh status [--json]
Prints the channel, the chaincode and, per hospital, its endpoints and whether
each component is running. --json prints a machine-readable document." "$@"
  [[ -f "${STATE_DIR}/instance.env" ]] || die "instance '${INSTANCE}' does not exist; run: network/network.sh up"
  if [[ "${1:-}" == "--json" ]]; then status_json; else print_summary; fi
}

cmd_stop() {
  cmd_help_or "Usage: network/network.sh stop <component>...
Stops single components (hospital<n>-{ca,orderer,peer,kubo,cluster,gateway}), e.g.
to rehearse a hospital outage. 'network/network.sh up' starts them again." "$@"
  (($#)) || die "name at least one component, e.g. hospital3-peer"
  local c
  for c in "$@"; do
    [[ "$c" =~ ^hospital[0-9]+-(ca|orderer|peer|kubo|cluster|gateway|chaincode-s[0-9]+)$ ]] || die "unknown component '${c}'"
    stop_process "$c"
  done
}

cmd_logs() {
  cmd_help_or "Usage: network/network.sh logs <component> [-f]
Components: hospital<n>-{ca,orderer,peer,kubo,cluster,gateway,chaincode-s<seq>}, configtxgen, peer-cli, osnadmin." "$@"
  local c=${1:-}
  [[ -n "$c" ]] || { ls "$LOG_DIR" 2>/dev/null | sed 's/\.log$//'; return 0; }
  local f; f=$(log_file "$c")
  [[ -f "$f" ]] || die "no log for '${c}'; run 'network/network.sh logs' to list them"
  if [[ "${2:-}" == "-f" ]]; then tail -n 100 -f "$f"; else tail -n 200 "$f"; fi
}

cmd_deploy_chaincode() {
  cmd_help_or "Usage: network/network.sh deploy-chaincode
Builds nothing: run 'npm run build' first. Packages the current chaincode/ as the
next sequence, installs and approves it at every running hospital, starts its
servers beside the old ones, commits it, then stops the old servers." "$@"
  use_toolchain
  local seq; seq=$(committed_sequence "$(live_peer_hospital)")
  ((seq > 0)) || die "no chaincode is committed yet; run: network/network.sh up"
  deploy_chaincode $((seq + 1))
  log "chaincode ${CHAINCODE_NAME} upgraded to sequence $((seq + 1))"
}

cmd_register_user() {
  cmd_help_or "Usage: network/network.sh register-user <hospital> <name> [--role R]
Registers <name> at the hospital's Fabric CA with attribute ehr.role=R (default
clinician) and enrolls it under <state>/hospital<n>/users/<name>." "$@"
  (($# >= 2)) || die "usage: network/network.sh register-user <hospital> <name> [--role R]"
  use_toolchain
  local h name=$2 role=clinician
  h=$(hospital_number "$1")
  [[ "${3:-}" == "--role" ]] && role=${4:?--role needs a value}
  [[ "$name" =~ ^[a-z0-9][a-z0-9._-]{1,62}$ ]] || die "user name must match [a-z0-9][a-z0-9._-]{1,62}"
  [[ "$role" =~ ^(clinician|patient|auditor|admin|gateway)$ ]] || die "role must be one of clinician, patient, auditor, admin, gateway"
  is_running "$(hospital_name "$h")-ca" || die "$(hospital_name "$h")'s CA is not running; run: network/network.sh up"
  local dir; dir="$(hospital_dir "$h")/users/${name}"
  [[ -f "${dir}/msp/signcerts/cert.pem" ]] && die "user ${name} already exists at ${dir}"
  enroll_identity "$h" "$name" client "$dir" "ehr.role=${role}:ecert" --tls
  log "registered ${name} (ehr.role=${role}) at $(hospital_name "$h"); MSP in ${dir}/msp"
}

cmd_token() {
  cmd_help_or "Usage: network/network.sh token <hospital> <sub> <role> [--ttl SECONDS]
Prints a dev JWT (ES256) for the hospital's gateway, signed with the hospital's
dev signing key in the instance state. role: clinician, patient, auditor or admin." "$@"
  (($# >= 3)) || die "usage: network/network.sh token <hospital> <sub> <role> [--ttl SECONDS]"
  local h ttl=3600
  h=$(hospital_number "$1")
  [[ "${4:-}" == "--ttl" ]] && ttl=${5:?--ttl needs a value}
  mint_token "$h" "$2" "$3" "$ttl"
}

cmd_rotate_key() {
  cmd_help_or "Usage: network/network.sh rotate-key <hospital>
Replaces the hospital's document-key wrapping key (DESIGN §5) with a new P-256
key and restarts its gateway, which registers the new public key on the ledger.
New envelopes are wrapped to the new key. The old private key stays under
<state>/hospital<n>/secrets/ (0600) and in the gateway's configuration, so the
envelopes already wrapped to it still open." "$@"
  (($# == 1)) || die "usage: network/network.sh rotate-key <hospital>"
  local h name kept
  h=$(hospital_number "$1")
  name=$(hospital_name "$h")
  is_running "${name}-gateway" || die "${name}-gateway is not running; run: network/network.sh up"
  kept=$(rotate_encryption_key "$h")
  stop_process "${name}-gateway"
  start_gateway "$h"
  await_gateway "$h"
  log "${name}: encryption key rotated and registered on the ledger; the previous key is kept at ${kept}"
}

main() {
  local instance="" port_base=""
  while (($#)); do
    case "$1" in
      --instance) instance=${2:?--instance needs a name}; shift 2 ;;
      --port-base) port_base=${2:?--port-base needs a number}; shift 2 ;;
      -h | --help | help) usage; return 0 ;;
      *) break ;;
    esac
  done
  (($#)) || { usage; return 1; }
  local cmd=$1
  shift
  init_instance "$instance" "$port_base"
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    clean) cmd_clean "$@" ;;
    status) cmd_status "$@" ;;
    logs) cmd_logs "$@" ;;
    stop) cmd_stop "$@" ;;
    deploy-chaincode) cmd_deploy_chaincode "$@" ;;
    register-user) cmd_register_user "$@" ;;
    token) cmd_token "$@" ;;
    rotate-key) cmd_rotate_key "$@" ;;
    *) usage >&2; die "unknown command '${cmd}'" ;;
  esac
}

main "$@"
