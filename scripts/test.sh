#!/usr/bin/env bash
# The project's test command: installs what the tests need, checks formatting and lints, and runs
# every test of the workspace (unit, integration, real clients, cluster on a real Redis).
# The whole run is bounded by SIO_TEST_BUDGET seconds (default 80 minutes): a hung step is killed
# and the run fails rather than eating CI's 90 minutes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

deadline=$((SECONDS + ${SIO_TEST_BUDGET:-4800}))
# Runs a command with what is left of the time budget. On timeout, `timeout` kills the command's
# whole process group (servers and clients started by tests included). It runs in the background
# so that Ctrl-C, which does not reach timeout's own process group, can be passed on.
bounded() {
  local left=$((deadline - SECONDS))
  if ((left <= 0)); then
    echo "test.sh: time budget spent before: $*" >&2
    exit 124
  fi
  timeout --kill-after=30 "$left" "$@" &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null; wait "$child" || true; exit 130' INT TERM
  wait "$child"
}

bounded scripts/install-deps.sh
# Where the Rust tests find the client scripts, node_modules and the venv's python.
export SIO_INTEROP_DIR="$root/tests/interop"

echo "== cargo fmt --check"
bounded cargo fmt --all --check
echo "== cargo clippy"
bounded cargo clippy --workspace --all-targets --quiet -- -D warnings
# The line above builds the server with its `unstable-engine` feature (its tests turn it on);
# the library as users get it, without the feature, is linted too.
bounded cargo clippy -p sio-server --lib --quiet -- -D warnings
# The other crates' tests and examples too: built in the workspace, they would get that feature
# (the server's own tests turn it on) and could use the unstable engine API unnoticed.
bounded cargo clippy -p sio-node -p sio-core -p sio-adapter-redis -p sio-admin -p sio-load \
  --all-targets --quiet -- -D warnings
echo "== fuzz (short run; scripts/fuzz.sh 600 for a campaign)"
bounded scripts/fuzz.sh 15
echo "== load/peers/redis-floor (the floor that BENCHMARKS.md compares receiving nodes with)"
floor=(--manifest-path load/peers/redis-floor/Cargo.toml --target-dir target/peers)
bounded cargo fmt --manifest-path load/peers/redis-floor/Cargo.toml --check
bounded cargo clippy "${floor[@]}" --all-targets --quiet -- -D warnings
bounded cargo test "${floor[@]}" --quiet
echo "== cargo test"
# The tests start servers on free ports; two at a time keeps timing-sensitive tests stable on
# small machines.
bounded cargo test --workspace --all-targets -- --test-threads=2
echo "== cargo test --doc"
bounded cargo test --workspace --doc
echo "== cargo doc (warnings are errors: broken links, undocumented items)"
bounded env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
