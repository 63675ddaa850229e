# Process supervision: pid files, logs per component, probed readiness.
# Sourced, never executed.
# shellcheck shell=bash

pid_file() { echo "${RUN_DIR}/$1.pid"; }
log_file() { echo "${LOG_DIR}/$1.log"; }

is_running() {
  local pf; pf=$(pid_file "$1")
  [[ -f "$pf" ]] && kill -0 "$(cat "$pf")" 2>/dev/null
}

# start_process <component> <workdir> <env-file|-> <command...>
# The env file holds KEY=VALUE lines (rendered overrides of the component's defaults).
# A component that runs already is left alone; one that is started says so, so
# `up` after `stop <component>` names what it restarted.
start_process() {
  local name=$1 workdir=$2 envfile=$3
  shift 3
  is_running "$name" && return 0
  mkdir -p "$(dirname "$(pid_file "$name")")" "$(dirname "$(log_file "$name")")"
  local logf; logf=$(log_file "$name")
  printf '\n==== %s start %s ====\n' "$name" "$(date -u +%FT%TZ)" >>"$logf"
  (
    cd "$workdir"
    if [[ "$envfile" != "-" ]]; then
      set -a
      # shellcheck disable=SC1090
      source "$envfile"
      set +a
    fi
    exec setsid "$@" >>"$logf" 2>&1 </dev/null
  ) &
  echo $! >"$(pid_file "$name")"
  log "started ${name} (pid $!, log ${logf})"
}

# stop_process <component> [timeout]: TERM, wait until gone, KILL as a last resort.
stop_process() {
  local name=$1 timeout=${2:-20} pf pid
  pf=$(pid_file "$name")
  if ! is_running "$name"; then
    rm -f "$pf"
    return 0
  fi
  pid=$(cat "$pf")
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until "${name} to stop" "$timeout" bash -c "! kill -0 ${pid}"; then
    warn "${name} ignored TERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pf"
  log "${name}: stopped"
}

# stop_hospital_process <kind> <hospital>: e.g. stop_hospital_process peer 2
stop_hospital_process() { stop_process "$(hospital_name "$2")-$1"; }

# stop_everywhere <command...>: runs "<command...> <hospital>" for every
# hospital run here, in parallel, and fails if any of them failed.
stop_everywhere() {
  local h pid rc=0 pids=()
  for h in $(local_present_hospitals); do
    "$@" "$h" &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
  return "$rc"
}

# tcp_open <host> <port>: whether it accepts a connection, within 2 s: a host that
# is down may drop the SYN rather than refuse it, and a connect would hang for minutes.
tcp_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

# require_running <component>: fails fast when a process died during start-up.
ensure_alive() {
  is_running "$1" || die "$1 exited during start-up; last log lines:
$(tail -n 25 "$(log_file "$1")")
see $(log_file "$1")"
}

# await_ready <component> <timeout> <probe...>: probe until ready or the process dies.
await_ready() {
  local name=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ensure_alive "$name"
    ((SECONDS < deadline)) || die "${name} not ready after ${timeout}s; see $(log_file "$name")"
    sleep 0.2
  done
  log "${name}: ready"
}
