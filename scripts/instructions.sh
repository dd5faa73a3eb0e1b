#!/usr/bin/env bash
# Counts the instructions a release jwtd runs per request, with valgrind's callgrind: exact
# and repeatable whatever else the machine is doing, where requests per second move by tens
# of percent from one run to the next. The server serves a fresh SQLite database under
# callgrind; one keep-alive connection sends each path's requests one after another, and the
# counters are zeroed before and dumped after each path's batch.
#
#   scripts/instructions.sh [BINARY] [REQUESTS]      (defaults: ./target/release/jwtd, 2000)
#
# Prints, per path, the server's instructions per request and the functions that cost the
# most in it (TOP of them, default 10). ONLY=text keeps the paths whose label holds it
# (ONLY=refresh); KEEP=dir keeps callgrind's dumps there for callgrind_annotate. Refresh
# rotates one chain, one request at a time: each rotation is a batch of one, so it pays a
# whole commit that rotations under load share. valgrind runs SHA-256 in software (no SHA
# extensions), so each HMAC and token hash counts far more here than on the CPU; the line
# says how much.
set -euo pipefail
binary=${1:-./target/release/jwtd}
requests=${2:-2000}
command -v valgrind >/dev/null || { echo "instructions: valgrind is needed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "instructions: python3 is needed" >&2; exit 1; }
[ -x "$binary" ] || { echo "instructions: $binary not found (make release)" >&2; exit 1; }

work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$work"/callgrind.* "$KEEP"/; fi
    rm -rf "$work"
}
trap cleanup EXIT
export JWTD_DATABASE_URL="sqlite://$work/jwtd.db" JWTD_LOG=warn JWTD_FLUSH_EXPIRED_INTERVAL=0
"$binary" migrate >/dev/null
echo 'instructions password' | "$binary" user create counter --password-stdin >/dev/null
valgrind --quiet --tool=callgrind --callgrind-out-file="$work/callgrind.%p" --dump-instr=no \
    "$binary" serve --bind 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server=$!
for _ in $(seq 600); do
    grep -q '^listening on ' "$work/server.out" 2>/dev/null && break
    sleep 0.1
done
address=$(sed -n 's|^listening on http://||p' "$work/server.out")
[ -n "$address" ] || { cat "$work/server.err" >&2; exit 1; }

python3 - "$address" "$requests" "$server" "$work" <<'PY'
import http.client, json, os, re, subprocess, sys
address, requests, pid, work = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
host, port = address.rsplit(":", 1)
connection = http.client.HTTPConnection(host, int(port))

def send(method, path, body=None, headers=None):
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.read()

status, body = send("POST", "/token", json.dumps({"username": "counter", "password": "instructions password"}),
                    {"Content-Type": "application/json"})
assert status == 200, body
access = json.loads(body)["access"]
chain = [json.loads(body)["refresh"]]

def rotate():
    # Each rotation presents the token the previous one returned, as a client does.
    status, body = send("POST", "/token/refresh", json.dumps({"refresh": chain[0]}),
                        {"Content-Type": "application/json"})
    if status == 200:
        chain[0] = json.loads(body)["refresh"]
    return status, body

paths = {
    "GET /healthz": lambda: send("GET", "/healthz"),
    "POST /token/verify": lambda: send("POST", "/token/verify", json.dumps({"token": access}),
                                       {"Content-Type": "application/json"}),
    "GET /me": lambda: send("GET", "/me", headers={"Authorization": "Bearer " + access}),
    "POST /token/refresh": rotate,
}
paths = {label: send_one for label, send_one in paths.items() if os.environ.get("ONLY", "") in label}

def self_costs(path):
    # Self cost per function; callgrind compresses names as "(id) name" on first use, in
    # fn= and cfn= lines, and the line after calls= is a callee's inclusive cost.
    names, costs, function, after_call = {}, {}, None, False
    for line in open(path):
        if line.startswith(("fn=", "cfn=")):
            text = line.split("=", 1)[1].rstrip("\n")
            match = re.match(r"\((\d+)\)(?: (.*))?$", text)
            if match is None:
                name = text
            else:
                if match.group(2) is not None:
                    names[match.group(1)] = match.group(2)
                name = names.get(match.group(1), "?")
            if line.startswith("fn="):
                function, after_call = name, False
        elif line.startswith("calls="):
            after_call = True
        elif line[:1] and line[0] in "0123456789+-*" and function is not None:
            if after_call:
                after_call = False
                continue
            parts = line.split()
            if len(parts) > 1:
                costs[function] = costs.get(function, 0) + int(parts[1])
    return costs

for dump, (label, send_one) in enumerate(paths.items(), start=1):
    for _ in range(50):
        send_one()
    subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
    for _ in range(requests):
        status, body = send_one()
        assert status == 200, (label, status, body)
    subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
    [path] = [os.path.join(work, name) for name in os.listdir(work) if name.endswith(f".{dump}")]
    costs = self_costs(path)
    total = sum(costs.values())
    sha = sum(cost for name, cost in costs.items() if "sha256::compress" in name)
    print(f"{label}: {total // requests:,} instructions per request "
          f"({sha // requests:,} of them SHA-256 in software)")
    for name, cost in sorted(costs.items(), key=lambda item: -item[1])[:int(os.environ.get("TOP", "10"))]:
        print(f"  {cost // requests:>7,}  {name[:110]}")
PY
