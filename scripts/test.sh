#!/usr/bin/env bash
# The test command (README): formatting, lints, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# stampede honours HTTP_PROXY & co. as curl does; the suite's loopback
# traffic must not go through a proxy from the caller's environment (cargo's
# own downloads still may). tests/staging/staging_proxy.rs sets its own.
loopback="127.0.0.1,localhost,::1"
existing="${NO_PROXY:-${no_proxy:-}}"
export NO_PROXY="${existing:+$existing,}$loopback"
export no_proxy="$NO_PROXY"
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets
cargo test --doc
