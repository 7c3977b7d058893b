#!/usr/bin/env bash
# Simulator throughput on one core: the sim pinned to CPU 0 with a 1-worker
# runtime, wrk pinned to CPU 1, availability reads on 127.0.0.1 only.
# Usage: scripts/bench-sim.sh [duration=10s] [connections=64]
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-10s}
CONNS=${2:-64}
PORT=${PORT:-18080}
URL="http://127.0.0.1:${PORT}/events/E1/zones/A/availability"

if ! command -v wrk >/dev/null; then
    echo "wrk missing: apt-get install -y wrk" >&2
    exit 1
fi

cargo build --release --example sim_server
BIN=target/release/examples/sim_server

taskset -c 0 "$BIN" --port "$PORT" --threads 1 &
SIM=$!
trap 'kill "$SIM" 2>/dev/null || true; wait "$SIM" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
    if curl -fs "$URL" >/dev/null 2>&1 || (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; then
        break
    fi
    sleep 0.1
done

OUT=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$URL")
echo "$OUT"
RPS=$(echo "$OUT" | awk '/Requests\/sec/ {print $2}')
echo
echo "simulator (1 core, 1 worker thread): ${RPS} requests/s"
