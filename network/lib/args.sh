# One command-line parser for network.sh. Sourced, never executed.
#
# The rule: global options (--instance, --port-base, --yes, --help) go anywhere
# on the line, before or after the command, as `--opt value` or `--opt=value`.
# Every command declares its own options and operands (define_command); an
# unknown command, option or operand is a usage error (exit 2) naming the
# nearest valid spelling. Parsing reads no state and starts nothing, so a
# mistyped line fails before it can reach any instance.
# shellcheck shell=bash

# Options every command takes. A trailing '=' marks an option with a value;
# 'short:long' is a short spelling of an option.
GLOBAL_OPTIONS=(--instance= --port-base= --hospital= --yes -y:--yes --help -h:--help)
declare -gA OPTION_ALIASES=()

COMMANDS=()
declare -gA CMD_OPTIONS=() CMD_OPERANDS=() CMD_HELP=() CMD_SUMMARY=()

register_aliases() {
  local o
  for o in "$@"; do [[ "$o" != *:* ]] || OPTION_ALIASES[${o%%:*}]=${o#*:}; done
}
register_aliases "${GLOBAL_OPTIONS[@]}"

# define_command <name> <options> <operands> <summary> <<< help text
#   options:  space-separated, as in GLOBAL_OPTIONS, e.g. "--lines= -n:--lines"
#   operands: space-separated kinds, '[kind]' optional, 'kind...' one or more;
#             check_operands validates each kind (hospital, component, log, user, command).
define_command() {
  local name=$1 opts=$2 operands=$3 summary=$4
  COMMANDS+=("$name")
  CMD_OPTIONS[$name]=$opts
  CMD_OPERANDS[$name]=$operands
  CMD_SUMMARY[$name]=$summary
  CMD_HELP[$name]=$(cat)
  # shellcheck disable=SC2086
  register_aliases $opts
}

# define_option_value <option> <regex> <what it expects>: checked while parsing.
declare -gA OPTION_PATTERN=() OPTION_EXPECTS=()
define_option_value() {
  OPTION_PATTERN[$1]=$2
  OPTION_EXPECTS[$1]=$3
}

# nearest <word> <candidate...>: the candidate closest to word (optimal string
# alignment distance, so a swapped pair of letters counts once), if it is close.
nearest() {
  local word=$1
  shift
  printf '%s\n' "$@" | awk -v w="$word" '
    function osa(a, b, d, i, j, la, lb, x, c) {
      la = length(a); lb = length(b)
      for (i = 0; i <= la; i++) d[i, 0] = i
      for (j = 0; j <= lb; j++) d[0, j] = j
      for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
          c = (substr(a, i, 1) != substr(b, j, 1))
          x = d[i - 1, j] + 1
          if (d[i, j - 1] + 1 < x) x = d[i, j - 1] + 1
          if (d[i - 1, j - 1] + c < x) x = d[i - 1, j - 1] + c
          if (i > 1 && j > 1 && substr(a, i, 1) == substr(b, j - 1, 1) &&
              substr(a, i - 1, 1) == substr(b, j, 1) && d[i - 2, j - 2] + 1 < x) x = d[i - 2, j - 2] + 1
          d[i, j] = x
        }
      }
      return d[la, lb]
    }
    NF { dist = osa(w, $0); if (best == "" || dist < bestd) { best = $0; bestd = dist } }
    END {
      limit = int(length(w) / 3); if (limit < 1) limit = 1; if (limit > 3) limit = 3
      if (best != "" && bestd <= limit) print best
    }'
}

# did_you_mean <word> <candidate...>: "; did you mean 'x'?" or nothing.
did_you_mean() {
  local best; best=$(nearest "$@")
  [[ -z "$best" ]] || printf "; did you mean '%s'?" "$best"
}

# Every option spelling valid for a command, global ones included.
options_of() {
  local o
  # shellcheck disable=SC2086
  for o in "${GLOBAL_OPTIONS[@]}" ${CMD_OPTIONS[$1]:-}; do
    o=${o%%:*}
    printf '%s\n' "${o%=}"
  done
}

