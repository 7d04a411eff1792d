#!/usr/bin/env bash
# Cluster capacity: summed CPU per delivery (every node and every Redis process) at N = 1, 2 and
# 4 nodes, for rooms of K members and for direct messages, per adapter variant, through
# `load/bystander.sh` (which starts Redis or a Redis Cluster and the nodes, and runs sio-load).
# Prints one table row per run and keeps the JSON reports.
#
#   load/capacity.sh                          # the default matrix below
#   VARIANTS="sharded-dynamic node-sharded" NS="1 4" load/capacity.sh
#
# Environment: VARIANTS (bystander.sh variants), NS (node counts), SCENARIOS (`fanout` and/or
# `direct`), ROOM_SIZE (fanout room size, default 5), RATE (publishes/s, default 1000),
# SATURATE=1 (closed loop instead), DURATION, RESULTS (default load/results/capacity).
set -Eeuo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
VARIANTS="${VARIANTS:-classic sharded-dynamic sharded-private node-sharded}"
NS="${NS:-1 2 4}"
SCENARIOS="${SCENARIOS:-fanout direct}"
export ROOM_SIZE="${ROOM_SIZE:-5}" RATE="${RATE:-1000}" DURATION="${DURATION:-8}"
export RESULTS="${RESULTS:-$here/results/capacity}"
mkdir -p "$RESULTS"
printf '| variant | scenario | N | deliveries/s | summed CPU µs/delivery | lost |\n|---|---|---|---|---|---|\n'
for variant in $VARIANTS; do
  for scenario in $SCENARIOS; do
    for n in $NS; do
      SCENARIO="$scenario" NODES="$n" "$here/bystander.sh" "$variant" >/dev/null 2>&1 || {
        echo "| $variant | $scenario | $n | run failed | | |"
        continue
      }
      file="$RESULTS/$variant-$scenario-n$n-k$ROOM_SIZE.json"
      [ "$scenario" = direct ] && file="$RESULTS/$variant-direct-n$n.json"
      [ "${SATURATE:-0}" = 1 ] && file="${file%.json}-saturated.json"
      python3 - "$file" "$variant" "$scenario" "$n" <<'EOF'
import json, sys
path, variant, scenario, n = sys.argv[1:]
r = json.load(open(path))["results"]
print(f"| {variant} | {scenario} | {n} | {r['deliveries_per_s']:.0f} | "
      f"{r['server_cpu_us_per_delivery']:.1f} | {r['lost']} |")
EOF
    done
  done
done
