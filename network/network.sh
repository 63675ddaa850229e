#!/usr/bin/env bash
# Admin entry point of the EHR consortium: one instance = three hospitals, each
# with its own Fabric CA, orderer, peer, chaincode server, Kubo, Cluster peer
# and REST gateway, all native processes supervised from here.
set -euo pipefail
# Everything under the instance's state dir holds keys, ledgers or blobs: owner only.
umask 077

NETWORK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for lib in common args toolchain instance hosts process render ca fabric channel chaincode keys gateway status membership departure; do
  # shellcheck disable=SC1090
  source "${NETWORK_DIR}/lib/${lib}.sh"
done
# shellcheck source=../ipfs-cluster/steps.sh
source "${NETWORK_DIR}/../ipfs-cluster/steps.sh"

# ---- commands: their options, operands and help (parsed by lib/args.sh) ------

define_command up "" "" "start the consortium (creates it on first run; resumes after down)" <<'HELP'
Usage: network/network.sh up [--instance NAME] [--port-base N] [--hospital NAME]
Starts every component of the instance that is not running and waits until
each answers, with a 'started <component>' line for each one it starts. The
first run creates identities, the channel and the chaincode; later runs resume
with the ledgers intact. On a running instance it starts nothing and only
reports: the processes keep running the code they were started with, and it
says which code was rebuilt since and what to run to pick it up.
A new instance's ports (port base .. base+99) must lie outside the kernel's
ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range).
With --hospital (and always on a per-host instance) it starts that hospital's
processes only. On separate hosts the chaincode is committed by the 'up' that
completes a majority of approvals, and a hospital's gateway starts once it is:
run 'up' once on every host, then once more on those that said so.
HELP

define_command down "" "" "stop every process of the instance, keep its data" <<'HELP'
Usage: network/network.sh down [--instance NAME] [--hospital NAME]
Stops every process of the instance (with --hospital, that hospital's) and
keeps its data; 'up' resumes it.
HELP

define_command clean "" "" "stop the instance and delete its state (ledgers, keys, blobs)" <<'HELP'
Usage: network/network.sh clean [--instance NAME] [--yes]
Stops the instance and deletes its state directory: ledgers, identities, keys
and blobs. It names the instance and its state directory first and, on a
terminal, asks you to type the instance name. Without a terminal (scripts, CI)
it refuses unless --yes is given.
HELP

define_command status "--json" "" "channel, chaincode and per hospital its endpoints and health" <<'HELP'
Usage: network/network.sh status [--instance NAME] [--hospital NAME] [--json]
Prints the channel, the chaincode and, per hospital (with --hospital, and on a
per-host instance, that one), its endpoints and whether each component is
running. --json prints a machine-readable document.
HELP

define_command stop "" "component..." "stop single components ('up' restarts them)" <<'HELP'
Usage: network/network.sh stop [--instance NAME] <component>...
Stops single components, e.g. to rehearse a hospital outage:
  network/network.sh stop hospital3-peer hospital3-orderer
Components: hospital<n>-{ca,orderer,peer,kubo,cluster,gateway,chaincode-s<seq>}
for each hospital <n> of the instance. 'network/network.sh up' starts them again.
HELP

define_command logs "--lines= -n:--lines --follow -f:--follow" "[log]" "show the end of a log; without a name, list the logs" <<'HELP'
Usage: network/network.sh logs [--instance NAME] [<log>] [--lines N | -n N] [--follow | -f]
Prints the last 200 lines of a log (N with --lines/-n), colour codes stripped;
--follow/-f then keeps printing what is appended. Without a name it lists the
logs the instance has. The logs, for each hospital <n> of the instance:
  hospital<n>-ca                 Fabric CA server
  hospital<n>-ca-client          fabric-ca-client calls (registrations, enrollments)
  hospital<n>-orderer            orderer
  hospital<n>-peer               peer
  hospital<n>-chaincode-s<seq>   chaincode server of that chaincode sequence
  hospital<n>-kubo               Kubo (IPFS) node
  hospital<n>-cluster            IPFS Cluster peer
  hospital<n>-gateway            REST gateway
and for the whole instance:
  configtxgen                    genesis block creation
  peer-cli                       peer CLI calls (channel joins, chaincode lifecycle)
  osnadmin                       orderer channel joins
The files are <state dir>/logs/<log>.log.
HELP

define_command deploy-chaincode "" "" "build the chaincode and upgrade it in place (next sequence)" <<'HELP'
Usage: network/network.sh deploy-chaincode [--instance NAME]
Builds the chaincode (npm run build of ledger-model and chaincode), packages it
as the next sequence, installs and approves it at every running hospital,
starts its servers beside the old ones, commits it, then stops the old servers.
This is how a running instance picks up changed chaincode.
HELP

define_command register-user "--role=" "hospital user" "register and enroll a Fabric identity with ehr.role" <<'HELP'
Usage: network/network.sh register-user [--instance NAME] <hospital> <name> [--role R]
Registers <name> at the hospital's Fabric CA with attribute ehr.role=R (default
clinician; one of clinician, patient, auditor, admin, gateway) and enrolls it
under <state>/hospital<n>/users/<name>: an MSP (enrollment certificate and key),
no TLS certificate.
HELP

