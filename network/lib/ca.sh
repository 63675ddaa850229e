# Per-hospital Fabric CA: start it, and issue the hospital's identities through it.
# Sourced, never executed.
# shellcheck shell=bash

ca_home() { echo "$(hospital_dir "$1")/ca/server"; }
ca_cert() { echo "$(ca_home "$1")/ca-cert.pem"; }
ca_url() { echo "https://$(endpoint "$1" "$OFF_CA")"; }
secrets_dir() { echo "$(hospital_dir "$1")/secrets"; }

# Each hospital's one peer: its CA identity, and with the hospital name its
# gossip ID and the DNS name in its TLS certificate.
PEER_ID=peer0

# secret <hospital> <name>: a random secret created once, kept 0600 in the state dir.
secret() {
  local dir f; dir=$(secrets_dir "$1")
  f="${dir}/$2"
  if [[ ! -s "$f" ]]; then
    mkdir -p "$dir" && chmod 700 "$dir"
    openssl rand -hex 16 | write_secret "$f"
  fi
  cat "$f"
}

start_ca() {
  local h=$1 name; name=$(hospital_name "$h")
  local envf; envf="$(hospital_dir "$h")/ca/ca.env"
  mkdir -p "$(ca_home "$h")"
  render ca.env.tmpl "$envf" CA_HOME="$(ca_home "$h")" HOSPITAL="$name" LISTEN="$(hospital_listen "$h")" \
    HOST="$(hospital_host "$h")" CA_PORT="$(port "$h" "$OFF_CA")" CA_OPS_PORT="$(port "$h" "$OFF_CA_OPS")" \
    OPS_CERT="$(ca_ops_cert "$h")" OPS_KEY="$(ca_ops_key "$h")" ADMIN_TLS_CA="$(admin_tls_ca "$h")"
  # The registrar's bootstrap password reaches the server through its 0600 env
  # file (FABRIC_CA_SERVER_BOOT is the -b flag): never in argv, where `ps`
  # shows it to every local user.
  printf 'FABRIC_CA_SERVER_BOOT=admin:%s\n' "$(secret "$h" ca-admin)" >>"$envf"
  chmod 600 "$envf"
  start_process "${name}-ca" "$(ca_home "$h")" "$envf" fabric-ca-server start
}

await_ca() {
  local h=$1
  await_ready "$(hospital_name "$h")-ca" 60 \
    ca_ops_get "$h" /healthz
  wait_until "CA certificate" 30 test -s "$(ca_cert "$h")"
}

ca_ops_url() { echo "https://$(hospital_host "$1"):$(port "$1" "$OFF_CA_OPS")"; }

# ca_ops_get <hospital> <path>: the CA's operations endpoint wants the admin
# client certificate for every path, and serves a certificate of the admin TLS CA.
ca_ops_get() {
  curl -sf --max-time 2 --cacert "$(admin_tls_ca "$1")" --cert "$(admin_client_cert "$1")" \
    --key "$(admin_client_key "$1")" "$(ca_ops_url "$1")$2"
}

ca_client() {
  local h=$1
  shift
  FABRIC_CA_CLIENT_HOME="$(hospital_dir "$h")/ca/client" \
    fabric-ca-client "$@" --caname "ca-$(hospital_name "$h")" --tls.certfiles "$(ca_cert "$h")" >>"$(log_file "$(hospital_name "$h")-ca-client")" 2>&1
}

# ca_enroll <hospital> <id> <password> <args...>: enrolls with the credentials
# in the client's environment (FABRIC_CA_CLIENT_URL), not in its argv.
ca_enroll() {
  local h=$1 id=$2 pw=$3
  shift 3
  (
    export FABRIC_CA_CLIENT_URL="https://${id}:${pw}@$(endpoint "$h" "$OFF_CA")"
    ca_client "$h" enroll "$@"
  )
}

