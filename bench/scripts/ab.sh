#!/usr/bin/env bash
# Alternating A/B wrk runs of two URLs in the same session, to get ratios that
# hold on a noisy machine: prints each pair and the medians.
# Usage: ab.sh URL_A URL_B [rounds] [seconds] [connections] [threads]
set -euo pipefail
a=${1:?url a}; b=${2:?url b}; rounds=${3:-5}; secs=${4:-5}; conns=${5:-64}; threads=${6:-1}
rps() { wrk -t"$threads" -c"$conns" -d"${secs}s" "$1" 2>/dev/null | awk '/Requests\/sec/ {print $2}'; }
as=(); bs=()
for i in $(seq "$rounds"); do
  x=$(rps "$a"); y=$(rps "$b"); as+=("$x"); bs+=("$y")
  awk -v i="$i" -v x="$x" -v y="$y" 'BEGIN { printf "round %d: A %10.0f  B %10.0f  A/B %.2f\n", i, x, y, x/y }'
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ma=$(median "${as[@]}"); mb=$(median "${bs[@]}")
awk -v a="$ma" -v b="$mb" 'BEGIN { printf "median: A %.0f  B %.0f  A/B %.2f\n", a, b, a/b }'