define_command token "--ttl=" "hospital sub role" "print a dev JWT for a hospital's gateway" <<'HELP'
Usage: network/network.sh token [--instance NAME] <hospital> <sub> <role> [--ttl SECONDS]
Prints a dev JWT (ES256) for the hospital's gateway, signed with the hospital's
dev signing key in the instance state. role: clinician, patient, auditor,
admin or researcher. --ttl defaults to 3600 seconds.
HELP

define_command rotate-key "" "hospital" "replace a hospital's document-key wrapping key" <<'HELP'
Usage: network/network.sh rotate-key [--instance NAME] <hospital>
Replaces the hospital's document-key wrapping key (DESIGN §5) with a new P-256
key and restarts its gateway, which registers the new public key on the ledger.
New envelopes are wrapped to the new key. The old private key stays under
<state>/hospital<n>/secrets/ (0600) and in the gateway's configuration, so the
envelopes already wrapped to it still open.
HELP

define_command add-hospital "" "new-hospital" "bring a new hospital into the running consortium (MAJORITY-signed channel update)" <<'HELP'
Usage: network/network.sh add-hospital [--instance NAME] hospital<n>
Brings hospital<n> (the next number: hospital4 in a three-hospital instance)
into the running consortium, in seven steps, each shown as it runs:
  1. the new hospital starts its own CA, issues its identities (peer, orderer,
     admin, gateway) and keys, and exports its organisation definition;
  2. a channel configuration update is made from it (new application org with
     its anchor peer, new orderer org, one more Raft consenter), signed by a
     MAJORITY of the members' admins, each with its own identity, the update
     passing from one to the next as a file under
     <state>/consortium/join/hospital<n>/, and submitted by the last signer;
  3. the new orderer joins the channel as a consenter and catches up;
  4. the new peer joins from the genesis block and catches up;
  5. its Kubo joins the private swarm; every Cluster peer is restarted, one at a
     time, trusting the new one;
  6. it approves the chaincode definition in force;
  7. its gateway starts and registers its encryption key on the ledger.
Every member must be running. The endorsement policy (MAJORITY of the channel's
organisations) counts the new hospital from step 2 on. A run that stopped
half-way resumes where it stopped when run again; 'down' stops the joining
hospital's processes too.
HELP

