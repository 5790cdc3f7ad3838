#!/usr/bin/env bash
# Builds the bench project and makes its database: Manouche's own tables
# (`bench migrate`), the peers' rows and the admin / benchpass123 superuser
# (`bench seed`), and the collected static files.
# Usage: bench/scripts/setup.sh [DB_FILE] [PEERS_WORKDIR]
#   defaults: /tmp/manouche-bench.sqlite3, /tmp/manouche-peers
# Then: export DATABASE_URL=sqlite://DB_FILE and target/release/bench serve.
set -euo pipefail
cd "$(dirname "$0")/../.."
db=${1:-/tmp/manouche-bench.sqlite3}
peers=${2:-/tmp/manouche-peers}
[ -f "$peers/django/db.sqlite3" ] || {
  echo "no seeded peers in $peers: run setup-peers.sh from the shared bench folder first" >&2
  exit 1
}
cargo build --release -q -p bench
rm -f "$db" "$db-wal" "$db-shm"
export DATABASE_URL="sqlite://$db"
target/release/bench migrate
target/release/bench seed --from "$peers/django/db.sqlite3"
target/release/bench collectstatic --clear --noinput >/dev/null 2>&1 ||
  target/release/bench collectstatic --clear
echo "bench database ready: DATABASE_URL=$DATABASE_URL"
