#!/usr/bin/env bash
# Alternating A/B wrk runs of two URLs in the same session, to get ratios that
# hold on a noisy machine: prints each pair and the medians.
# Usage: ab.sh URL_A URL_B [rounds] [seconds] [connections] [threads]
# A_HEADER / B_HEADER, when set, are sent with every request to A / B
# (e.g. A_HEADER="Cookie: sessionid=...").
set -euo pipefail
a=${1:?url a}; b=${2:?url b}; rounds=${3:-5}; secs=${4:-5}; conns=${5:-64}; threads=${6:-1}
rps() {
  local url=$1 header=$2 args=()
  [ -n "$header" ] && args=(-H "$header")
  wrk -t"$threads" -c"$conns" -d"${secs}s" "${args[@]}" "$url" 2>/dev/null |
    awk '/Non-2xx/ {bad=1} /Requests\/sec/ {r=$2} END {print bad ? "non-2xx" : r}'
}
as=(); bs=()
for i in $(seq "$rounds"); do
  x=$(rps "$a" "${A_HEADER:-}"); y=$(rps "$b" "${B_HEADER:-}")
  for v in "$x" "$y"; do
    [ "$v" = non-2xx ] && { echo "round $i: some responses were not 2xx (a missing or expired cookie?)" >&2; exit 1; }
  done
  as+=("$x"); bs+=("$y")
  awk -v i="$i" -v x="$x" -v y="$y" 'BEGIN { printf "round %d: A %10.0f  B %10.0f  A/B %.2f\n", i, x, y, x/y }'
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ma=$(median "${as[@]}"); mb=$(median "${bs[@]}")
awk -v a="$ma" -v b="$mb" 'BEGIN { printf "median: A %.0f  B %.0f  A/B %.2f\n", a, b, a/b }'
