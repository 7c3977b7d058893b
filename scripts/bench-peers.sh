#!/usr/bin/env bash
# Peer benchmark: stampede side by side with wrk (and hey / oha when
# installed) against the same nginx, in one run, on this machine.
#
#   scripts/bench-peers.sh                 # 3 modes x 3 repeats x 10 s per tool
#   BENCH_DURATION=5 BENCH_REPEATS=1 scripts/bench-peers.sh   # a quick look
#   STAMPEDE=target/debug/stampede scripts/bench-peers.sh     # skip the release build
#
# nginx (Debian package, worker_processes 1, keep-alive, `return 201` on every
# path, stub_status on /nginx_status) runs pinned to core 0; every generator
# runs pinned to core 1, one after the other. Modes:
#   closed64  64 connections flat out (closed model, no think time)
#   open10k   a fixed 10,000 requests/s (tools without rate control skip it)
#   conn10k   10,000 connections flat out
# Per run: requests/s and CPU microseconds per request, both counted against
# nginx's OWN request count (stub_status), peak RSS of the generator, the
# connections nginx accepted, the generator's own p99 (and stampede's
# schedule lag p99 in the open mode). Each cell is the median of the repeats.
#
# Disturbance: on a shared machine other processes steal the cores. The CPU
# time every other process used during a run is read from /proc (and steal
# from /proc/stat); a run where they used more than 5% of a core is marked
# DISTURBED, and the table says how many of its repeats were clean (medians
# are over clean repeats when there are any). Nothing fails because of it.
#
# Loopback only (127.0.0.1); every run is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${BENCH_DURATION:-10}
REPEATS=${BENCH_REPEATS:-3}
MODES=${BENCH_MODES:-"closed64 open10k conn10k"}
NGINX=${NGINX:-/usr/sbin/nginx}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 12000 ] || echo "warning: ulimit -n is $(ulimit -n); the 10,000-connection mode needs more" >&2

if [ -z "${STAMPEDE:-}" ]; then
  echo "building stampede (release)..." >&2
  cargo build --release --quiet
  STAMPEDE=target/release/stampede
fi
TMP=$(mktemp -d)
NGINX_PID=
cleanup() {
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/error.log crit;
events { worker_connections 19000; multi_accept on; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path $TMP/body;
  proxy_temp_path $TMP/proxy;
  fastcgi_temp_path $TMP/fastcgi;
  uwsgi_temp_path $TMP/uwsgi;
  scgi_temp_path $TMP/scgi;
  server {
    listen 127.0.0.1:$PORT backlog=4096;
    location = /nginx_status { stub_status; }
    location / { return 201; }
  }
}
EOF
taskset -c 0 "$NGINX" -p "$TMP" -c "$TMP/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

# "accepts requests" from stub_status (each read is itself one connection
# and one request; the deltas below subtract it).
stub() {
  python3 - "$URL/nginx_status" <<'EOF'
import sys, urllib.request
lines = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().splitlines()
a, h, r = lines[2].split()
print(a, r)
EOF
}

# One line: busy CPU seconds of the whole machine (user+nice+system+irq+
# softirq, /proc/stat), its steal time, and the CPU seconds nginx used
# (utime+stime of its processes). With tick accounting (no
# CONFIG_IRQ_TIME_ACCOUNTING) process times include their softirq work.
cpu_snapshot() {
  python3 - "$@" <<'EOF'
import os, sys
hz = os.sysconf("SC_CLK_TCK")
for line in open("/proc/stat"):
    if line.startswith("cpu "):
        f = [int(x) for x in line.split()[1:]]
        busy, steal = f[0] + f[1] + f[2] + f[5] + f[6], f[7]
mine = 0
for p in sys.argv[1:]:
    try:
        s = open(f"/proc/{p}/stat").read()
    except OSError:
        continue
    f = s[s.rfind(")") + 2:].split()
    mine += int(f[11]) + int(f[12])
print(busy / hz, steal / hz, mine / hz)
EOF
}

nginx_pids() { echo "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"; }

# run_one MODE TOOL REP: one measured run; appends a line to $TMP/results.
run_one() {
  local mode=$1 tool=$2 rep=$3 cmd=() out="$TMP/run-$mode-$tool-$rep"
  local scen
  case $mode in
    closed64) scen=scenarios/bench-peers-closed.toml ;;
    open10k) scen=scenarios/bench-peers-open.toml ;;
    conn10k) scen=scenarios/bench-peers-10k.toml ;;
  esac
  case $tool:$mode in
    stampede:*) cmd=("$STAMPEDE" run "$scen" --target "$URL/" --duration "${D}s" --out "$out" --quiet --max-rps 1000000) ;;
    wrk:closed64) cmd=(wrk -t1 -c64 -d"${D}s" --latency "$URL/bench") ;;
    wrk:conn10k) cmd=(wrk -t1 -c10000 -d"${D}s" --timeout 10s --latency "$URL/bench") ;;
    hey:closed64) cmd=(hey -z "${D}s" -c 64 "$URL/bench") ;;
    hey:open10k) cmd=(hey -z "${D}s" -c 100 -q 100 "$URL/bench") ;;
    hey:conn10k) cmd=(hey -z "${D}s" -c 10000 -t 20 "$URL/bench") ;;
    oha:closed64) cmd=(oha --no-tui -z "${D}s" -c 64 "$URL/bench") ;;
    oha:open10k) cmd=(oha --no-tui -z "${D}s" -c 64 -q 10000 "$URL/bench") ;;
    oha:conn10k) cmd=(oha --no-tui -z "${D}s" -c 10000 "$URL/bench") ;;
    *) return 0 ;; # e.g. wrk has no fixed-rate mode
  esac
  sleep 2 # let the last run's sockets close
  read -r acc0 req0 < <(stub)
  read -r busy0 steal0 ng0 < <(cpu_snapshot $(nginx_pids))
  local t0 t1
  t0=$(date +%s.%N)
  timeout $((D + 90)) taskset -c 1 /usr/bin/time -f '%U %S %M' -o "$out.time" \
    "${cmd[@]}" >"$out.stdout" 2>"$out.stderr" || echo "  ($tool $mode exited $?)" >&2
  t1=$(date +%s.%N)
  read -r busy1 steal1 ng1 < <(cpu_snapshot $(nginx_pids))
  read -r acc1 req1 < <(stub)
  read -r ut st rss < <(tail -1 "$out.time")
  local p99=nan lag=nan
  case $tool in
    stampede)
      read -r p99 lag < <(python3 -c "
import json; c = json.load(open('$out/summary.json'))['results'][0]
print(c['attempt_latency_ms']['p99'], c['schedule_lag_ms']['p99'])") || true ;;
    wrk) p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$out.stdout") ;;
    hey) p99=$(awk '$1=="99%" && $2=="in" {print $3*1000}' "$out.stdout") ;;
    # oha picks a unit per line ("99.00% in 1.2345 ms", "... 812.3 µs", "... 1.02 secs").
    oha) p99=$(awk '$1=="99.00%" && $2=="in" {u=$4; m=($4 ~ /^s/)?1000:($4=="ms")?1:($4 ~ /^(µs|us)$/)?0.001:($4=="ns")?0.000001:1000; print $3*m}' "$out.stdout") ;;
  esac
  python3 - >>"$TMP/results" <<EOF
