#!/usr/bin/env bash
# The bystander cost of cluster traffic: four nodes on one redis-server (or a Redis Cluster),
# the publisher's node P, the node M holding the room's only member, two bystanders B1 B2 with
# no client. `sio-load cross-node` publishes to a room of one member at a fixed rate: first with
# the member on P (M, B1, B2 all bystanders), then with the member on M. Reports each process's
# CPU (the four nodes and redis) from sio-load's JSON.
#
#   load/bystander.sh classic            # sio-node, classic adapter
#   load/bystander.sh sharded-static     # sio-node --redis-sharded --redis-subscription-mode static
#   load/bystander.sh sharded-dynamic    # ... dynamic (the default)
#   load/bystander.sh sharded-private    # ... dynamic-private (a socket's own room too)
#   load/bystander.sh node-sharded       # Node.js socket.io + createShardedAdapter (dynamic)
#   load/bystander.sh node-classic       # Node.js socket.io + createAdapter
#   load/bystander.sh cluster-dynamic    # sio-node --redis-cluster on a 3+3 Redis Cluster
#
# Environment: RATE (publishes/s, default 2000), DURATION (s, default 8), RESULTS (directory of
# the JSON reports, default load/results/bystander), CARGO_TARGET_DIR (release build);
# SCENARIO=fanout NODES=N ROOM_SIZE=K instead runs `sio-load fanout` (clients spread over N
# nodes, one room of K members) for the summed CPU per delivery at N nodes; SCENARIO=direct
# runs `sio-load fanout --direct` (ROOMS recipients spread over N nodes, default 50, each
# message to one socket id); SATURATE=1 publishes closed-loop instead of at RATE.
set -Eeuo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
variant="${1:?variant: classic sharded-static sharded-dynamic sharded-private node-sharded node-classic cluster-dynamic}"
RATE="${RATE:-2000}"
SCENARIO="${SCENARIO:-cross-node}"
NODES="${NODES:-4}"
ROOM_SIZE="${ROOM_SIZE:-1}"
DURATION="${DURATION:-8}"
results="${RESULTS:-$here/results/bystander}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$results"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# A free port whose cluster bus port (+10 000) is free too.
bus_port() {
  python3 -c '
import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    if p < 55000:
        try:
            b = socket.socket(); b.bind(("127.0.0.1", p + 10000)); print(p); break
        except OSError:
            pass'
}

redis_pids=()
if [[ "$variant" == cluster-* ]]; then
  dir="$(mktemp -d)"
  ports=()
  for _ in 1 2 3 4 5 6; do
    p="$(bus_port)"; ports+=("$p")
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-node-timeout 5000 \
      --cluster-config-file "$dir/nodes-$p.conf" --dir "$dir" --save '' --appendonly no >/dev/null &
    pids+=($!); redis_pids+=($!)
  done
  for p in "${ports[@]}"; do until redis-cli -p "$p" ping >/dev/null 2>&1; do sleep 0.1; done; done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 --cluster-yes >/dev/null
  until redis-cli -p "${ports[0]}" cluster info | grep -q cluster_state:ok; do sleep 0.2; done
  redis_url="$(printf 'redis://127.0.0.1:%s,' "${ports[@]}")"; redis_url="${redis_url%,}"
else
  rport="$(free_port)"
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
  pids+=($!); redis_pids+=($!)
  until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.1; done
  redis_url="redis://127.0.0.1:$rport"
fi

targets=(); node_pids=()
names=(P M B1 B2)
[ "$SCENARIO" = cross-node ] || names=($(seq -f 'n%g' 1 "$NODES"))
for name in "${names[@]}"; do
  port="$(free_port)"
  case "$variant" in
    classic) args=(--redis "$redis_url") ;;
    sharded-static) args=(--redis "$redis_url" --redis-sharded --redis-subscription-mode static) ;;
    sharded-dynamic) args=(--redis "$redis_url" --redis-sharded) ;;
    sharded-private) args=(--redis "$redis_url" --redis-sharded --redis-subscription-mode dynamic-private) ;;
    cluster-dynamic) args=(--redis "$redis_url" --redis-cluster) ;;
  esac
  case "$variant" in
    node-*)
      mode=classic; [[ "$variant" == node-sharded ]] && mode=sharded:dynamic
      (cd "$root/tests/interop" && exec node node_cluster_node.mjs "$port" "$redis_url" "$name" "$mode") >/dev/null &
      ;;
    *)
      RUST_LOG=warn "$target_dir/release/sio-node" --bind "127.0.0.1:$port" --node-id "$name" "${args[@]}" &
      ;;
  esac
  pids+=($!); node_pids+=($!)
  targets+=("127.0.0.1:$port")
done
for t in "${targets[@]}"; do
  until curl -sf "http://$t/healthz" >/dev/null; do sleep 0.1; done
done
sleep 2
all_pids="$(IFS=,; echo "${node_pids[*]},${redis_pids[*]}")"
out="$variant"
[ "$SCENARIO" = cross-node ] || out="$variant-$SCENARIO-n$NODES-k$ROOM_SIZE"
shape=(--rooms 1 --room-size "$ROOM_SIZE" --publishers 1)
command="$SCENARIO"
if [ "$SCENARIO" = direct ]; then
  command=fanout
  shape=(--direct --rooms "${ROOMS:-50}" --room-size 1 --publishers "$NODES")
  out="$variant-direct-n$NODES"
fi
pace=(--rate "$RATE")
if [ "${SATURATE:-0}" = 1 ]; then pace=(--saturate); out="$out-saturated"; fi
"$target_dir/release/sio-load" "$command" -q \
  --target "$(IFS=,; echo "${targets[*]}")" --server-pid "$all_pids" \
  "${shape[@]}" "${pace[@]}" --duration "$DURATION" \
  --label "$variant" --json "$results/$out.json"
echo "pids: ${names[*]} = ${node_pids[*]}, redis = ${redis_pids[*]}"