# Gives an enrolled MSP dir stable file names: the gateway and the scripts
# need to find the key and certificates without globbing.
normalise_msp() {
  local msp=$1
  mv "${msp}"/cacerts/*.pem "${msp}/cacerts/ca.pem" 2>/dev/null || true
  local key; key=$(ls "${msp}"/keystore/* | head -n1)
  [[ "$key" == "${msp}/keystore/key.pem" ]] || mv "$key" "${msp}/keystore/key.pem"
  chmod 600 "${msp}/keystore/key.pem"
  mv "${msp}"/signcerts/*.pem "${msp}/signcerts/cert.pem" 2>/dev/null || true
  write_node_ous "$msp"
}

write_node_ous() {
  cat >"$1/config.yaml" <<YAML
NodeOUs:
  Enable: true
  ClientOUIdentifier: { Certificate: cacerts/ca.pem, OrganizationalUnitIdentifier: client }
  PeerOUIdentifier: { Certificate: cacerts/ca.pem, OrganizationalUnitIdentifier: peer }
  AdminOUIdentifier: { Certificate: cacerts/ca.pem, OrganizationalUnitIdentifier: admin }
  OrdererOUIdentifier: { Certificate: cacerts/ca.pem, OrganizationalUnitIdentifier: orderer }
YAML
}

# enroll_identity <hospital> <id> <type> <dir> [attrs] [--tls]
# Registers (once) and enrolls an identity into <dir>/msp, and with --tls also a
# TLS certificate into <dir>/tls (server.crt, server.key, ca.crt).
enroll_identity() {
  local h=$1 id=$2 type=$3 dir=$4 attrs=${5:-} tls=${6:-}
  [[ -f "${dir}/msp/signcerts/cert.pem" ]] && return 0
  local pw host hosts
  pw=$(secret "$h" "id-${id}")
  host=$(hospital_host "$h")
  hosts="${host},localhost,127.0.0.1,${id}.$(hospital_name "$h")"
  # The secret goes in the environment (FABRIC_CA_CLIENT_ID_SECRET is --id.secret), not in argv.
  local reg=(register --id.name "$id" --id.type "$type" --mspdir "$(hospital_dir "$h")/ca/client/admin-msp")
  [[ -n "$attrs" ]] && reg+=(--id.attrs "$attrs")
  # Registering twice fails; an identity left half-enrolled by an interrupted run is fine to re-enroll.
  (export FABRIC_CA_CLIENT_ID_SECRET="$pw" && ca_client "$h" "${reg[@]}") ||
    grep -q "is already registered" "$(log_file "$(hospital_name "$h")-ca-client")" ||
    die "registering ${id} at $(hospital_name "$h")'s CA failed; see $(log_file "$(hospital_name "$h")-ca-client")"
  rm -rf "${dir}/msp" "${dir}/tls"
  ca_enroll "$h" "$id" "$pw" --mspdir "${dir}/msp" --csr.hosts "$hosts" ||
    die "enrolling ${id} failed; see $(log_file "$(hospital_name "$h")-ca-client")"
  normalise_msp "${dir}/msp"
  if [[ "$tls" == "--tls" ]]; then
    ca_enroll "$h" "$id" "$pw" --mspdir "${dir}/tls-enroll" --enrollment.profile tls --csr.hosts "$hosts" ||
      die "enrolling ${id}'s TLS certificate failed"
    mkdir -p "${dir}/tls"
    cp "${dir}"/tls-enroll/signcerts/*.pem "${dir}/tls/server.crt"
    cp "${dir}"/tls-enroll/keystore/* "${dir}/tls/server.key"
    cp "${dir}"/tls-enroll/tlscacerts/*.pem "${dir}/tls/ca.crt"
    chmod 600 "${dir}/tls/server.key"
    rm -rf "${dir}/tls-enroll"
  fi
}

# The org-level MSP that goes into the channel configuration.
write_org_msp() {
  local h=$1 msp; msp="$(hospital_dir "$h")/msp"
  mkdir -p "${msp}/cacerts" "${msp}/tlscacerts"
  cp "$(ca_cert "$h")" "${msp}/cacerts/ca.pem"
  cp "$(ca_cert "$h")" "${msp}/tlscacerts/ca.pem"
  write_node_ous "$msp"
}

issue_identities() {
  local h=$1 hd; hd=$(hospital_dir "$h")
  if [[ ! -f "${hd}/ca/client/admin-msp/signcerts/cert.pem" ]]; then
    ca_enroll "$h" admin "$(secret "$h" ca-admin)" --mspdir "${hd}/ca/client/admin-msp" ||
      die "enrolling the CA bootstrap admin failed"
  fi
  write_org_msp "$h"
  enroll_identity "$h" "$PEER_ID" peer "${hd}/peer" "" --tls
  enroll_identity "$h" orderer0 orderer "${hd}/orderer" "" --tls
  enroll_identity "$h" orgadmin admin "${hd}/users/admin" "ehr.role=admin:ecert" --tls
  enroll_identity "$h" gateway client "${hd}/users/gateway" "ehr.role=gateway:ecert" --tls
  enroll_identity "$h" auditor client "${hd}/users/auditor" "ehr.role=auditor:ecert"
}

# The name clients verify the peer's TLS certificate against: one of the names
# enroll_identity puts in it. A DNS name rather than the (IP) endpoint host:
# TLS's SNI carries no IP addresses (RFC 6066).
peer_tls_name() { echo "${PEER_ID}.$(hospital_name "$1")"; }
