# Helpers shared by scripts/bench and scripts/bench-webhooks (sourced, not run): reading a
# jobs-bench JSON result and a process's CPU time, and waiting for a process to go idle.

# The first number after "KEY": in a jobs-bench JSON result FILE (the run's own comes first).
json_num() { grep -o "\"$2\":[-0-9.eE+]*" "$1" | head -1 | cut -d: -f2; }

# CPU so far (user + system, clock ticks) of the given processes together: fields 14 and 15 of
# /proc/PID/stat, counted after the command name, which is in parentheses.
ticks_of() {
  local p
  for p in "$@"; do sed 's/^.*) //' "/proc/$p/stat"; done | awk '{ t += $12 + $13 } END { print t + 0 }'
}
tick_hz=$(getconf CLK_TCK)

# Waits until process PID has been idle for a second (under 3 ticks), at most 120 s: a run's jobs
# are then committed, published, their events applied (and their webhooks sent), so the CPU of
# that tail is the run's. Says so on stderr, as NAME, when it is still busy.
settle() {
  local before after
  for _ in $(seq 1 120); do
    before=$(ticks_of "$1"); sleep 1; after=$(ticks_of "$1")
    [ $((after - before)) -lt 3 ] && return 0
  done
  echo "$2: jobsd still busy after 120 s" >&2
}
