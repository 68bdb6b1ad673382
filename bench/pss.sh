#!/usr/bin/env bash
# Prints "unit PSS-KiB processes" for each active airflow-* and postgresql@
# unit: the processes of the unit's cgroup (cgroup v2, or v1's unified or
# systemd hierarchy; else those whose /proc/PID/cgroup names the unit). Each
# smaps_rollup is read as its process's owner: reading another user's needs
# CAP_SYS_PTRACE, which root in a container lacks.
set -euo pipefail
for unit in $(systemctl list-units --type=service --state=active --no-legend --plain 'airflow-*' 'postgresql@*' \
              | awk '{print $1}'); do
  cg=$(systemctl show -p ControlGroup --value "$unit")
  pids=""
  for base in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
    [ -n "$cg" ] && [ -d "$base$cg" ] || continue
    pids=$(find "$base$cg" -name cgroup.procs -exec cat {} + | sort -u || true)
    [ -n "$pids" ] && break
  done
  [ -n "$pids" ] || pids=$(grep -l -E "/$unit\$" /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3 || true)
  total=0
  for pid in $pids; do
    owner=$(stat -c %u:%g "/proc/$pid" 2>/dev/null) || continue
    kb=$(setpriv --reuid "${owner%:*}" --regid "${owner#*:}" --clear-groups \
         awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null) || kb=0
    total=$((total + ${kb:-0}))
  done
  echo "$unit $total $(echo $pids | wc -w)"
done
