# Template rendering. Sourced, never executed.
# shellcheck shell=bash

CONFIG_TEMPLATES="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../test-network-config" && pwd)"

# render <template> <output> VAR=value...: substitutes only the named variables,
# so a literal $ elsewhere in a template survives.
render() {
  local tmpl=$1 out=$2
  shift 2
  local names=() kv
  for kv in "$@"; do names+=("\${${kv%%=*}}"); done
  mkdir -p "$(dirname "$out")"
  env "$@" envsubst "${names[*]}" <"${CONFIG_TEMPLATES}/${tmpl}" >"$out"
}
