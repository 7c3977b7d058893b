#!/usr/bin/env bash
# Report rendering against the simulator's zone count: every report file
# (summary.json, the CSVs, report.html, junit.xml) written, read back and
# rendered again for 10,000 and for 100,000 zones per fleet. Prints the time
# per 10,000 zones for each; linear rendering keeps the two close, a
# quadratic path makes the second ten times the first.
# Usage: scripts/bench-report.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test ${1:-} --test reports report_scale:: -- --nocapture 2>&1 |
    grep -E '^rendering:|test result'