define_command remove-hospital "" "hospital" "take a hospital out of the running consortium (MAJORITY-approved)" <<'HELP'
Usage: network/network.sh remove-hospital [--instance NAME] hospital<n> [--yes]
Takes hospital<n> out of the running consortium, in five steps:
  1. a MAJORITY of the members' admins (not the leaving one's) approve its
     departure on the ledger, each with its own identity: the consents it holds
     are revoked at once and its gateway purges the envelopes they gave it;
  2. its Cluster peer stops and every blob is re-pinned until replication-min
     of the remaining peers hold it;
  3. the same majority signs the channel update that removes its organisations
     and its Raft consenter (the update travels between them as a file under
     <state>/consortium/join/hospital<n>/), and the ledger then stops counting it
     for the endorsement majority;
  4. its processes stop; its state directory stays (it is that hospital's);
  5. the private swarm key and the Cluster secret are replaced, and every
     remaining Kubo and Cluster peer restarts with them.
Records it stored stay readable at their patients' home hospitals and under
consents. Every other member must run. A run that stopped half-way resumes
where it stopped when run again. It names the hospital first and, on a
terminal, asks you to type its name; without a terminal it needs --yes.
HELP

define_command export-org "--address=" "" "per-host: create this host's hospital and export its organisation definition" <<'HELP'
Usage: network/network.sh export-org --hospital hospital<n> --address A [--instance NAME] [--port-base N]
First step of a deployment with each hospital on its own host (see README,
"Deploying across hosts"). On this host it creates the state of hospital<n>
alone: its CA (started), its identities, keys, Kubo and Cluster peer
identities, all bound to address A (this host's address, which the other
hospitals reach it at). Then it writes the hospital's organisation definition,
public files only (CA root certificates, its orderer's TLS certificate, its
address, its Kubo and Cluster peer IDs), to
  <state>/outbox/hospital<n>-org.tgz
Copy that file to the founding host, which runs create-consortium. The same
--port-base on every host; hospital n uses ports base+20n .. base+20n+19 on A.
Running it again re-exports the same definition.
HELP

define_command create-consortium "" "org-file..." "per-host: on the founding host, make the genesis block and consortium secrets" <<'HELP'
Usage: network/network.sh create-consortium <hospital<m>-org.tgz>... [--instance NAME]
On the founding host, after export-org: takes the other hospitals'
organisation definitions (one file each, as export-org wrote them), checks
them, prints each one's CA fingerprint (compare it with what that hospital's
admin reads you on another channel), and makes the channel's genesis block,
the private swarm key and the Cluster secret. It writes them, with every
hospital's definition, to
  <state>/outbox/consortium.tgz   (mode 0600)
It holds the swarm key and the Cluster secret: copy it to each other host over
an encrypted, authenticated channel (e.g. scp), where join-consortium takes it.
Then run 'up' here. Every hospital of the consortium (hospital1..hospital3)
must be given.
HELP

define_command join-consortium "" "consortium-file" "per-host: on the other hosts, take the founder's consortium.tgz" <<'HELP'
Usage: network/network.sh join-consortium <consortium.tgz> [--instance NAME]
On each host but the founding one, after export-org: takes the file that
create-consortium wrote. It refuses a genesis block that does not carry this
hospital's own CA certificate, does not make its orderer a consenter, or
loosens the channel's MAJORITY policies, and never lets the file overwrite this
hospital's own files. It prints the other
hospitals' CA fingerprints to compare. Then run 'up' here.
HELP

define_command help "" "[command]" "this overview, or one command's help" <<'HELP'
Usage: network/network.sh help [<command>]
Prints the overview of every command, or the help of one command.
HELP

define_option_value --hospital '^hospital[0-9]{1,3}$' "a hospital, e.g. --hospital hospital2"
define_option_value --address '^[0-9]{1,3}([.][0-9]{1,3}){3}$' "an IPv4 address, e.g. --address 127.0.1.2"
define_option_value --lines '^[0-9]{1,7}$' "a number of lines, e.g. --lines 50"
define_option_value --ttl '^[0-9]{1,7}$' "a number of seconds, e.g. --ttl 3600"
define_option_value --role '^(clinician|patient|auditor|admin|gateway)$' "one of clinician, patient, auditor, admin, gateway"

