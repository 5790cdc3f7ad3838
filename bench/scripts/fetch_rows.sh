#!/usr/bin/env bash
# Runs `fetch_rows run URL MODE` for each MODE, ROUNDS times in alternation
# (a process per run), and prints each mode's median time and peak memory.
# A mode `django-list` or `django-iterator` runs bench/django_orm/fetch_rows.py
# with $PYTHON (the peers' venv python) on the SQLite file of URL.
#
# Usage: bench/scripts/fetch_rows.sh URL ROUNDS MODE...
#   e.g. bench/scripts/fetch_rows.sh sqlite:///tmp/rows.sqlite3 5 all stream sqlx sqlx-stream
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${FETCH_ROWS:-$here/target/release/examples/fetch_rows}
python=${PYTHON:-/tmp/manouche-peers/venv/bin/python}
url=$1 rounds=$2
shift 2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$rounds"); do
  for mode in "$@"; do
    case $mode in
      django-*) "$python" "$here/bench/django_orm/fetch_rows.py" run "${url#sqlite://}" "${mode#django-}" ;;
      *) "$bin" run "$url" "$mode" ;;
    esac | tee -a "$out" >&2
  done
done
printf '%-16s %9s %12s %10s %13s\n' mode rows median_s median_peak_mb bytes_per_row
for mode in "$@"; do
  grep "^mode=$mode " "$out" | tr ' ' '\n' | awk -F= -v mode="$mode" '
    $1=="rows"{rows=$2} $1=="secs"{s[n]=$2} $1=="peak_mb"{m[n]=$2} $1=="bytes_per_row"{b[n]=$2; n++}
    function median(a, k,   i, j, t) { for (i=0;i<k;i++) for (j=i+1;j<k;j++) if (a[j]+0<a[i]+0) {t=a[i];a[i]=a[j];a[j]=t}; return a[int(k/2)] }
    END { printf "%-16s %9d %12.3f %10.1f %13d\n", mode, rows, median(s,n), median(m,n), median(b,n) }'
done
