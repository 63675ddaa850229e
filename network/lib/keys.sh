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
  node "${NETWORK_DIR}/lib/token.mjs" --key "$(jwt_signing_key "$h")" --sub "$sub" --role "$role" \
    --ttl "$ttl" --issuer "$(gateway_issuer "$h")" --audience "$(gateway_audience "$h")"
}

gateway_issuer() { echo "ehr-dev-idp:${INSTANCE}:$(hospital_name "$1")"; }
gateway_audience() { echo "ehr-gateway:$(hospital_msp "$1")"; }