GLOBAL_HELP="Global options, accepted anywhere on the line (before or after the command):
  --instance NAME   (or EHR_INSTANCE; default dev) the instance to act on
  --port-base N     (or EHR_PORT_BASE; default 7000) hospital n uses ports N+20n .. N+20n+19
  --hospital NAME   act on that hospital's processes only (up, down, status, ...); a per-host
                    instance (export-org) always acts on its own hospital only
  --yes, -y         confirm a destructive command (clean, remove-hospital) without being asked
  --help, -h        help
Options are written '--opt value' or '--opt=value'. A mistyped command, option
or component is an error (exit 2) that names the nearest valid spelling."

usage() {
  local c
  echo "Usage: network/network.sh <command> [operands] [options]"
  echo
  echo "Commands:"
  for c in "${COMMANDS[@]}"; do printf '  %-18s %s\n' "$c" "${CMD_SUMMARY[$c]}"; done
  echo
  echo "$GLOBAL_HELP"
  cat <<'HELP'

Environment:
  EHR_HOST, EHR_HOST_<n>       address other nodes use to reach hospital n (default 127.0.0.1)
  EHR_LISTEN, EHR_LISTEN_<n>   address hospital n's services listen on (default: its host)
  EHR_STATE_HOME               where instances keep their state (default ~/.local/state/ehr-consortium)
  EHR_GATEWAY_READY_TIMEOUT    seconds 'up' waits for each gateway's /health (default 180)
  EHR_GATEWAY_HTTPS=1          gateways serve HTTPS with their identity's TLS certificate (hospital CA)
  EHR_CLUSTER_ALLOCATION_TIMEOUT  seconds 'up' waits until IPFS Cluster can allocate (default 120)
  EHR_BATCH_TIMEOUT            the channel's BatchTimeout for a new instance (default 250ms)
  EHR_CHAINCODE_LOG_LEVEL      chaincode servers' shim log level (default WARNING)
  EHR_PEER_LOG_SPEC, EHR_ORDERER_LOG_SPEC  FABRIC_LOGGING_SPEC of peers and orderers
                               (default: INFO, but WARNING for per-call gRPC and endorsement lines)

Run 'network/network.sh <command> --help' for a command's own help.
HELP
}

# show_help [command]: one command's help, or the overview.
show_help() {
  if [[ -z "${1:-}" ]]; then
    usage
    return 0
  fi
  echo "${CMD_HELP[$1]}"
  echo
  echo "$GLOBAL_HELP"
}

# ---- steps -------------------------------------------------------------------

require_instance() {
  instance_exists ||
    die "instance '${INSTANCE}' does not exist (no ${STATE_DIR}/instance.env); check --instance, or create it with: network/network.sh up --instance ${INSTANCE}"
}

all_up() {
  local h c
  for h in $(local_hospitals); do
    for c in ca orderer peer kubo cluster; do is_running "$(hospital_name "$h")-${c}" || return 1; done
    if [[ -f "${GATEWAY_DIR}/dist/main.js" ]]; then is_running "$(hospital_name "$h")-gateway" || return 1; fi
    local seq; seq=$(current_sequence)
    [[ -z "$seq" ]] || is_running "$(hospital_name "$h")-chaincode-s${seq}" || return 1
  done
}

# The chaincode server runs chaincode/dist, which imports ledger-model/dist.
build_chaincode() {
  log "building the chaincode: npm run build --workspace ledger-model --workspace chaincode"
  (cd "$PROJECT_DIR" && npm run build --silent --workspace ledger-model --workspace chaincode) >&2 ||
    die "building the chaincode failed (errors above); fix them, then run: network/network.sh deploy-chaincode"
}

strip_colours() { sed -u -E 's/\x1b\[[0-9;?]*[ -\/]*[@-~]//g'; }

# ---- commands ----------------------------------------------------------------

