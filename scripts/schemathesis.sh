#!/usr/bin/env bash
# Property-based tests of the HTTP API from its own OpenAPI document: schemathesis (in the
# venv the Makefile makes) against a live jwtd on a free port, a temporary SQLite database
# and a test user whose access token reaches the authenticated paths. Checks: no 5xx, and
# every response's status and body as the document says. Stops everything it starts.
# Usage: scripts/schemathesis.sh path/to/jwtd path/to/venv [max-examples]
set -euo pipefail

jwtd="$(realpath "$1")"
schemathesis="$(realpath "$2")/bin/schemathesis"
max_examples="${3:-25}"
dir="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir"

export JWTD_DATABASE_URL="sqlite://$dir/jwtd.db"
export JWTD_LOG=warn
# Long enough for the whole run: the one access token is sent with every request.
export JWTD_ACCESS_TOKEN_LIFETIME=1h
# Cheap hashing: the run is about the HTTP surface, not argon2's cost.
export JWTD_ARGON2_MEMORY_KIB=1024 JWTD_ARGON2_ITERATIONS=1

mkfifo listening
"$jwtd" serve --bind 127.0.0.1:0 > listening 2> jwtd.log &
server=$!
read -r line < listening
base="${line#listening on }"
echo "jwtd at $base"

echo 'schemathesis-password' | "$jwtd" user create alice --password-stdin > /dev/null
access="$(curl -sf -X POST "$base/token" -H 'Content-Type: application/json' \
    -d '{"username": "alice", "password": "schemathesis-password"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')"

status=0
"$schemathesis" run "$base/openapi.json" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance \
    --max-examples "$max_examples" \
    --seed 15 \
    --header "Authorization: Bearer $access" \
    --no-color || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- jwtd's log:" >&2
    cat jwtd.log >&2
fi
exit "$status"
