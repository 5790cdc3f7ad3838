#!/usr/bin/env bash
# The whole comparison of BENCHMARKS.md, against a running bench server and
# the running peers (start-peers.sh in the shared bench folder):
#   1. one compare.sh table (plaintext, json, db, fortunes, static);
#   2. alternating A/B rounds against the axum peer on the four
#      TechEmpower endpoints;
#   3. alternating A/B rounds against the Django peer on /whoami and
#      /session, each side with its own logged-in session cookie.
# Usage: bench/scripts/measure.sh [seconds] [connections] [rounds]
#   (defaults 6, 64, 5; the server at BENCH_URL, default http://127.0.0.1:8000)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_BENCH:-$here/../../../shared/bench}
secs=${1:-6}; conns=${2:-64}; rounds=${3:-5}
fw=${BENCH_URL:-http://127.0.0.1:8000}
axum=http://127.0.0.1:8300; django=http://127.0.0.1:8301

echo "== compare.sh ($secs s, $conns connections)"
"$shared/compare.sh" "$fw" "$secs" "$conns"

for ep in plaintext json db fortunes; do
  echo "== /$ep: A = Manouche, B = axum ($rounds rounds)"
  "$here/ab.sh" "$fw/$ep" "$axum/$ep" "$rounds" "$secs" "$conns"
done

ours=$("$here/session.sh" "$fw")
theirs=$("$shared/django-session.sh" "$django")
[ -n "$theirs" ] || { echo "could not log into the Django peer" >&2; exit 1; }
for ep in whoami session; do
  echo "== /$ep, logged in: A = Manouche, B = Django ($rounds rounds)"
  A_HEADER="Cookie: sessionid=$ours" B_HEADER="Cookie: sessionid=$theirs" \
    "$here/ab.sh" "$fw/$ep" "$django/$ep" "$rounds" "$secs" "$conns"
done