cmd_up() {
  use_toolchain
  local started=$SECONDS h
  if instance_exists && all_up && [[ -n "$(current_sequence)" ]]; then
    log "$(up_what) is already running; nothing was started"
    report_running_code
    print_summary
    return 0
  fi
  if per_host; then
    [[ -s "$(genesis_block)" ]] || die "hospital${LOCAL_HOSPITAL} has not received the consortium's files yet; on the founding host run create-consortium, then here: network/network.sh join-consortium <consortium.tgz> --instance ${INSTANCE}"
  elif [[ -n "$ARG_HOSPITAL" ]] && ! instance_exists; then
    die "instance '${INSTANCE}' does not exist; create it whole with: network/network.sh up --instance ${INSTANCE}, or set up a per-host deployment (network/network.sh export-org --help)"
  fi
  log "bringing up $(up_what) (port base ${PORT_BASE}, state ${STATE_DIR})"
  record_instance
  prepare_fabric_config
  ensure_consortium_secrets

  log "step 1/7: certificate authorities"
  # The admin TLS CAs first: the Fabric CA's operations listener serves their certificate.
  for h in $(local_hospitals); do ensure_admin_tls "$h"; done
  for h in $(local_hospitals); do start_ca "$h"; done
  for h in $(local_hospitals); do await_ca "$h"; done
  for h in $(local_hospitals); do
    issue_identities "$h"
    enroll_identity "$h" chaincode client "$(hospital_dir "$h")/chaincode-server" "" --tls
    ensure_hospital_keys "$h"
  done

  log "step 2/7: ordering service (Raft, one consenter per hospital)"
  create_genesis_block
  for h in $(local_hospitals); do start_orderer "$h"; done
  for h in $(local_hospitals); do await_orderer "$h"; done
  for h in $(local_hospitals); do join_orderer "$h"; done
  for h in $(local_hospitals); do wait_until "orderer of $(hospital_name "$h") active on ${CHANNEL_NAME}" 60 orderer_channel_active "$h" ||
    die "the ordering service did not become active; see $(log_file "$(hospital_name "$h")-orderer")"; done

  log "step 3/7: peers"
  for h in $(local_hospitals); do start_peer "$h"; done
  for h in $(local_hospitals); do await_peer "$h"; done
  for h in $(local_hospitals); do join_peer "$h"; done
  await_gossip

  log "step 4/7: IPFS private swarm"
  ipfs_up

  log "step 5/7: IPFS Cluster"
  cluster_up

  log "step 6/7: chaincode ${CHAINCODE_NAME}"
  local seq; seq=$(current_sequence)
  if ! deploy_chaincode "${seq:-1}"; then
    log "$(up_what) runs everything but its gateway, which starts once the chaincode is committed; run this command again once a majority of the hospitals ran theirs: network/network.sh up --instance ${INSTANCE}"
    print_summary
    return 0
  fi

  log "step 7/7: hospital gateways"
  gateways_up

  log "$(up_what) is up in $((SECONDS - started))s"
  print_summary
}

# What 'up' acts on, for its messages.
up_what() {
  if per_host || [[ -n "$ARG_HOSPITAL" ]]; then
    echo "hospital$(local_hospitals) of instance '${INSTANCE}'"
  else
    echo "instance '${INSTANCE}'"
  fi
}

# Each kind stops at every hospital at once, the kinds in order: callers
# before what they call, the ordering service after the peers.
stop_instance() {
  stop_everywhere stop_hospital_process gateway
  stop_everywhere stop_chaincode_servers
  stop_everywhere stop_hospital_process cluster
  stop_everywhere stop_hospital_process kubo
  stop_everywhere stop_hospital_process peer
  stop_everywhere stop_hospital_process orderer
  stop_everywhere stop_hospital_process ca
}

