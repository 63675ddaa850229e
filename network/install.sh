#!/usr/bin/env bash
# Builds the consortium's pinned third-party binaries (Fabric, Fabric CA, Kubo,
# IPFS Cluster) from their Go modules, and fetches the pinned Node LTS, into a
# versioned cache outside the tree.
set -euo pipefail

NETWORK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "${NETWORK_DIR}/lib/common.sh"
# shellcheck source=lib/toolchain.sh
source "${NETWORK_DIR}/lib/toolchain.sh"

usage() {
  cat <<EOF
Usage: network/install.sh [--check] [--help]

Builds the pinned toolchain listed in network/versions.env from the Go module
proxy, and fetches the pinned Node LTS from the npm registry (integrity checked),
into ${TOOLS_CACHE}/<component>-<version>/bin.
A warm cache makes this a no-op that takes seconds.

  --check   only report which binaries are missing; exit 1 if any are
  --help    this text

Environment:
  EHR_TOOLS_CACHE   cache root (default: \${XDG_CACHE_HOME:-~/.cache}/ehr-consortium/tools)
EOF
}

ensure_prerequisites() {
  local missing=()
  command -v go >/dev/null || missing+=("golang (Go >= 1.24)")
  command -v gcc >/dev/null || missing+=("gcc")
  command -v jq >/dev/null || missing+=("jq")
  command -v curl >/dev/null || missing+=("curl")
  command -v openssl >/dev/null || missing+=("openssl")
  command -v envsubst >/dev/null || missing+=("gettext-base")
  if ((${#missing[@]} == 0)); then return 0; fi
  local pkgs=()
  for m in "${missing[@]}"; do
    case "$m" in
      gcc) pkgs+=(gcc libc6-dev) ;;
      jq | curl | openssl | gettext-base) pkgs+=("$m") ;;
      *) die "missing ${m}: install Go from the Go project (https://go.dev/doc/install) and re-run" ;;
    esac
  done
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing system prerequisites: ${pkgs[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
  else
    die "missing prerequisites; run: sudo apt-get install -y ${pkgs[*]}"
  fi
}

# go_build_component <name> <gobin> <module>@<version> <sum> <pkg>...
# Builds through a small go.mod of our own that requires the module: this works
# for modules with replace/exclude directives and avoids `go install`'s
# @latest deprecation query, which the module proxy may refuse.
# Progress: compiled packages counted from `go build -v`, printed every 50.
go_build_component() {
  local name=$1 gobin=$2 modver=$3 sum=$4
  shift 4
  local module=${modver%@*} version=${modver#*@}
  local src="${gobin}/../src-$(basename "$gobin")" logf="${gobin}/../build-$(basename "$gobin").log"
  local started=$SECONDS
  mkdir -p "$gobin" "$src"
  log "building ${name} (${modver}) with ${GO_TOOLCHAIN}"
  {
    echo "module ehr-consortium/toolchain"
    echo
    echo "go 1.24"
    echo
    echo "require ${module} ${version}"
  } >"${src}/go.mod"
  {
    echo "//go:build tools"
    echo
    echo "package tools"
    echo
    echo "import ("
    for p in "$@"; do echo "	_ \"${p}\""; done
    echo ")"
  } >"${src}/tools.go"
  seed_go_sum "$src" "$module" "$version" "$sum" "$logf"
  (cd "$src" && GOTOOLCHAIN="${GO_TOOLCHAIN}" GONOSUMDB="$module" go mod tidy) >>"$logf" 2>&1 ||
    die "resolving ${name} failed; see ${logf}"
  log "  ${name}: modules resolved, compiling"
  local rc=0
  (cd "$src" && GOTOOLCHAIN="${GO_TOOLCHAIN}" CGO_ENABLED=1 go build -trimpath -buildvcs=false -v -o "${gobin}/" "$@" 2>&1) |
    tee -a "$logf" | awk -v name="$name" '
      { n++; if (n % 100 == 0) { printf "  %s: %d packages compiled\n", name, n; fflush() } }
      END { printf "  %s: %d packages compiled\n", name, n }' || rc=$?
  for p in "$@"; do
    [[ -x "${gobin}/$(basename "$p")" ]] || rc=1
  done
  ((rc == 0)) || die "building ${name} failed; see ${logf}"
  log "built ${name} in $((SECONDS - started))s"
}

# seed_go_sum <src> <module> <version> <pinned-sum> <log>: verifies the module
# against our pin, then starts go.sum from the module's own go.sum.
seed_go_sum() {
  local src=$1 module=$2 version=$3 pinned=$4 logf=$5 info dir
  info=$(cd "$src" && GOTOOLCHAIN="${GO_TOOLCHAIN}" GONOSUMDB="$module" go mod download -json "${module}@${version}" 2>>"$logf") ||
    die "downloading ${module}@${version} failed; see ${logf}"
  [[ "$(jq -r .Sum <<<"$info")" == "$pinned" ]] ||
    die "${module}@${version} has hash $(jq -r .Sum <<<"$info"), expected ${pinned} (network/versions.env)"
  dir=$(jq -r .Dir <<<"$info")
  {
    cat "${dir}/go.sum"
    echo "${module} ${version} ${pinned}"
    echo "${module} ${version}/go.mod $(jq -r .GoModSum <<<"$info")"
  } >"${src}/go.sum"
}

build_fabric() {
  local dir; dir=$(fabric_dir)
  if tool_ready "$dir"; then log "fabric ${FABRIC_VERSION}: cached"; return; fi
  go_build_component "fabric ${FABRIC_VERSION}" "${dir}/bin" "${FABRIC_MODULE}@${FABRIC_MODULE_VERSION}" "$FABRIC_MODULE_SUM" \
    "${FABRIC_MODULE}/cmd/peer" "${FABRIC_MODULE}/cmd/orderer" "${FABRIC_MODULE}/cmd/configtxgen" \
    "${FABRIC_MODULE}/cmd/configtxlator" "${FABRIC_MODULE}/cmd/osnadmin"
  mark_ready "$dir"
}

# Fabric's binaries read their defaults from core.yaml/orderer.yaml; we use the
# module's own sampleconfig and override per node from the environment.
install_fabric_config() {
  local dir src; dir=$(fabric_dir)
  src="$(go env GOMODCACHE)/${FABRIC_MODULE}@${FABRIC_MODULE_VERSION}/sampleconfig"
  [[ -f "${dir}/config/core.yaml" ]] && return 0
  [[ -d "$src" ]] || (cd "${dir}/src-bin" && GOTOOLCHAIN="${GO_TOOLCHAIN}" go mod download "${FABRIC_MODULE}")
  mkdir -p "${dir}/config"
  install -m 0644 "${src}/core.yaml" "${src}/orderer.yaml" "${dir}/config/"
  log "fabric ${FABRIC_VERSION}: default configuration copied to ${dir}/config"
}

build_fabric_ca() {
  local dir; dir=$(fabric_ca_dir)
  if tool_ready "$dir"; then log "fabric-ca ${FABRIC_CA_VERSION}: cached"; return; fi
  go_build_component "fabric-ca ${FABRIC_CA_VERSION}" "${dir}/bin" "${FABRIC_CA_MODULE}@${FABRIC_CA_MODULE_VERSION}" "$FABRIC_CA_MODULE_SUM" \
    "${FABRIC_CA_MODULE}/cmd/fabric-ca-server" "${FABRIC_CA_MODULE}/cmd/fabric-ca-client"
  mark_ready "$dir"
}

build_kubo() {
  local dir; dir=$(kubo_dir)
  if tool_ready "$dir"; then log "kubo ${KUBO_VERSION}: cached"; return; fi
  go_build_component "kubo ${KUBO_VERSION}" "${dir}/bin" "${KUBO_MODULE}@${KUBO_MODULE_VERSION}" "$KUBO_MODULE_SUM" \
    "${KUBO_MODULE}/cmd/ipfs"
  mark_ready "$dir"
}

build_ipfs_cluster() {
  local dir; dir=$(ipfs_cluster_dir)
  if tool_ready "$dir"; then log "ipfs-cluster ${IPFS_CLUSTER_VERSION}: cached"; return; fi
  go_build_component "ipfs-cluster ${IPFS_CLUSTER_VERSION}" "${dir}/bin" \
    "${IPFS_CLUSTER_MODULE}@${IPFS_CLUSTER_MODULE_VERSION}" "$IPFS_CLUSTER_MODULE_SUM" \
    "${IPFS_CLUSTER_MODULE}/cmd/ipfs-cluster-service" "${IPFS_CLUSTER_MODULE}/cmd/ipfs-cluster-ctl"
  mark_ready "$dir"
}

# The pinned Node LTS from the npm registry (see NODE_* in versions.env): the
# tarball is checked against the pinned SHA-512 before it is unpacked, and the
# binary must then report the pinned version.
install_node() {
  local dir tmp tarball actual
  dir=$(node_dir)
  if tool_ready "$dir"; then log "node ${NODE_VERSION}: cached"; return; fi
  [[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] ||
    die "the pinned Node build is for Linux x86_64; on $(uname -s)-$(uname -m), install Node ${NODE_VERSION%%.*} LTS yourself and set EHR_TOOLS_CACHE to a cache whose node-${NODE_VERSION}/bin holds it"
  tmp=$(mktemp -d)
  log "node ${NODE_VERSION}: fetching ${NODE_PACKAGE}@${NODE_VERSION} from the npm registry (about 50 MB)"
  (cd "$tmp" && npm pack "${NODE_PACKAGE}@${NODE_VERSION}" --silent >/dev/null) ||
    { rm -rf "$tmp"; die "fetching ${NODE_PACKAGE}@${NODE_VERSION} failed; check that the npm registry is reachable (npm ping)"; }
  tarball=$(ls "$tmp"/*.tgz)
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [[ "$actual" != "$NODE_INTEGRITY" ]]; then
    rm -rf "$tmp"
    die "${NODE_PACKAGE}@${NODE_VERSION} has integrity ${actual}, expected ${NODE_INTEGRITY} (network/versions.env)"
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  tar -xzf "$tarball" -C "$dir" --strip-components=1 package/bin/node package/include package/LICENSE
  rm -rf "$tmp"
  [[ "$("${dir}/bin/node" --version)" == "v${NODE_VERSION}" ]] ||
    die "the unpacked node reports $("${dir}/bin/node" --version 2>&1), expected v${NODE_VERSION}"
  mark_ready "$dir"
  log "node ${NODE_VERSION}: ready in ${dir}/bin"
}

main() {
  local check=0
  while (($#)); do
    case "$1" in
      --check) check=1 ;;
      -h | --help) usage; return 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
  if ((check)); then
    toolchain_missing_report
    return
  fi
  local started=$SECONDS
  ensure_prerequisites
  build_fabric
  install_fabric_config
  build_fabric_ca
  build_kubo
  build_ipfs_cluster
  install_node
  log "toolchain ready in $((SECONDS - started))s under ${TOOLS_CACHE}"
  toolchain_summary
}

main "$@"
