#!/usr/bin/env bash
# Renders a report.html to a PNG with headless chromium.
#
#   scripts/screenshot.sh [REPORT_HTML] [OUT_PNG]
#
# Without arguments it writes the built-in sample report (examples/sample_report.rs)
# to target/sample-report/ and screenshots it to docs/report-screenshot.png.
# Needs Debian's chromium (apt-get install -y chromium). No network is used:
# the report is self-contained and chromium runs with networking features off.
set -euo pipefail
cd "$(dirname "$0")/.."

html="${1:-}"
out="${2:-docs/report-screenshot.png}"
if [[ -z "$html" ]]; then
    cargo run --quiet --example sample_report -- target/sample-report >/dev/null
    html="target/sample-report/report.html"
fi
[[ -f "$html" ]] || { echo "no such report: $html" >&2; exit 1; }

chromium_bin="$(command -v chromium || command -v chromium-browser || true)"
[[ -n "$chromium_bin" ]] || { echo "chromium not found: apt-get install -y chromium" >&2; exit 1; }

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$out")"
"$chromium_bin" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" \
    --window-size="${WINDOW_SIZE:-1280,2400}" \
    --screenshot="$(realpath -m "$out")" "file://$(realpath "$html")" 2>/dev/null
echo "wrote $out"
