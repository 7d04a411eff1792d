#!/usr/bin/env bash
# The floor of a receiving node's cost: runs one `load/bystander.sh` scenario (default: a
# saturated room of 5 spread over 4 sharded `dynamic` nodes) and, while it runs, attaches two
# `sio-peer-redis-floor` subscribers to the room's channel: one that only reads it, one that
# also passes every read on to a local client socket. Over the same window it reports each
# process's CPU µs per message published to the room: the nodes (n1 holds the publisher),
# redis-server, and the two floors.
#
#   load/floor.sh                                   # sharded-dynamic, saturated, N = 4, room of 5
#   VARIANT=sharded-private NODES=2 load/floor.sh
#   SATURATE=0 RATE=1000 load/floor.sh              # at a fixed rate
#
# Environment: VARIANT (a sharded one on one Redis: sharded-static, sharded-dynamic,
# sharded-private; default sharded-dynamic), NODES (default 4), ROOM_SIZE (default 5),
# SATURATE (default 1), RATE, WINDOW (measured seconds, default 4), CARGO_TARGET_DIR.
set -Eeuo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
VARIANT="${VARIANT:-sharded-dynamic}"
WINDOW="${WINDOW:-4}"
NODES="${NODES:-4}"
ROOM_SIZE="${ROOM_SIZE:-5}"
case "$VARIANT" in
  sharded-static | sharded-dynamic | sharded-private) ;;
  *) echo "floor.sh: VARIANT must be a sharded variant on one Redis" >&2; exit 2 ;;
esac
(cd "$root" && cargo build --release --quiet -p sio-node -p sio-load)
CARGO_TARGET_DIR="$target_dir/peers" cargo build --release --quiet \
  --manifest-path "$here/peers/redis-floor/Cargo.toml"
floor_bin="$target_dir/peers/release/sio-peer-redis-floor"

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

SATURATE="${SATURATE:-1}" SCENARIO=fanout NODES="$NODES" ROOM_SIZE="$ROOM_SIZE" \
  DURATION=$((WINDOW + 6)) RESULTS="$work" "$here/bystander.sh" "$VARIANT" >"$work/run.log" 2>&1 &
pids+=($!)
bystander=$!

# The room's channel appears once the load tool's subscribers have joined.
channel="" ; rport=""
for _ in $(seq 300); do
  rport="$(pgrep -a -P "$bystander" redis-server | grep -o '127.0.0.1:[0-9]*' | head -1 | cut -d: -f2 || true)"
  if [ -n "$rport" ]; then
    channel="$(redis-cli -p "$rport" pubsub shardchannels 2>/dev/null | grep fanout | head -1 || true)"
    [ -n "$channel" ] && break
  fi
  sleep 0.1
done
[ -n "$channel" ] || { echo "floor.sh: the room's channel never appeared" >&2; cat "$work/run.log" >&2; exit 1; }

"$floor_bin" --redis "127.0.0.1:$rport" --channel "$channel" --sharded 2>"$work/read.log" &
pids+=($!); read_pid=$!
"$floor_bin" --redis "127.0.0.1:$rport" --channel "$channel" --sharded --forward 2>"$work/forward.log" &
pids+=($!); forward_pid=$!
sleep 1.5

node_pids=($(pgrep -P "$bystander" -x sio-node))
redis_pid="$(pgrep -P "$bystander" -x redis-server)"
names=(); procs=()
i=1; for p in "${node_pids[@]}"; do names+=("n$i"); procs+=("$p"); i=$((i + 1)); done
names+=(redis-server floor-read floor-forward); procs+=("$redis_pid" "$read_pid" "$forward_pid")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
messages() { tail -1 "$1" | awk '{print $4}'; }
before=(); for p in "${procs[@]}"; do before+=("$(ticks "$p")"); done
m0="$(messages "$work/read.log")"
sleep "$WINDOW"
after=(); for p in "${procs[@]}"; do after+=("$(ticks "$p")"); done
m1="$(messages "$work/read.log")"
hz="$(getconf CLK_TCK)"
count=$((m1 - m0))
echo "floor.sh: $VARIANT, $NODES nodes, room of $ROOM_SIZE, channel $channel: $count messages in ${WINDOW} s"
for k in "${!procs[@]}"; do
  awk -v n="${names[$k]}" -v t=$((after[k] - before[k])) -v hz="$hz" -v m="$count" \
    'BEGIN { printf "  %-14s %8.2f CPU µs per message\n", n, t * 1e6 / hz / m }'
done
wait "$bystander" || true
if grep -Eq '"lost": ?0[,}]' "$work"/*.json; then echo "  0 lost"; else echo "  deliveries were lost:"; cat "$work/run.log"; fi
