#!/usr/bin/env bash
# Regenerates crates/server/link/jwtd.order: every function of the release `jwtd` that runs
# while it serves `make bench`'s scenarios, most instructions first. The linker places them
# together at the start of .text (crates/server/build.rs), so the pages of code the kernel maps
# while jwtd serves are the pages of the code it runs (see crates/server/link/README.md).
#
# Needs valgrind. Runs the benchmark at low concurrency with the server under callgrind, which
# counts every function executed, not only the ones a sampling profiler happens to hit. Set
# JWTD_BENCH_POSTGRES_URL to include the PostgreSQL paths. Takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "function-order: valgrind is needed" >&2; exit 1; }
# jwtd on its own, as `make release`, `make bench` and `cargo build --release` build it: the
# features cargo unifies, and so the symbol names, depend on the packages built together.
cargo build --release -p jwtd
cargo build --release -p jwtd-bench

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp target/release/jwtd "$work/jwtd"
cat > "$work/jwtd-under-callgrind" <<EOF
#!/bin/sh
# The benchmark kills its servers, so callgrind writes its counts every 10M basic blocks.
exec valgrind --quiet --tool=callgrind --callgrind-out-file="$work/callgrind.%p" \\
  --dump-every-bb=10000000 --dump-instr=no --compress-strings=no --compress-pos=no \\
  --demangle=no "$work/jwtd" "\$@"
EOF
chmod +x "$work/jwtd-under-callgrind"

if ! ./target/release/jwtd-bench --jwtd "$work/jwtd-under-callgrind" --duration 4s \
  --warmup 1s --concurrency 2 >"$work/bench.log" 2>&1; then
  cat "$work/bench.log" >&2
  exit 1
fi

# Self cost per function of the jwtd binary, from the `serve` processes only (the benchmark
# also runs `jwtd migrate` and `jwtd user create` through the same path). In callgrind's
# format a cost line right after `calls=` is the callee's inclusive cost: not counted.
awk -v binary="$work/jwtd" '
  FNR == 1 { serving = 0; object = ""; function_name = ""; after_call = 0 }
  /^cmd:/ { serving = index($0, " serve") > 0; next }
  !serving { next }
  /^ob=/ { object = substr($0, 4); next }
  /^fn=/ {
    function_name = substr($0, 4)
    sub(/\047[0-9]+$/, "", function_name)   # callgrind marks recursion levels with a quote
    if (object == binary && function_name !~ /^(0x|\()/) { cost[function_name] += 0 }
    next
  }
  /^calls=/ { after_call = 1; next }
  /^[0-9]/ {
    if (after_call) { after_call = 0; next }
    if (object == binary && (function_name in cost)) { cost[function_name] += $2 }
  }
  END { for (name in cost) { print cost[name], name } }
' "$work"/callgrind.* | sort -k1,1nr -k2,2 | cut -d' ' -f2 >"$work/jwtd.order"

# A run that went wrong (no serving process profiled) must not empty the committed list.
count=$(wc -l <"$work/jwtd.order")
if [ "$count" -lt 500 ]; then
  echo "function-order: only $count functions found; crates/server/link/jwtd.order is unchanged" >&2
  exit 1
fi
mv "$work/jwtd.order" crates/server/link/jwtd.order
echo "function-order: $count functions in crates/server/link/jwtd.order"