reqs = $req1 - $req0 - 1
conns = $acc1 - $acc0 - 1
wall = $t1 - $t0
cpu = $ut + $st
# Everything else that ran: machine busy time minus nginx minus the generator.
other = max($busy1 - $busy0 - ($ng1 - $ng0) - cpu, 0.0)
steal = $steal1 - $steal0
# disturbed: other processes (or the hypervisor) took > 5% of a core
dist = int(other + steal > 0.05 * wall)
print("$mode $tool $rep", reqs / $D, cpu / max(reqs, 1) * 1e6, $rss / 1024, conns, "${p99:-nan}", "${lag:-nan}", round(other + steal, 2), dist)
EOF
  tail -1 "$TMP/results" | awk '{printf "  %-8s %-8s #%s  %9.0f req/s  %6.1f us/req  %6.0f MB  %6d conns  p99 %s ms  others %.2f CPU-s%s\n", $1, $2, $3, $4, $5, $6, $7, $8, $10, ($11 ? "  DISTURBED" : "")}' >&2
}

TOOLS="stampede wrk"
command -v hey >/dev/null && TOOLS="$TOOLS hey"
command -v oha >/dev/null && TOOLS="$TOOLS oha"
echo "nginx on core 0 ($URL), generators on core 1: $TOOLS; ${D}s per run, $REPEATS repeats" >&2
: >"$TMP/results"
for mode in $MODES; do
  for rep in $(seq "$REPEATS"); do
    for tool in $TOOLS; do
      run_one "$mode" "$tool" "$rep"
    done
  done
done

python3 - "$TMP/results" "$TOOLS" <<'EOF'
import sys, statistics, math
rows = [l.split() for l in open(sys.argv[1])]
tools = sys.argv[2].split()
modes = [m for m in ["closed64", "open10k", "conn10k"] if any(r[0] == m for r in rows)]
def cell(mode, tool, col):
    rs = [r for r in rows if r[0] == mode and r[1] == tool]
    clean = [r for r in rs if r[10] == "0"]
    use = clean or rs
    vals = [float(r[col]) for r in use if not math.isnan(float(r[col]))]
    return (statistics.median(vals) if vals else None), len(clean), len(rs)
metrics = [  # (label, column, modes it applies to)
    ("requests/s (nginx count)", 3, None),
    ("CPU us per request", 4, None),
    ("peak RSS MB", 5, None),
    ("connections nginx accepted", 6, None),
    ("p99 ms (generator's own)", 7, None),
    ("schedule lag p99 ms", 8, {"open10k"}),
]
peers = [t for t in tools if t != "stampede"]
head = ["mode", "metric"] + tools + [f"stampede/{p}" for p in peers]
out = []
for m in modes:
    for label, col, only in metrics:
        if only and m not in only:
            continue
        vals = {t: cell(m, t, col)[0] for t in tools}
        if all(v is None for v in vals.values()):
            continue
        def fmt(v):
            if v is None: return "-"
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
        line = [m, label] + [fmt(vals[t]) for t in tools]
        s = vals.get("stampede")
        for p in peers:
            line.append(f"{s / vals[p]:.2f}" if s is not None and vals[p] else "-")
        out.append(line)
    line = [m, "clean repeats"]
    for t in tools:
        _, c, n = cell(m, t, 3)
        line.append(f"{c}/{n}" if n else "-")
    out.append(line + [""] * len(peers))
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for l in out:
    print("| " + " | ".join(l) + " |")
dist = [r for r in rows if r[10] != "0"]
if dist:
    print(f"\nDISTURBED: {len(dist)} of {len(rows)} runs had other processes using more than 5% of a core "
          f"(up to {max(float(r[9]) for r in dist):.1f} CPU-s); medians use the clean repeats where there are any.")
EOF
