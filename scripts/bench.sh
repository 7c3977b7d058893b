#!/usr/bin/env bash
# Whole-run benchmark of the engine against the embedded simulator (loopback only).
#
# 1. Throughput: scenarios/bench-10k.toml, an open model at 10,000 attempts/s
#    for 30 s (override with BENCH_DURATION=10s, in seconds). Prints achieved rate,
#    schedule lag p99, CPU seconds per 10,000 requests and peak RSS, and the
#    ratio against a baseline measured in the same run: wrk hammering the
#    same simulator endpoint as fast as it can (`stampede serve`), i.e. how
#    close the generator + simulator pair gets to what the box can do.
# 2. Memory: 1,000,000 simulated users arriving over 60 s against a simulator
#    that answers 503 with Retry-After: 60s, so nearly all of them wait in
#    backoff at once; prints their peak RSS (target: under 1 GiB).
# 3. Merge: `stampede merge` of 16 synthetic shards of a 10-minute run
#    (examples/shard_hlogs.rs: 2 fleets x 4 steps, per-second op and attempt
#    histograms of 500 samples each); prints wall time and peak RSS (targets:
#    under 5 s, under 200 MB) and, as the baseline measured in the same run,
#    the merge of one of those shards alone (16 shards / 1 shard: 16 is linear).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${BENCH_DURATION:-30s}
# BENCH_PARTS=memory (or merge) runs that part alone.
PARTS=${BENCH_PARTS:-throughput memory merge}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"; [ -n "${SIM:-}" ] && kill "$SIM" 2>/dev/null || true' EXIT
ulimit -n 65536 2>/dev/null || true

# STAMPEDE=path/to/binary skips the release build.
if [ -z "${STAMPEDE:-}" ]; then
  cargo build --release --quiet --bin stampede --example shard_hlogs
fi
BIN=${STAMPEDE:-target/release/stampede}

json() { python3 -c "import json,sys; r=json.load(open('$1')); c=r['results'][0]; print($2)"; }

if [[ " $PARTS " == *" throughput "* ]]; then
echo "== throughput: open model, 10,000/s for $DUR =="
/usr/bin/time -f '%e %U %S %M' -o "$OUT/time" \
  "$BIN" run scenarios/bench-10k.toml --duration "$DUR" --out "$OUT/run" --quiet >/dev/null
read -r wall user sys rss_kb < <(tail -n1 "$OUT/time")
S="$OUT/run/summary.json"
attempts=$(json "$S" "c['attempts']")
rate=$(json "$S" "round(c['attempts'] / ${DUR%s}, 1)")
lag=$(json "$S" "c['schedule_lag_ms']['p99']")
p99=$(json "$S" "c['attempt_latency_ms']['p99']")
ok=$(json "$S" "c['outcomes'].get('OK', 0)")
cpu=$(python3 -c "print(round(($user + $sys) / $attempts * 10000, 3))")
echo "attempts:            $attempts ($ok OK)"
echo "achieved rate:       $rate /s (target 10000)"
echo "schedule lag p99:    $lag ms (target < 5 ms)"
echo "attempt latency p99: $p99 ms"
echo "CPU per 10k req:     $cpu s (generator + embedded simulator, user+sys)"
echo "peak RSS:            $((rss_kb / 1024)) MiB"

echo
echo "== baseline in the same run: wrk against the same simulator, 2 threads, 64 connections, 10 s =="
if command -v wrk >/dev/null; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$BIN" serve --port "$PORT" --config scenarios/bench-10k.toml >/dev/null &
  SIM=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
  wrk_rps=$(wrk -t2 -c64 -d10s "http://127.0.0.1:$PORT/events/E1/zones/A/availability" | awk '/Requests\/sec/ {print $2}')
  kill "$SIM"; wait "$SIM" 2>/dev/null || true; SIM=
  echo "wrk max rate:        $wrk_rps /s"
  python3 -c "print('ratio stampede/wrk:  %.2f (stampede held a fixed 10k/s schedule; wrk ran flat out)' % ($rate / $wrk_rps))"
else
  echo "wrk not installed (apt-get install -y wrk): no baseline"
fi
fi # throughput

echo
if [[ " $PARTS " == *" memory "* ]]; then
echo "== memory: 1,000,000 users, most waiting in backoff =="
/usr/bin/time -f '%e %U %S %M' -o "$OUT/time2" \
  "$BIN" run scenarios/bench-memory.toml --out "$OUT/mem" --quiet >/dev/null || true
read -r wall2 user2 sys2 rss2_kb < <(tail -n1 "$OUT/time2")
M="$OUT/mem/summary.json"
peak=$(json "$M" "max(s['in_flight'] for s in c['timeseries'])")
echo "users in flight (peak): $peak"
echo "peak RSS:               $((rss2_kb / 1024)) MiB (target <= 1024 MiB; simulator included)"

fi # memory
echo
if [[ " $PARTS " == *" merge "* ]]; then
echo "== merge: 16 shards of a 10-minute run, 2 fleets x 4 steps =="
GEN=${SHARD_HLOGS:-target/release/examples/shard_hlogs}
"$GEN" "$OUT/shards" 16 600 500 2>/dev/null
/usr/bin/time -f '%e %U %S %M' -o "$OUT/time3" \
  "$BIN" merge "$OUT"/shards/shard-* --out "$OUT/merged" >/dev/null
read -r wall3 _ _ rss3_kb < <(tail -n1 "$OUT/time3")
# Baseline in the same run: shard 0 alone (its own shard count is 16, so
# merge would refuse it as incomplete; a copy marked 0/1 is merged instead).
mkdir -p "$OUT/one"
cp "$OUT"/shards/shard-0/* "$OUT/one/"
python3 - "$OUT/one/summary.json" <<'PY'
import json, sys
p = sys.argv[1]
r = json.load(open(p))
r["origin"]["shard"] = {"index": 0, "count": 1}
json.dump(r, open(p, "w"))
PY
/usr/bin/time -f '%e %U %S %M' -o "$OUT/time4" \
  "$BIN" merge "$OUT/one" --out "$OUT/merged-one" >/dev/null
read -r wall4 _ _ rss4_kb < <(tail -n1 "$OUT/time4")
inputs=$(du -sm "$OUT/shards" | cut -f1)
echo "input:                 16 folders, $inputs MB of .hlog and summaries"
echo "merge of 16 shards:    ${wall3} s, peak RSS $((rss3_kb / 1024)) MiB (targets: < 5 s, < 200 MB)"
echo "baseline, 1 shard:     ${wall4} s, peak RSS $((rss4_kb / 1024)) MiB"
python3 -c "print('ratio 16 shards / 1:  %.1f (16 would be linear)' % ($wall3 / max($wall4, 0.01)))"
fi # merge