cmd_down() {
  [[ -d "$RUN_DIR" ]] || { log "instance '${INSTANCE}' has no state (${STATE_DIR}); nothing to stop"; return 0; }
  stop_instance
  log "instance '${INSTANCE}' stopped; data kept in ${STATE_DIR}. Resume with: network/network.sh up --instance ${INSTANCE}"
}

cmd_clean() {
  if [[ ! -d "$STATE_DIR" ]]; then
    log "instance '${INSTANCE}' has no state (${STATE_DIR}); nothing to clean"
    return 0
  fi
  confirm_destructive "delete instance '${INSTANCE}': its processes are stopped and ${STATE_DIR} removed"
  [[ ! -d "$RUN_DIR" ]] || stop_instance
  rm -rf "$STATE_DIR"
  log "instance '${INSTANCE}' removed (${STATE_DIR})"
}

cmd_status() {
  require_instance
  if [[ -n "${ARG_OPT[--json]+x}" ]]; then status_json; else print_summary; fi
}

cmd_stop() {
  require_instance
  local c
  for c in "$@"; do
    if is_running "$c"; then stop_process "$c"; else log "${c}: not running; nothing to stop"; fi
  done
}

cmd_logs() {
  require_instance
  local c=${1:-} lines=${ARG_OPT[--lines]:-200}
  if [[ -z "$c" ]]; then
    find "$LOG_DIR" -maxdepth 1 -name '*.log' -printf '%f\n' 2>/dev/null | sed 's/\.log$//' | sort
    return 0
  fi
  local f; f=$(log_file "$c")
  [[ -f "$f" ]] || die "instance '${INSTANCE}' has no log '${c}' yet; list the ones it has with: network/network.sh logs --instance ${INSTANCE}"
  if [[ -n "${ARG_OPT[--follow]+x}" ]]; then
    tail -n "$lines" -F "$f" | strip_colours
  else
    tail -n "$lines" "$f" | strip_colours
  fi
}

cmd_deploy_chaincode() {
  require_instance
  use_toolchain
  local seq; seq=$(committed_sequence "$(live_peer_hospital)")
  ((seq > 0)) || die "no chaincode is committed yet; run: network/network.sh up --instance ${INSTANCE}"
  build_chaincode
  if deploy_chaincode $((seq + 1)); then
    log "chaincode ${CHAINCODE_NAME} upgraded to sequence $((seq + 1))"
  else
    log "chaincode ${CHAINCODE_NAME} sequence $((seq + 1)) is installed and approved here; run deploy-chaincode on the other hosts: the one that completes a majority commits it, then run it here again to retire the old server"
  fi
}

cmd_register_user() {
  require_instance
  use_toolchain
  local h name=$2 role=${ARG_OPT[--role]:-clinician}
  h=$(hospital_number "$1")
  is_running "$(hospital_name "$h")-ca" || die "$(hospital_name "$h")'s CA is not running; run: network/network.sh up --instance ${INSTANCE}"
  local dir; dir="$(hospital_dir "$h")/users/${name}"
  [[ -f "${dir}/msp/signcerts/cert.pem" ]] && die "user ${name} already exists at ${dir}"
  # An enrollment certificate only: staff sign transactions, they run no TLS
  # endpoint and need no TLS client certificate (THREATS #11).
  enroll_identity "$h" "$name" client "$dir" "ehr.role=${role}:ecert"
  log "registered ${name} (ehr.role=${role}) at $(hospital_name "$h"); MSP in ${dir}/msp"
}

cmd_token() {
  require_instance
  local h
  h=$(hospital_number "$1")
  mint_token "$h" "$2" "$3" "${ARG_OPT[--ttl]:-3600}"
}

cmd_rotate_key() {
  require_instance
  local h name kept
  h=$(hospital_number "$1")
  name=$(hospital_name "$h")
  is_running "${name}-gateway" || die "${name}-gateway is not running; run: network/network.sh up --instance ${INSTANCE}"
  kept=$(rotate_encryption_key "$h")
  stop_process "${name}-gateway"
  start_gateway "$h"
  await_gateway "$h"
  log "${name}: encryption key rotated and registered on the ledger; the previous key is kept at ${kept}"
}

