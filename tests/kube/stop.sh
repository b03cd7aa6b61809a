#!/usr/bin/env bash
# Stops the control plane that start.sh started from <state-dir>: the pids in
# <state-dir>/pids, in reverse start order (controller manager, apiserver,
# etcd), SIGTERM then SIGKILL after 15 s. A pid is only signalled while its
# command line still names <state-dir> (so a recycled pid is left alone).
# Idempotent: a state dir with nothing running is fine.
#
#   tests/kube/stop.sh <state-dir>
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 <state-dir>" >&2; exit 2; }
[ -d "$1" ] || { echo "kube/stop: no state dir $1" >&2; exit 0; }
STATE="$(cd "$1" && pwd)"
[ -f "$STATE/pids" ] || { echo "kube/stop: nothing started from $STATE"; exit 0; }

ours() { [[ "$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline")" == *"$STATE/"* ]]; }

mapfile -t LINES < <(tac "$STATE/pids")
for line in "${LINES[@]}"; do
  read -r pid name <<<"$line"
  [ -n "${pid:-}" ] || continue
  if ! ours "$pid"; then
    echo "kube/stop: $name ($pid) not running"
    continue
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do ours "$pid" || break; sleep 0.1; done
  if ours "$pid"; then
    echo "kube/stop: $name ($pid) ignored SIGTERM for 15s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do ours "$pid" || break; sleep 0.1; done
  fi
  echo "kube/stop: $name ($pid) stopped"
done
rm -f "$STATE/pids"