# Every option spelling of every command.
all_options() {
  local c
  for c in "${COMMANDS[@]}"; do options_of "$c"; done | sort -u
}

# takes_value <option>: whether an option of that spelling takes a value, for
# any command. A spelling means the same everywhere, so its value can be taken
# before the command is known.
takes_value() {
  local o=${OPTION_ALIASES[$1]:-$1} c spec
  for spec in "${GLOBAL_OPTIONS[@]}"; do [[ "$spec" == "${o}=" ]] && return 0; done
  for c in "${COMMANDS[@]}"; do
    for spec in ${CMD_OPTIONS[$c]}; do [[ "$spec" == "${o}=" ]] && return 0; done
  done
  return 1
}

# Results of parse_args.
ARG_COMMAND="" ARG_INSTANCE="" ARG_PORT_BASE="" ARG_YES=0 ARG_HELP=0
ARG_OPERANDS=()
declare -gA ARG_OPT=()

# parse_args <word...>: fills the ARG_* variables or exits with a usage error.
parse_args() {
  local words=() opts=() a name value only_operands=0
  # Pass 1: split options (with their values) from the other words.
  while (($#)); do
    a=$1
    shift
    if ((only_operands)); then words+=("$a"); continue; fi
    case "$a" in
      --) only_operands=1 ;;
      --*=*) opts+=("${a%%=*}" "${a#*=}" 1) ;;
      -?*)
        if takes_value "$a"; then
          [[ $# -gt 0 && "$1" != -* ]] || usage_error "option '${a}' needs a value, e.g. ${a} $(example_value "$a")"
          opts+=("$a" "$1" 1)
          shift
        else
          opts+=("$a" "" 0)
        fi
        ;;
      *) words+=("$a") ;;
    esac
  done
  # The command is the first word; every other word is an operand.
  if ((${#words[@]} == 0)); then
    local i
    for ((i = 0; i < ${#opts[@]}; i += 3)); do
      [[ "${opts[i]}" == -h || "${opts[i]}" == --help ]] && { ARG_HELP=1; return 0; }
    done
    usage >&2
    usage_error "name a command, e.g. network/network.sh status"
  fi
  ARG_COMMAND=${words[0]}
  ARG_OPERANDS=("${words[@]:1}")
  if [[ -z "${CMD_HELP[$ARG_COMMAND]+x}" ]]; then
    # An option no command knows comes first: it may have taken the command's place
    # ('--instnace test status' reads 'test' as the command).
    local i every
    every=$(all_options)
    for ((i = 0; i < ${#opts[@]}; i += 3)); do
      # shellcheck disable=SC2046
      grep -qxF -- "${opts[i]}" <<<"$every" ||
        usage_error "unknown option '${opts[i]}'$(did_you_mean "${opts[i]}" $(grep -- '^--' <<<"$every")); run 'network/network.sh --help' for the options"
    done
    usage_error "unknown command '${ARG_COMMAND}'$(did_you_mean "$ARG_COMMAND" "${COMMANDS[@]}"); run 'network/network.sh --help' for the list"
  fi
  # Pass 2: each option must be global or the command's own.
  local i valid
  valid=$(options_of "$ARG_COMMAND")
  for ((i = 0; i < ${#opts[@]}; i += 3)); do
    name=${opts[i]} value=${opts[i + 1]}
    if ! grep -qxF -- "$name" <<<"$valid"; then
      # Help wins over any other mistake on the line.
      [[ " ${opts[*]} " == *" --help "* || " ${opts[*]} " == *" -h "* ]] && { ARG_HELP=1; return 0; }
      # shellcheck disable=SC2046
      usage_error "unknown option '${name}' for '${ARG_COMMAND}'$(did_you_mean "$name" $(options_of "$ARG_COMMAND" | grep -- '^--')); run 'network/network.sh ${ARG_COMMAND} --help' for its options"
    fi
    [[ -n "${OPTION_ALIASES[$name]:-}" ]] && name=${OPTION_ALIASES[$name]}
    if ((opts[i + 2])) && ! takes_value "$name"; then
      usage_error "option '${name}' takes no value"
    fi
    if [[ -n "${ARG_OPT[$name]+x}" && "${ARG_OPT[$name]}" != "$value" ]]; then
      usage_error "option '${name}' given twice ('${ARG_OPT[$name]}' and '${value}')"
    fi
    ARG_OPT[$name]=$value
  done
  [[ -n "${ARG_OPT[--help]+x}" ]] && { ARG_HELP=1; return 0; }
  for name in "${!ARG_OPT[@]}"; do
    [[ -z "${OPTION_PATTERN[$name]:-}" || "${ARG_OPT[$name]}" =~ ${OPTION_PATTERN[$name]} ]] ||
      usage_error "option '${name}' takes ${OPTION_EXPECTS[$name]}, not '${ARG_OPT[$name]}'"
  done
  ARG_INSTANCE=${ARG_OPT[--instance]:-}
  ARG_PORT_BASE=${ARG_OPT[--port-base]:-}
  [[ -n "${ARG_OPT[--yes]+x}" ]] && ARG_YES=1
  if [[ -n "${ARG_OPT[--instance]+x}" ]]; then check_instance_name "$ARG_INSTANCE"; fi
  if [[ -n "${ARG_OPT[--port-base]+x}" ]]; then check_port_base_syntax "$ARG_PORT_BASE"; fi
  check_arity
}

example_value() {
  case "$1" in
    --instance) echo dev ;;
    --port-base) echo 7000 ;;
    --hospital) echo hospital1 ;;
    --address) echo 127.0.1.1 ;;
    --lines | -n) echo 50 ;;
    --role) echo clinician ;;
    --ttl) echo 3600 ;;
    *) echo VALUE ;;
  esac
}

# check_arity: operand count against the command's declared operands.
check_arity() {
  local kinds min=0 max=0 k
  read -r -a kinds <<<"${CMD_OPERANDS[$ARG_COMMAND]}"
  for k in "${kinds[@]}"; do
    case "$k" in
      \[*\]) max=$((max + 1)) ;;
      *...) min=$((min + 1)) max=-1 ;;
      *) min=$((min + 1)) max=$((max + 1)) ;;
    esac
  done
  local n=${#ARG_OPERANDS[@]} synopsis="network/network.sh ${ARG_COMMAND} ${CMD_OPERANDS[$ARG_COMMAND]}"
  if ((n < min)); then
    usage_error "'${ARG_COMMAND}' needs $([[ $max == -1 ]] && echo "at least ")${min} operand(s): ${synopsis% }"
  fi
  if ((max >= 0 && n > max)); then
    local extra=${ARG_OPERANDS[max]} why=""
    [[ -n "${CMD_HELP[$extra]+x}" ]] && why="; one command per line"
    usage_error "unexpected argument '${extra}' for '${ARG_COMMAND}'${why} (usage: ${synopsis% })"
  fi
}

check_instance_name() {
  [[ "$1" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || usage_error "instance name '$1' must match [a-z0-9][a-z0-9-]{0,30}"
}

check_port_base_syntax() {
  [[ "$1" =~ ^[0-9]{1,5}$ ]] || usage_error "port base '$1' is not a number; e.g. --port-base 7000"
}

# check_operands: each operand against what it names in the resolved instance
# (its real hospitals), before the command runs.
check_operands() {
  local kinds k i=0 operand
  read -r -a kinds <<<"${CMD_OPERANDS[$ARG_COMMAND]}"
  for operand in "${ARG_OPERANDS[@]}"; do
    k=${kinds[i]:-${kinds[-1]}}
    [[ "$k" == *... ]] || i=$((i + 1))
    k=${k#[}
    k=${k%]}
    k=${k%...}
    case "$k" in
      hospital) check_hospital "$operand" ;;
      component) check_component "$operand" ;;
      log) check_log_name "$operand" ;;
      command) [[ -n "${CMD_HELP[$operand]+x}" ]] ||
        usage_error "unknown command '${operand}'$(did_you_mean "$operand" "${COMMANDS[@]}")" ;;
      new-hospital) [[ "$operand" =~ ^hospital[0-9]{1,3}$ ]] || usage_error "name the hospital to add as hospital<n>, e.g. hospital$((HOSPITAL_COUNT + 1))" ;;
      user) [[ "$operand" =~ ^[a-z0-9][a-z0-9._-]{1,62}$ ]] || usage_error "user name '${operand}' must match [a-z0-9][a-z0-9._-]{1,62}" ;;
    esac
  done
}

