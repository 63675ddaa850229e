# Shared helpers for the admin scripts. Sourced, never executed.
# shellcheck shell=bash

shopt -s inherit_errexit

log() { printf '%s [ehr] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { printf '%s [ehr] warning: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  printf '%s [ehr] error: %s\n' "$(date +%H:%M:%S)" "$*" >&2
  exit 1
}
# A mistake on the command line (unknown command, option, component or value):
# exit code 2, before anything ran.
EX_USAGE=2
usage_error() {
  printf '%s [ehr] error: %s\n' "$(date +%H:%M:%S)" "$*" >&2
  exit "$EX_USAGE"
}

# wait_until <description> <timeout-seconds> <command...>
# Readiness is probed, never assumed after a fixed sleep.
wait_until() {
  local what=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout)) delay=0.1
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      warn "timed out after ${timeout}s waiting for ${what}"
      return 1
    fi
    sleep "$delay"
    [[ $delay == 1 ]] || delay=$(awk -v d="$delay" 'BEGIN { d *= 2; if (d > 1) d = 1; print d }')
  done
}

# Writes stdin to a file readable only by its owner.
write_secret() {
  local file=$1
  (umask 077 && cat >"$file")
  chmod 600 "$file"
}
