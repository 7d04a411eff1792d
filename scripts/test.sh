#!/usr/bin/env bash
# The project's test command: installs what it needs, checks formatting and lints, and runs
# every test of the workspace (unit, integration, real clients, cluster on a real Redis).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

scripts/install-deps.sh
export SIO_INTEROP_DIR="$root/tests/interop"

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
# The tests start servers on free ports; two at a time keeps timing-sensitive tests stable on
# small machines.
cargo test --workspace --all-targets -- --test-threads=2
echo "== cargo test --doc"
cargo test --workspace --doc