hospital_names() { local h; for h in $(hospitals); do hospital_name "$h"; done; }
hospital_range() { echo "hospital1..hospital$(hospitals | tail -n1)"; }

check_hospital() {
  local h=$1
  h=${h#hospital}
  h=${h#Hospital}
  h=${h%MSP}
  if [[ "$h" =~ ^[0-9]{1,4}$ ]]; then
    grep -qx "$((10#$h))" <<<"$(hospitals)" && return 0
    usage_error "instance '${INSTANCE}' has no hospital '$1'; it has $(hospital_range)"
  fi
  # shellcheck disable=SC2046
  usage_error "unknown hospital '$1'$(did_you_mean "$1" $(hospital_names)); expected $(hospital_range)"
}

COMPONENT_KINDS=(ca orderer peer kubo cluster gateway)
component_kind_ok() { [[ " ${COMPONENT_KINDS[*]} " == *" $1 "* || "$1" =~ ^chaincode-s[0-9]+$ ]]; }

# check_named <what> <name> <kind-test> <candidate...>: hospital<n>-<kind> with
# a hospital of this instance; otherwise a usage error with the nearest name.
check_named() {
  local what=$1 name=$2 kind_ok=$3
  shift 3
  local n="" kind=""
  [[ "$name" =~ ^hospital([0-9]{1,4})-(.+)$ ]] && n=${BASH_REMATCH[1]} kind=${BASH_REMATCH[2]}
  if [[ -n "$n" ]] && "$kind_ok" "$kind"; then
    grep -qx "$((10#$n))" <<<"$(hospitals)" && return 0
    usage_error "unknown ${what} '${name}': instance '${INSTANCE}' has $(hospital_range)"
  fi
  usage_error "unknown ${what} '${name}'$(did_you_mean "$name" "$@"); run 'network/network.sh ${ARG_COMMAND} --help' for the names"
}

component_names() {
  local n k
  for n in $(hospital_names); do for k in "${COMPONENT_KINDS[@]}" chaincode-s1; do echo "${n}-${k}"; done; done
}

check_component() {
  # shellcheck disable=SC2046
  check_named component "$1" component_kind_ok $(component_names)
}

LOG_KINDS=(ca-client)
INSTANCE_LOGS=(configtxgen peer-cli osnadmin)
log_kind_ok() { component_kind_ok "$1" || [[ " ${LOG_KINDS[*]} " == *" $1 "* ]]; }

check_log_name() {
  [[ " ${INSTANCE_LOGS[*]} " == *" $1 "* ]] && return 0
  local n extra=()
  for n in $(hospital_names); do extra+=("${n}-ca-client"); done
  # shellcheck disable=SC2046
  check_named log "$1" log_kind_ok $(component_names) "${extra[@]}" "${INSTANCE_LOGS[@]}"
}

# confirm_destructive <what it does>: names the instance and its state dir;
# on a terminal asks for the instance's name, elsewhere refuses without --yes.
confirm_destructive() {
  local what=$1 answer
  log "${ARG_COMMAND} --instance ${INSTANCE}: about to ${what}"
  ((ARG_YES)) && return 0
  if [[ ! -t 0 ]]; then
    usage_error "not confirmed: '${ARG_COMMAND}' would ${what}, and there is no terminal to ask on; if that is what you mean, pass --yes: network/network.sh ${ARG_COMMAND} ${ARG_OPERANDS[*]:+${ARG_OPERANDS[*]} }--instance ${INSTANCE} --yes"
  fi
  printf "Type the instance name '%s' to confirm, anything else to cancel: " "$INSTANCE" >&2
  read -r answer || answer=""
  [[ "$answer" == "$INSTANCE" ]] || usage_error "not confirmed; nothing was changed"
}
