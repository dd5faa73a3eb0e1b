#!/usr/bin/env bash
# `make demo`: the SPA example on one port and jwtd in cookie mode on another, on a fresh
# temporary SQLite database with a demo user, so that CORS and CSRF are real. Ctrl-C stops both.
# Usage: scripts/spa-demo.sh JWTD_BINARY PAGE_PORT JWTD_PORT [USER] [PASSWORD]
set -euo pipefail

jwtd="$(realpath "$1")"
page_port="$2"
jwtd_port="$3"
user="${4:-demo}"
password="${5:-demo password}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

page="http://127.0.0.1:$page_port"
api="http://127.0.0.1:$jwtd_port"
export JWTD_DATABASE_URL="sqlite://$dir/jwtd.db"
export JWTD_LOG="${JWTD_LOG:-info}"
export JWTD_ACCESS_TOKEN_LIFETIME="${JWTD_ACCESS_TOKEN_LIFETIME:-5}"
export JWTD_REFRESH_TOKEN_LIFETIME="${JWTD_REFRESH_TOKEN_LIFETIME:-3600}"
export JWTD_REVOKE_ACCESS_ON_LOGOUT=true
export JWTD_REFRESH_COOKIE=true
export JWTD_REFRESH_COOKIE_SECURE=false
export JWTD_CORS_ALLOWED_ORIGINS="$page"

JWTD_LOG=warn "$jwtd" migrate > /dev/null
printf '%s\n' "$password" | JWTD_LOG=warn "$jwtd" user create "$user" --password-stdin > /dev/null

"$jwtd" serve --bind "127.0.0.1:$jwtd_port" &
pids+=("$!")
node "$repo/scripts/spa-static.mjs" --port "$page_port" &
pids+=("$!")

cat <<EOF

  jwtd (cookie mode, ${JWTD_ACCESS_TOKEN_LIFETIME} s access tokens): $api
  the example page:  $page/examples/spa/?api=$api
  log in as "$user" with the password "$password".
  Ctrl-C stops both.

EOF
wait -n "${pids[@]}"