cmd_add_hospital() {
  require_instance
  per_host && die "add-hospital runs on a whole-consortium instance only; hospitals on separate hosts cannot join yet (README, 'Deploying across hosts')"
  use_toolchain
  local h=${1#hospital}
  [[ "$h" =~ ^[0-9]{1,3}$ ]] || usage_error "name the hospital to add as hospital<n>, e.g. hospital$((HOSPITAL_COUNT + 1))"
  h=$((10#$h))
  if ((h <= HOSPITAL_COUNT)); then
    log "hospital${h} is already a member of instance '${INSTANCE}'; nothing to do"
    return 0
  fi
  ((h == HOSPITAL_COUNT + 1)) || usage_error "the next hospital of instance '${INSTANCE}' is hospital$((HOSPITAL_COUNT + 1)), not hospital${h}"
  [[ -z "$JOINING_HOSPITAL" || "$JOINING_HOSPITAL" == "$h" ]] ||
    die "hospital${JOINING_HOSPITAL} is joining; finish it first: network/network.sh add-hospital hospital${JOINING_HOSPITAL}"
  ((PORT_BASE + PORTS_PER_HOSPITAL * h + PORTS_PER_HOSPITAL - 1 <= $(last_port "$PORT_BASE"))) ||
    die "instance '${INSTANCE}' has no free block of ports for hospital${h}"
  all_up || die "every member must run before a hospital joins; run: network/network.sh up --instance ${INSTANCE}"
  add_hospital "$h"
  print_summary
}

cmd_remove_hospital() {
  require_instance
  per_host && die "remove-hospital runs on a whole-consortium instance only; hospitals on separate hosts cannot leave yet (README, 'Deploying across hosts')"
  use_toolchain
  local h; h=$(hospital_number "$1")
  (($(hospitals | wc -l) > 2)) || die "instance '${INSTANCE}' has $(hospitals | wc -l) hospitals; a consortium of fewer than two cannot endorse by MAJORITY"
  local m
  for m in $(hospitals); do
    ((m == h)) && continue
    for c in peer orderer kubo cluster; do
      is_running "$(hospital_name "$m")-${c}" || die "$(hospital_name "$m")-${c} does not run; every other member must run; run: network/network.sh up --instance ${INSTANCE}"
    done
  done
  confirm_destructive "remove $(hospital_name "$h") ($(hospital_msp "$h")) from instance '${INSTANCE}': its consents are revoked and it leaves the channel and the swarm"
  remove_hospital "$h"
  print_summary
}

cmd_export_org() {
  use_toolchain
  local given=${ARG_OPT[--hospital]:-} address=${ARG_OPT[--address]:-} h
  [[ -n "$given" && -n "$address" ]] ||
    usage_error "export-org needs --hospital and --address, e.g. network/network.sh export-org --hospital hospital2 --address 127.0.1.2"
  h=$ARG_HOSPITAL
  if instance_exists && ! per_host; then
    die "instance '${INSTANCE}' (${STATE_DIR}) runs the whole consortium on this host; a per-host hospital needs a state of its own: another --instance or EHR_STATE_HOME"
  fi
  if per_host && [[ "$(published "$h" address)" != "$address" ]]; then
    die "hospital${h} was created with address $(published "$h" address), not ${address}; its certificates name that address"
  fi
  record_local_hospital "$h" "$address"
  prepare_fabric_config
  log "hospital${h} at ${address}: certificate authority, identities and keys"
  new_hospital_identities "$h"
  log "hospital${h}: Kubo and Cluster peer identities"
  init_kubo "$h"
  init_cluster "$h"
  export_org "$h"
  log "hospital${h}: organisation definition written to $(org_file "$h")"
  log "its CA fingerprint (read it to the other admins): $(fingerprint "$(hospital_dir "$h")/msp/cacerts/ca.pem")"
  log "next: copy it to the founding host; there run: network/network.sh create-consortium <the org files> --instance ${INSTANCE}"
}

cmd_create_consortium() {
  require_instance
  require_per_host
  use_toolchain
  local f h
  if [[ -s "$(genesis_block)" ]]; then
    log "the consortium exists already (genesis block $(genesis_block)); its files are in $(bundle_file)"
    return 0
  fi
  for f in "$@"; do import_org_file "$f"; done
  for h in $(hospitals); do
    [[ -s "$(hospital_dir "$h")/msp/cacerts/ca.pem" && -s "$(public_dir "$h")/address" ]] ||
      die "hospital${h}'s organisation definition is missing; give its hospital${h}-org.tgz"
  done
  create_genesis_block
  ensure_consortium_secrets
  write_bundle
  log "consortium files written to $(bundle_file) (mode 0600: it holds the swarm key and the Cluster secret)"
  log "next: copy it to every other host over an encrypted channel (e.g. scp); there run: network/network.sh join-consortium consortium.tgz --instance ${INSTANCE}"
  log "then on every host: network/network.sh up --instance ${INSTANCE}"
}

cmd_join_consortium() {
  require_instance
  require_per_host
  use_toolchain
  local file=$1 n f work
  # Every check passes before anything is installed: a refused file leaves nothing behind.
  scratch_dir work
  unpack "$file" "$work"
  for f in "${CONSORTIUM_FILES[@]}"; do
    [[ -s "${work}/consortium/${f}" ]] || die "${file} lacks consortium/${f}"
  done
  # This hospital's definition in the file must be the one it exported.
  cmp -s "${work}/$(hospital_name "$LOCAL_HOSPITAL")/msp/cacerts/ca.pem" "$(hospital_dir "$LOCAL_HOSPITAL")/msp/cacerts/ca.pem" ||
    die "${file} does not carry hospital${LOCAL_HOSPITAL}'s own CA certificate; do not use it"
  local others=()
  for n in $(trees_in "$work"); do
    ((n == LOCAL_HOSPITAL)) && continue
    ((n >= 1 && n <= HOSPITAL_COUNT)) || die "${file} defines hospital${n}; the consortium is hospital1..hospital${HOSPITAL_COUNT}"
    check_org_tree "$work" "$n"
    others+=("$n")
  done
  local block; block="${work}/consortium/$(basename "$(genesis_block)")"
  if [[ -s "$(genesis_block)" ]] && ! cmp -s "$block" "$(genesis_block)"; then
    die "this host holds a different genesis block already ($(genesis_block)); a hospital joins one consortium"
  fi
  check_genesis_names_us "$block"
  for n in "${others[@]}"; do install_org_tree "$work" "$n"; done
  for f in "${CONSORTIUM_FILES[@]}"; do
    install -m 600 "${work}/consortium/${f}" "${CONSORTIUM_DIR}/${f}"
  done
  log "hospital${LOCAL_HOSPITAL} joined consortium files from ${file}; next: network/network.sh up --instance ${INSTANCE}"
}

cmd_help() { show_help "${1:-}"; }

# The whole line is parsed first: a mistyped one stops here (exit 2), before
# any state is read or any process touched.
main() {
  parse_args "$@"
  if ((ARG_HELP)); then
    show_help "$ARG_COMMAND"
    return 0
  fi
  if [[ "$ARG_COMMAND" == help ]]; then
    check_operands
    cmd_help "${ARG_OPERANDS[@]}"
    return 0
  fi
  init_instance "$ARG_INSTANCE" "$ARG_PORT_BASE"
  resolve_hospital_option
  check_operands
  # For callers that check a line before doing slow work first (npm start).
  [[ "${EHR_CHECK_ARGS_ONLY:-}" != 1 ]] || return 0
  "cmd_${ARG_COMMAND//-/_}" "${ARG_OPERANDS[@]}"
}

main "$@"
