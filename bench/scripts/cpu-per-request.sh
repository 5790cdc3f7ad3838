#!/usr/bin/env bash
# Server CPU time per request (user+system, microseconds) under a wrk load:
# steadier than requests/s on a shared machine, since it does not depend on
# how much CPU the server got, only on how much each request cost.
# Usage: cpu-per-request.sh PID URL [seconds] [connections]
set -euo pipefail
pid=${1:?server pid}; url=${2:?url}; secs=${3:-5}; conns=${4:-64}
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks)
reqs=$(wrk -t1 -c"$conns" -d"${secs}s" "$url" 2>/dev/null | awk '/requests in/ {print $1}')
t1=$(ticks)
awk -v a="$t0" -v b="$t1" -v n="$reqs" -v hz="$hz" \
  'BEGIN { printf "%d requests, %.2f us CPU/request\n", n, (b-a)/hz*1e6/n }'
