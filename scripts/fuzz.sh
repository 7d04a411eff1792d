#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 20: the short run of the test command;
# use 600 for a real campaign). Seeds are in fuzz/seeds/<target>; what the fuzzer finds goes to
# fuzz/corpus/<target> (not committed) and crashes to fuzz/artifacts/<target>.
# The toolchain here is stable: RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the sanitizer flags.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-20}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
cd "$root/fuzz"
export RUSTC_BOOTSTRAP=1
targets="$(cargo fuzz list)"
for target in $targets; do
  mkdir -p "corpus/$target"
  if [ "$target" = msgpack_packet ]; then
    # The packets the real notepack encoder writes (captured by tests/interop/msgpack_vectors.mjs).
    while IFS=$'\t' read -r name hex _; do
      perl -e 'print pack("H*", $ARGV[0])' "$hex" >"corpus/$target/notepack-$name"
    done <"$root/core/src/protocol/notepack_vectors.tsv"
  fi
  echo "== fuzz $target for ${seconds}s"
  log="$(mktemp)"
  # A target that fails to build, or a fuzzer that stops on anything but its time limit, fails
  # the run: libFuzzer exits 0 only when -max_total_time passed without a finding.
  status=0
  cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E "^stat::number_of_executed_units|^stat::peak_rss|Done|ERROR|panicked" "$log" || true
  if ((status != 0)); then
    tail -n 40 "$log" >&2
    rm -f "$log"
    echo "fuzz: $target failed (exit status $status)" >&2
    exit 1
  fi
  rm -f "$log"
  if [ -n "$(ls -A "artifacts/$target" 2>/dev/null)" ]; then
    echo "fuzz: $target found a crash: fuzz/artifacts/$target" >&2
    exit 1
  fi
done
