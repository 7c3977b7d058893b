#!/usr/bin/env bash
# Run a scenario as N shard processes on this machine exactly as the
# Kubernetes Indexed Job in deploy/kubernetes/ does (same environment:
# JOB_COMPLETION_INDEX, STAMPEDE_SHARDS, one --start-at for all), every shard
# pointed at one `stampede serve` started from the scenario's [sim] table,
# then merge the shards' report folders.
#
#   scripts/shards-local.sh 4 scenarios/ticket-drop.toml [OUT]
#
# STAMPEDE=path/to/stampede picks the binary (default: target/release, else
# target/debug, else stampede on PATH). Exit code: the merge's (0 all gates
# passed, 1 a gate failed, 2 a shard was refused, 3 a shard stopped early).
set -euo pipefail

n=${1:?usage: shards-local.sh N SCENARIO [OUT]}
scenario=${2:?usage: shards-local.sh N SCENARIO [OUT]}
out=${3:-reports/$(basename "$scenario" .toml)-shards-$(date -u +%Y%m%dT%H%M%SZ)}

if [[ -z "${STAMPEDE:-}" ]]; then
  for b in target/release/stampede target/debug/stampede; do
    [[ -x $b ]] && STAMPEDE=$b && break
  done
fi
STAMPEDE=${STAMPEDE:-stampede}
mkdir -p "$out"

# One shared target: the simulator from the scenario's [sim] table.
serve_log=$out/serve.log
"$STAMPEDE" serve --port 0 --config "$scenario" >"$serve_log" 2>&1 &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true' EXIT
url=
for _ in $(seq 100); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$serve_log" | head -n1 || true)
  [[ -n $url ]] && break
  sleep 0.1
done
[[ -n $url ]] || { echo "stampede serve did not start:" >&2; cat "$serve_log" >&2; exit 4; }
echo "target: $url (pid $serve_pid)"

# A common start a few seconds ahead, so every shard's seconds line up.
start_at=$(( $(date +%s) + 3 ))
pids=()
for (( i = 0; i < n; i++ )); do
  JOB_COMPLETION_INDEX=$i STAMPEDE_SHARDS=$n \
    "$STAMPEDE" run "$scenario" --target "$url" --ledger --start-at "$start_at" \
    --out "$out/shard-$i" --quiet >"$out/shard-$i.log" 2>&1 &
  pids+=($!)
done
status=0
for (( i = 0; i < n; i++ )); do
  wait "${pids[$i]}" || { rc=$?; echo "shard $i/$n exited $rc (see $out/shard-$i.log)"; (( rc > 1 )) && status=$rc; }
done

shards=()
for (( i = 0; i < n; i++ )); do shards+=("$out/shard-$i"); done
set +e
"$STAMPEDE" merge "${shards[@]}" --out "$out/merged"
rc=$?
set -e
echo "merged report: $out/merged/report.html"
(( status > rc )) && rc=$status
exit "$rc"
