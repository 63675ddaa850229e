# Keys each hospital generates at setup, and dev tokens. Private keys are files
# with mode 0600 under the instance's state dir and never leave it.
# Sourced, never executed.
# shellcheck shell=bash

# new_p256_key <private-key-file> <public-key-file>: PKCS#8 and SPKI PEM.
new_p256_key() {
  local key=$1 pub=$2
  [[ -s "$key" && -s "$pub" ]] && return 0
  mkdir -p "$(dirname "$key")" "$(dirname "$pub")"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | write_secret "$key"
  openssl pkey -in "$key" -pubout -out "$pub" 2>/dev/null
}

jwt_signing_key() { echo "$(secrets_dir "$1")/jwt-signing.key"; }
jwt_verify_key() { echo "$(hospital_dir "$1")/gateway/jwt-verify.pub"; }
encryption_key() { echo "$(secrets_dir "$1")/encryption.key"; }
encryption_pub() { echo "$(hospital_dir "$1")/gateway/encryption.pub"; }

ensure_hospital_keys() {
  local h=$1
  # The dev identity provider's key; a real deployment configures its IdP's key instead.
  new_p256_key "$(jwt_signing_key "$h")" "$(jwt_verify_key "$h")"
  # The hospital's document-key wrapping key (DESIGN §5), registered on the ledger by its gateway.
  new_p256_key "$(encryption_key "$h")" "$(encryption_pub "$h")"
}

# Earlier encryption keys of hospital n, newest first. Each rotation keeps the
# key it replaces, so the envelopes wrapped to it stay readable.
previous_encryption_keys() {
  local f
  for f in "$(secrets_dir "$1")"/encryption.*.key; do [[ -f "$f" ]] && echo "$f"; done | sort -r
}

# rotate_encryption_key <hospital>: keeps the current key under a dated name,
# generates its replacement and prints where the old one went.
rotate_encryption_key() {
  local h=$1 key pub kept
  key=$(encryption_key "$h")
  pub=$(encryption_pub "$h")
  [[ -s "$key" ]] || die "$(hospital_name "$h") has no encryption key yet; run: network/network.sh up"
  kept="$(secrets_dir "$h")/encryption.$(date -u +%Y%m%dT%H%M%SZ).key"
  [[ -e "$kept" ]] && die "a key of $(hospital_name "$h") was rotated this very second; run the command again"
  mv "$key" "$kept"
  chmod 600 "$kept"
  rm -f "$pub"
  new_p256_key "$key" "$pub"
  echo "$kept"
}

ensure_consortium_secrets() {
  local swarm="${CONSORTIUM_DIR}/swarm.key" cluster="${CONSORTIUM_DIR}/cluster-secret"
  mkdir -p "$CONSORTIUM_DIR"
  [[ -s "$swarm" ]] || printf '/key/swarm/psk/1.0.0/\n/base16/\n%s\n' "$(openssl rand -hex 32)" | write_secret "$swarm"
  [[ -s "$cluster" ]] || openssl rand -hex 32 | write_secret "$cluster"
}

mint_token() {
  local h=$1 sub=$2 role=$3 ttl=$4
  [[ -s "$(jwt_signing_key "$h")" ]] || die "no signing key for $(hospital_name "$h"); run: network/network.sh up"
  "$(node_bin)" "${NETWORK_DIR}/lib/token.mjs" --key "$(jwt_signing_key "$h")" --sub "$sub" --role "$role" \
    --ttl "$ttl" --issuer "$(gateway_issuer "$h")" --audience "$(gateway_audience "$h")"
}

gateway_issuer() { echo "ehr-dev-idp:${INSTANCE}:$(hospital_name "$1")"; }
gateway_audience() { echo "ehr-gateway:$(hospital_msp "$1")"; }

# ---- admin TLS (THREATS #11) -------------------------------------------------
# The hospital's Fabric CA issues every identity of the hospital, staff included,
# so trusting it for client certificates lets any of them in. The admin surfaces
# trust two small CAs of their own instead, made here with openssl (ECDSA P-256),
# once per hospital; their keys stay 0600 under secrets/ and sign nothing else:
#   admin TLS CA             <hospital>/admin-tls/ca.crt, key secrets/admin-tls-ca.key
#     client.crt/.key        the admin's client certificate: osnadmin (orderer admin
#                            API) and /metrics, /logspec of the operations endpoints
#     ca-operations.crt/.key the Fabric CA's operations listener (server certificate)
#   chaincode-client TLS CA  <hospital>/chaincode-client-tls/ca.crt, key secrets/chaincode-client-ca.key
#     peer-client.crt/.key   the peer's client certificate towards its chaincode
#                            server (connection.json); a CA of its own, so neither
#                            certificate opens the other's door.

