#!/usr/bin/env bash
# The README's walkthrough against a real jwtd binary on a fresh SQLite database.
# Usage: scripts/e2e.sh [path/to/jwtd]
set -euo pipefail

jwtd="$(realpath "${1:-./target/release/jwtd}")"
dir="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir"
export JWTD_LOG=warn

field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
expect() { # expect NAME EXPECTED ACTUAL
    if [ "$2" != "$3" ]; then echo "FAIL $1: expected $2, got $3" >&2; exit 1; fi
    echo "ok   $1"
}

mkfifo listening
"$jwtd" serve --bind 127.0.0.1:0 > listening &
server=$!
read -r line < listening
base="${line#listening on }"
echo "jwtd at $base"

echo 'correct horse battery staple' | "$jwtd" user create alice --password-stdin > /dev/null

pair="$(curl -sf -X POST "$base/token" -H 'Content-Type: application/json' \
    -d '{"username": "alice", "password": "correct horse battery staple"}')"
refresh="$(field refresh <<< "$pair")"
access="$(field access <<< "$pair")"
expect "login returns two JWTs" 4 "$(printf '%s%s' "$refresh" "$access" | tr -cd '.' | wc -c | tr -d ' ')"

expect "me" '{"id":1,"username":"alice"}' "$(curl -sf "$base/me" -H "Authorization: Bearer $access")"

rotated="$(curl -sf -X POST "$base/token/refresh" -d "refresh=$refresh")"
new_refresh="$(field refresh <<< "$rotated")"
[ "$new_refresh" != "$refresh" ] || { echo "FAIL refresh did not rotate" >&2; exit 1; }
echo "ok   refresh rotates"

expect "logout" '{}' "$(curl -sf -X POST "$base/logout" -d "refresh=$new_refresh")"

status="$(curl -s -o body -w '%{http_code}' -X POST "$base/token/refresh" -d "refresh=$new_refresh")"
expect "refresh after logout is refused" 401 "$status"
expect "refusal body" '{"detail":"Token is blacklisted","code":"token_not_valid"}' "$(cat body)"

echo "e2e: all checks passed"
