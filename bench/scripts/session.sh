#!/usr/bin/env bash
# Logs into the bench server as admin / benchpass123 through its login page
# (CSRF token from the form and the cookie, as a browser does) and prints
# the session cookie's value, for wrk -H "Cookie: sessionid=...".
# Usage: bench/scripts/session.sh [BASE_URL]   (default http://127.0.0.1:8000)
set -euo pipefail
base=${1:-http://127.0.0.1:8000}
jar=$(mktemp)
trap 'rm -f "$jar"' EXIT
page=$(curl -sf -c "$jar" -b "$jar" "$base/accounts/login/")
tok=$(printf '%s' "$page" | sed -n 's/.*name="csrfmiddlewaretoken" value="\([^"]*\)".*/\1/p' | head -1)
[ -n "$tok" ] || { echo "no CSRF token on $base/accounts/login/" >&2; exit 1; }
curl -sf -c "$jar" -b "$jar" -o /dev/null -H "Origin: $base" \
  --data-urlencode "csrfmiddlewaretoken=$tok" --data-urlencode username=admin \
  --data-urlencode password=benchpass123 "$base/accounts/login/"
key=$(awk '$6 == "sessionid" {print $7}' "$jar")
[ -n "$key" ] || { echo "the login at $base/accounts/login/ set no session" >&2; exit 1; }
printf '%s\n' "$key"