admin_tls_dir() { echo "$(hospital_dir "$1")/admin-tls"; }
admin_tls_ca() { echo "$(admin_tls_dir "$1")/ca.crt"; }
admin_client_cert() { echo "$(admin_tls_dir "$1")/client.crt"; }
admin_client_key() { echo "$(admin_tls_dir "$1")/client.key"; }
ca_ops_cert() { echo "$(admin_tls_dir "$1")/ca-operations.crt"; }
ca_ops_key() { echo "$(admin_tls_dir "$1")/ca-operations.key"; }
cc_client_dir() { echo "$(hospital_dir "$1")/chaincode-client-tls"; }
cc_client_ca() { echo "$(cc_client_dir "$1")/ca.crt"; }
cc_client_cert() { echo "$(cc_client_dir "$1")/peer-client.crt"; }
cc_client_key() { echo "$(cc_client_dir "$1")/peer-client.key"; }

# new_tls_ca <key> <cert> <org> <cn>: a self-signed CA (10 years), kept if present.
new_tls_ca() {
  local key=$1 cert=$2 org=$3 cn=$4
  [[ -s "$key" && -s "$cert" ]] && return 0
  mkdir -p "$(dirname "$key")" "$(dirname "$cert")"
  chmod 700 "$(dirname "$key")"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | write_secret "$key"
  openssl req -new -x509 -key "$key" -sha256 -days 3650 -set_serial "0x7$(openssl rand -hex 15)" -out "${cert}.new" \
    -config <(printf '[req]\nprompt=no\ndistinguished_name=dn\nx509_extensions=ext\n[dn]\nO=%s\nOU=admin-tls\nCN=%s\n[ext]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' "$org" "$cn") \
    2>/dev/null || die "openssl could not create the TLS CA ${cert}"
  mv "${cert}.new" "$cert"
}

# new_tls_leaf <ca-key> <ca-cert> <key> <cert> <org> <cn> <clientAuth|serverAuth> [subjectAltName]:
# a certificate (825 days) from that CA, kept while it still verifies against it.
new_tls_leaf() {
  local cakey=$1 cacert=$2 key=$3 cert=$4 org=$5 cn=$6 eku=$7 san=${8:-}
  if [[ -s "$key" && -s "$cert" ]] && openssl verify -CAfile "$cacert" "$cert" >/dev/null 2>&1; then return 0; fi
  mkdir -p "$(dirname "$key")"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null | write_secret "$key"
  local ext; ext=$(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' "$eku")
  [[ -z "$san" ]] || ext+=$'\n'"subjectAltName=${san}"
  openssl req -new -key "$key" -out "${cert}.csr" \
    -config <(printf '[req]\nprompt=no\ndistinguished_name=dn\n[dn]\nO=%s\nOU=admin-tls\nCN=%s\n' "$org" "$cn") 2>/dev/null &&
    openssl x509 -req -in "${cert}.csr" -CA "$cacert" -CAkey "$cakey" -set_serial "0x7$(openssl rand -hex 15)" \
      -days 825 -sha256 -extfile <(echo "$ext") -out "${cert}.new" 2>/dev/null ||
    die "openssl could not issue ${cert}"
  rm -f "${cert}.csr"
  mv "${cert}.new" "$cert"
}

# ensure_admin_tls <hospital>: idempotent; `up` runs it on every start.
ensure_admin_tls() {
  local h=$1 name host san
  name=$(hospital_name "$h")
  host=$(hospital_host "$h")
  san="DNS:localhost,IP:127.0.0.1,DNS:ca.${name}"
  if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then
    [[ "$host" == 127.0.0.1 ]] || san+=",IP:${host}"
  else
    [[ "$host" == localhost ]] || san+=",DNS:${host}"
  fi
  local cakey; cakey="$(secrets_dir "$h")/admin-tls-ca.key"
  new_tls_ca "$cakey" "$(admin_tls_ca "$h")" "$name" "admin-tls-ca.${name}"
  new_tls_leaf "$cakey" "$(admin_tls_ca "$h")" "$(admin_client_key "$h")" "$(admin_client_cert "$h")" "$name" "admin.${name}" clientAuth
  new_tls_leaf "$cakey" "$(admin_tls_ca "$h")" "$(ca_ops_key "$h")" "$(ca_ops_cert "$h")" "$name" "ca.${name}" serverAuth "$san"
  local cckey; cckey="$(secrets_dir "$h")/chaincode-client-ca.key"
  new_tls_ca "$cckey" "$(cc_client_ca "$h")" "$name" "chaincode-client-ca.${name}"
  new_tls_leaf "$cckey" "$(cc_client_ca "$h")" "$(cc_client_key "$h")" "$(cc_client_cert "$h")" "$name" "${PEER_ID}.${name}" clientAuth
}
