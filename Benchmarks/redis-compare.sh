#!/usr/bin/env bash
# redis-benchmark against redis-server and infinistore (release build), one after the other in
# the same run, with the same client settings. Prints a table with infinistore ÷ redis-server.
# Each measurement is taken ROUNDS times, the servers taking turns, and the table shows the
# medians: on a shared machine one server's single run can be 20 % off its next one.
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_PORT=${REDIS_PORT:-7400}
PROXY_PORT=${PROXY_PORT:-7401}
NODE_PORT=${NODE_PORT:-7402}
UNCACHED_PORT=${UNCACHED_PORT:-7403}
UNCACHED_NODE_PORT=${UNCACHED_NODE_PORT:-7404}
ROUNDS=${ROUNDS:-3}
# redis-benchmark's default is one key, overwritten by every SET; the random-key cases spread the
# same requests over 100000 keys, so no write supersedes another and nothing is coalesced.
CASES=(
    "1 KiB|-n 50000 -d 1024"
    "1 KiB, random keys|-n 20000 -r 100000 -d 1024"
    "1 KiB, -P 16|-n 100000 -d 1024 -P 16"
    "1 KiB, -P 16, random keys|-n 40000 -r 100000 -d 1024 -P 16"
    "1 MiB|-n 1000 -d 1048576"
    "1 MiB, random keys|-n 1000 -r 100000 -d 1048576"
    "1 MiB, -P 16|-n 800 -d 1048576 -P 16"
)

command -v redis-server >/dev/null || { echo "redis-server is needed: apt-get install redis-server" >&2; exit 1; }
data=$(mktemp -d)
redis-server --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes >/dev/null
# Two proxies with the defaults, one without its read cache, so reads of the benchmark's one hot
# key are measured both from the proxy's memory and from the nodes. Each runs alone: the other
# is idle while one is measured.
.build/release/infinistore serve --port "$PROXY_PORT" --node-port "$NODE_PORT" --data-dir "$data/cached" 2>/dev/null &
proxy=$!
.build/release/infinistore serve --port "$UNCACHED_PORT" --node-port "$UNCACHED_NODE_PORT" --data-dir "$data/uncached" \
    --read-cache 0 2>/dev/null &
uncached=$!
trap 'redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; kill -INT $proxy $uncached 2>/dev/null || true; wait $proxy $uncached 2>/dev/null || true; rm -rf "$data"' EXIT
sleep 1

rps() { # port, args, command → requests per second
    redis-benchmark -p "$1" -c 50 -t "${3,,}" $2 -q 2>/dev/null | tr '\r' '\n' | awk -v c="$3:" '$1 == c && /requests per second/ { print $2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
# The lowest and highest of the rounds' ratios, each round's servers measured back to back.
spread() { # ours..., base... (ROUNDS each)
    local -a values=("$@")
    for ((i = 0; i < ROUNDS; i++)); do ratio "${values[i]}" "${values[ROUNDS + i]}"; echo; done |
        sort -g | awk 'NR == 1 { low = $1 } { high = $1 } END { printf "%s–%s", low, high }'
}

# Every server gets the same short warm-up first, so no measured run includes a server's start:
# connections, allocator arenas, and on the proxies the first requests of each node process.
for port in "$REDIS_PORT" "$PROXY_PORT" "$UNCACHED_PORT"; do
    echo "warming up the server on port $port" >&2
    redis-benchmark -p "$port" -c 50 -n 20000 -d 1024 -t set,get -q >/dev/null 2>&1
    redis-benchmark -p "$port" -c 50 -n 200 -d 1048576 -t set,get -q >/dev/null 2>&1
done

echo "| case | command | redis-server rps | infinistore rps | ÷ redis-server | rounds | no read cache rps | ÷ redis-server | rounds |"
echo "|---|---|---:|---:|---:|---|---:|---:|---|"
for entry in "${CASES[@]}"; do
    name=${entry%%|*}
    args=${entry#*|}
    for command in SET GET; do
        base=() ours=() bare=()
        for ((round = 1; round <= ROUNDS; round++)); do
            echo "running $name $command, round $round of $ROUNDS" >&2
            base+=("$(rps "$REDIS_PORT" "$args" "$command")")
            ours+=("$(rps "$PROXY_PORT" "$args" "$command")")
            bare+=("$(rps "$UNCACHED_PORT" "$args" "$command")")
        done
        b=$(median "${base[@]}") o=$(median "${ours[@]}") u=$(median "${bare[@]}")
        echo "| $name | $command | $b | $o | $(ratio "$o" "$b") | $(spread "${ours[@]}" "${base[@]}") | $u | $(ratio "$u" "$b") | $(spread "${bare[@]}" "${base[@]}") |"
    done
done
peak() { awk '/^VmHWM/ { printf "%d", $2 / 1024 }' "/proc/$1/status"; }
echo "peak RSS over all runs: proxy $(peak $proxy) MiB, proxy without read cache $(peak $uncached) MiB (each without its node processes), redis-server $(peak "$(redis-cli -p "$REDIS_PORT" info server | tr -d '\r' | awk -F: '/^process_id/ { print $2 }')") MiB"
