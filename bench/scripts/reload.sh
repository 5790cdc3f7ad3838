#!/usr/bin/env bash
# A reload under load: wrk for SECS seconds at CONNS keep-alive connections,
# first without a reload (the baseline), then with the reload signal sent
# halfway through; prints, for both runs, the requests served, the errors
# (socket errors and non-2xx answers) and the latencies (average, p99, max:
# the max of the second run is the longest request across the handover).
#
# Usage: bench/scripts/reload.sh manouche|django [seconds] [connections] [path]
#   (defaults 20, 64, /json)
#   manouche: starts `target/release/bench serve --pidfile` on 127.0.0.1:8000
#     on the database bench/scripts/setup.sh made (BENCH_DB, default
#     /tmp/manouche-bench.sqlite3), and sends SIGHUP: the binary on disk
#     starts with the listening socket handed over, then the old process
#     drains. Stops the server at the end.
#   django: the Django peer's gunicorn on 127.0.0.1:8301, as start-peers.sh
#     in the shared bench folder starts it (2 sync workers), and sends HUP to
#     its master (PEERS/gunicorn.pid, PEERS default /tmp/manouche-peers):
#     new workers start, the old ones stop gracefully.
set -euo pipefail
cd "$(dirname "$0")/../.."
peer=${1:?manouche or django}; secs=${2:-20}; conns=${3:-64}; path=${4:-/json}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
out=$(mktemp -d)
case $peer in
  manouche)
    db=${BENCH_DB:-/tmp/manouche-bench.sqlite3}
    [ -f "$db" ] || { echo "no bench database at $db: run bench/scripts/setup.sh" >&2; exit 1; }
    pidfile=$out/bench.pid
    DATABASE_URL="sqlite://$db" MANOUCHE_LOG=warn,manouche::server=info \
      target/release/bench serve --bind 127.0.0.1:8000 --pidfile "$pidfile" >"$out/server.log" 2>&1 &
    trap 'kill -TERM "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || true; sleep 1; rm -rf "$out"' EXIT
    for _ in $(seq 100); do
      [ -f "$pidfile" ] && curl -fs -o /dev/null "http://127.0.0.1:8000$path" && break
      sleep 0.1
    done
    url=http://127.0.0.1:8000$path
    ;;
  django)
    pidfile=${PEERS:-/tmp/manouche-peers}/gunicorn.pid
    [ -f "$pidfile" ] || { echo "gunicorn is not running: start-peers.sh in the shared bench folder" >&2; exit 1; }
    trap 'rm -rf "$out"' EXIT
    url=http://127.0.0.1:8301$path
    ;;
  *) echo "usage: $0 manouche|django [seconds] [connections] [path]" >&2; exit 2 ;;
esac
curl -fs -o /dev/null "$url" || { echo "$url does not answer" >&2; exit 1; }

summary() {
  awk -v label="$1" '
    /requests in/ { req = $1 }
    /Socket errors/ { gsub(",", ""); sock = $4 + $6 + $8 + $10 }
    /Non-2xx/ { bad = $NF }
    /^ +Latency +[0-9]/ { avg = $2; max = $4 }
    /^ +99%/ { p99 = $2 }
    END { printf "%-8s requests %7d  errors %4d (socket %d, non-2xx %d)  latency avg %s  p99 %s  max %s\n",
                 label, req, sock + bad, sock, bad, avg, p99, max }' "$2"
}

workers() { pgrep -P "$(cat "$pidfile")" | sort | tr '\n' ' '; }

echo "== $peer: $url, ${secs} s, $conns connections, wrk -t1"
wrk -t1 -c"$conns" -d"${secs}s" --latency "$url" >"$out/baseline.txt"
before=$(cat "$pidfile")
[ "$peer" = django ] && echo "gunicorn master $before, workers before: $(workers)"
wrk -t1 -c"$conns" -d"${secs}s" --latency "$url" >"$out/reload.txt" &
wrk_pid=$!
sleep "$(awk -v s="$secs" 'BEGIN { print s / 2 }')"
kill -HUP "$before"
echo "HUP sent to $before at $(date -u +%T)"
wait "$wrk_pid"
if [ "$peer" = manouche ]; then
  echo "pid in the pidfile after the reload: $(cat "$pidfile") (was $before)"
else
  echo "gunicorn workers after: $(workers)"
fi
summary baseline "$out/baseline.txt"
summary reload "$out/reload.txt"
