#!/usr/bin/env bash
# redis-benchmark against redis-server and infinistore (release build), one after the other in
# the same run, with the same client settings. Prints a table with infinistore ÷ redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_PORT=${REDIS_PORT:-7400}
PROXY_PORT=${PROXY_PORT:-7401}
NODE_PORT=${NODE_PORT:-7402}
CASES=(
    "1 KiB|-n 20000 -d 1024"
    "1 KiB, -P 16|-n 100000 -d 1024 -P 16"
    "1 MiB|-n 200 -d 1048576"
)

command -v redis-server >/dev/null || { echo "redis-server is needed: apt-get install redis-server" >&2; exit 1; }
redis-server --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes >/dev/null
.build/release/infinistore serve --port "$PROXY_PORT" --node-port "$NODE_PORT" 2>/dev/null &
proxy=$!
trap 'redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; kill -INT $proxy 2>/dev/null || true; wait $proxy 2>/dev/null || true' EXIT
sleep 1

rps() { # port, args, command → requests per second
    redis-benchmark -p "$1" -c 50 -t "${3,,}" $2 -q 2>/dev/null | tr '\r' '\n' | awk -v c="$3:" '$1 == c && /requests per second/ { print $2 }'
}

echo "| case | command | redis-server rps | infinistore rps | infinistore ÷ redis-server |"
echo "|---|---|---:|---:|---:|"
for entry in "${CASES[@]}"; do
    name=${entry%%|*}
    args=${entry#*|}
    for command in SET GET; do
        echo "running $name $command" >&2
        base=$(rps "$REDIS_PORT" "$args" "$command")
        ours=$(rps "$PROXY_PORT" "$args" "$command")
        ratio=$(awk -v a="$ours" -v b="$base" 'BEGIN { printf "%.3f", a / b }')
        echo "| $name | $command | $base | $ours | $ratio |"
    done
done
echo "proxy RSS after the runs: $(( $(ps -o rss= -p $proxy) / 1024 )) MiB"
