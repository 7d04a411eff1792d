#!/usr/bin/env bash
# Cluster capacity: summed CPU per delivery (every node and every Redis process) at N = 1, 2 and
# 4 nodes, for rooms of K members and for direct messages, per adapter variant, through
# `load/bystander.sh` (which starts Redis or a Redis Cluster and the nodes, and runs sio-load).
# Prints one table row per run and keeps the JSON reports.
#
#   load/capacity.sh                          # the default matrix below
#   VARIANTS="sharded-dynamic node-sharded" NS="1 4" ROOM_SIZES="1 5 500" load/capacity.sh
#   SATURATE=1 load/capacity.sh               # closed loop instead of a fixed rate
#
# Environment: VARIANTS (bystander.sh variants, `cluster-dynamic` for a Redis Cluster), NS
# (node counts), SCENARIOS (`fanout` and/or `direct`), ROOM_SIZES (fanout room sizes, default
# 5), RATE (publishes/s, default 1000), SATURATE=1 (closed loop instead), DURATION, RESULTS
# (default load/results/capacity).
#
# Placement (sio-load's `spread`): room members and direct recipients go to the nodes in turn,
# the one publisher of a room to the first node; with --direct every node has one publisher.
# "bystander" is the CPU per delivery of each node that holds no member and no publisher (a
# room smaller than N), i.e. what that node spends on traffic that is not its own.
set -Eeuo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
VARIANTS="${VARIANTS:-classic sharded-dynamic sharded-private node-sharded}"
NS="${NS:-1 2 4}"
SCENARIOS="${SCENARIOS:-fanout direct}"
ROOM_SIZES="${ROOM_SIZES:-${ROOM_SIZE:-5}}"
export RATE="${RATE:-1000}" DURATION="${DURATION:-8}"
export RESULTS="${RESULTS:-$here/results/capacity}"
mkdir -p "$RESULTS"
printf '| variant | scenario | N | deliveries/s | summed CPU µs/delivery | bystander µs/delivery (each) | lost |\n|---|---|---|---|---|---|---|\n'
for variant in $VARIANTS; do
  for scenario in $SCENARIOS; do
    sizes="$ROOM_SIZES"
    [ "$scenario" = direct ] && sizes=1
    for k in $sizes; do
      for n in $NS; do
        ROOM_SIZE="$k" SCENARIO="$scenario" NODES="$n" "$here/bystander.sh" "$variant" >/dev/null 2>&1 || {
          echo "| $variant | $scenario k=$k | $n | run failed | | | |"
          continue
        }
        file="$RESULTS/$variant-$scenario-n$n-k$k.json"
        [ "$scenario" = direct ] && file="$RESULTS/$variant-direct-n$n.json"
        [ "${SATURATE:-0}" = 1 ] && file="${file%.json}-saturated.json"
        python3 - "$file" "$variant" "$scenario" "$n" "$k" <<'PY'
import json, sys
path, variant, scenario, n, k = sys.argv[1:]
n, k = int(n), int(k)
d = json.load(open(path))
r = d["results"]
name = "direct" if scenario == "direct" else f"room of {k}"
# Nodes come first in the usage list (in target order), then the Redis processes.
nodes = d["usage"]["servers"][:n]
measured = r["measured_deliveries"]
bystanders = [] if scenario == "direct" else nodes[min(k, n):]
by = ", ".join(f"{s['cpu_s'] * 1e6 / measured:.2f}" for s in bystanders) if measured else ""
print(f"| {variant} | {name} | {n} | {r['deliveries_per_s']:.0f} | "
      f"{r['server_cpu_us_per_delivery']:.1f} | {by or '–'} | {r['lost']} |")
PY
      done
    done
  done
done
