#!/usr/bin/env bash
# Measures what replication (d = 1) and erasure coding (the default 10+2) cost per request at
# small value sizes, to place the small-object threshold. For each size, one release proxy that
# replicates every value and one that codes every value (read cache off, so every GET reaches
# the nodes) are driven by the same redis-benchmark runs; CPU is the proxy's and its nodes'
# user + system time from /proc, divided by the request count.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-7410}
REQUESTS=${REQUESTS:-10000}
SIZES=${SIZES:-"256 1024 2048 4096 8192 16384 32768 65536"}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT

cpu_ticks() { # the process and its children, in clock ticks
    local total=0
    for pid in "$1" $(pgrep -P "$1"); do
        read -r -a fields < <(sed 's/^.*) //' "/proc/$pid/stat")
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

measure() { # threshold, size → "set-rps set-µs get-rps get-µs"
    .build/release/infinistore serve --port "$PORT" --node-port 0 --data-dir "$data/$1-$2" --read-cache 0 \
        --small-object-threshold "$1" 2>/dev/null &
    local proxy=$! result=""
    for _ in $(seq 100); do redis-cli -p "$PORT" PING >/dev/null 2>&1 && break; sleep 0.1; done
    redis-benchmark -p "$PORT" -c 50 -n 1000 -d "$2" -t set,get -q >/dev/null 2>&1
    local hz
    hz=$(getconf CLK_TCK)
    for command in set get; do
        local before after rps
        before=$(cpu_ticks "$proxy")
        rps=$(redis-benchmark -p "$PORT" -c 50 -n "$REQUESTS" -d "$2" -t "$command" -q 2>/dev/null | tr '\r' '\n' \
            | awk '/requests per second/ { print $2 }' | tail -1)
        after=$(cpu_ticks "$proxy")
        result+="$rps $(( (after - before) * 1000000 / hz / REQUESTS )) "
    done
    kill -INT "$proxy"
    wait "$proxy" || true
    echo "$result"
}

echo "| value | replicated SET rps | µs CPU/SET | EC 10+2 SET rps | µs CPU/SET | replicated GET rps | µs CPU/GET | EC 10+2 GET rps | µs CPU/GET |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
    echo "measuring $size bytes" >&2
    read -r rs rsc rg rgc <<<"$(measure 1073741824 "$size")"
    read -r es esc eg egc <<<"$(measure 0 "$size")"
    echo "| $size | $rs | $rsc | $es | $esc | $rg | $rgc | $eg | $egc |"
done
