#!/usr/bin/env bash
# Session forwarding, measured: three sio-node on one redis-server (scripts/local-cluster.sh,
# heartbeat 1 s) and
#   echo-direct     polling echo, every request on the session's own node
#   echo-forwarded  the same sessions opened on node 1, every GET and POST sent to node 2,
#                   which forwards it to node 1 (sio-load --poll-via)
#   echo-sticky     polling echo through HAProxy routing by source address (the generator's
#                   connections come from 127.0.0.1-3): every request reaches the session's node
#   echo-rr         polling echo through HAProxy, round robin without a cookie (2/3 forwarded)
#   connect-rr      $CLIENTS polling clients through HAProxy round robin without a cookie,
#                   held $HOLD s, in $GENERATORS generator processes over $BALANCERS HAProxy
#                   instances (each process and each HAProxy stays under a 20 000 open-files
#                   limit: a polling client holds two connections to the balancer)
# Results: load/results/forwarding/*.json and summary.md.
#   load/forwarding.sh
#   SCENARIOS="connect-rr" CLIENTS=10000 load/forwarding.sh
# Environment: SCENARIOS, ECHO_CONNS (50), ECHO_RATE (1000), DURATION (10), CLIENTS (10000),
# RATE (handshakes/s, 500), HOLD (10), GENERATORS (2), BALANCERS (3), CARGO_TARGET_DIR.
set -Eeuo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
results="${RESULTS:-$here/results/forwarding}"
SCENARIOS="${SCENARIOS:-echo-direct echo-forwarded echo-sticky echo-rr connect-rr}"
ECHO_CONNS="${ECHO_CONNS:-50}"
ECHO_RATE="${ECHO_RATE:-1000}"
DURATION="${DURATION:-10}"
CLIENTS="${CLIENTS:-10000}"
RATE="${RATE:-500}"
HOLD="${HOLD:-10}"
GENERATORS="${GENERATORS:-2}"
BALANCERS="${BALANCERS:-3}"
bin="${CARGO_TARGET_DIR:-$root/target}/release"
mkdir -p "$results"

dir="$(SIO_NODE_BIN="$bin/sio-node" SIO_HEARTBEAT_MS=1000 "$root/scripts/local-cluster.sh" up 3 | tail -n 1)"
extra=()
cleanup() {
  for pid in "${extra[@]}"; do kill "$pid" 2>/dev/null || true; done
  "$root/scripts/local-cluster.sh" down "$dir"
}
trap cleanup EXIT INT TERM
read -r _ p1 port1 < <(grep '^n1 ' "$dir/nodes")
read -r _ p2 port2 < <(grep '^n2 ' "$dir/nodes")
read -r _ p3 port3 < <(grep '^n3 ' "$dir/nodes")
servers=("n1=127.0.0.1:$port1" "n2=127.0.0.1:$port2" "n3=127.0.0.1:$port3")

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# A balancer: "sticky" (by source address and port hash, as close to a cookie as a generator
# without a cookie jar gets) or "rr" (round robin, no cookie). Prints "pid port".
balancer() {
  local kind="$1" port cfg
  port="$(free_port)"
  cfg="$dir/haproxy-$kind-$port.cfg"
  "$root/scripts/render-haproxy.sh" --round-robin "127.0.0.1:$port" "${servers[@]}" >"$cfg"
  # sio-load's polling client does not reopen a keep-alive connection the balancer closed (a
  # browser does): keep idle client connections past the ping interval, or a client's POST
  # connection, idle from its CONNECT to its first pong 25 s later, is closed after 10 s.
  sed -i 's/timeout http-keep-alive 10s/timeout http-keep-alive 60s/' "$cfg"
  if [ "$kind" = sticky ]; then
    sed -i 's/balance roundrobin/balance source/' "$cfg"
  fi
  haproxy -f "$cfg" -db >"$cfg.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.05; done
  echo "$pid $port"
}

echo_run() { # name, extra sio-load args...
  local name="$1"
  shift
  "$bin/sio-load" echo --transport polling -c "$ECHO_CONNS" --rate "$ECHO_RATE" \
    --duration "$DURATION" --label "$name" --json "$results/$name.json" -q "$@"
}

for scenario in $SCENARIOS; do
  echo "== $scenario" >&2
  case "$scenario" in
    echo-direct)
      echo_run echo-direct --target "127.0.0.1:$port1" --server-pid "$p1,$p2" ;;
    echo-forwarded)
      echo_run echo-forwarded --target "127.0.0.1:$port1" --poll-via "127.0.0.1:$port2" \
        --server-pid "$p1,$p2" ;;
    echo-sticky | echo-rr)
      read -r lb lb_port < <(balancer "${scenario#echo-}")
      extra+=("$lb")
      echo_run "$scenario" --target "127.0.0.1:$lb_port" --server-pid "$p1,$p2,$p3,$lb" \
        --source-ips 127.0.0.1,127.0.0.2,127.0.0.3
      kill "$lb" ;;
    connect-rr)
      targets=() pids=("$p1" "$p2" "$p3")
      for _ in $(seq "$BALANCERS"); do
        read -r lb lb_port < <(balancer rr)
        extra+=("$lb")
        targets+=("127.0.0.1:$lb_port")
        pids+=("$lb")
      done
      gens=()
      per=$((CLIENTS / GENERATORS))
      for g in $(seq "$GENERATORS"); do
        "$bin/sio-load" connect --transport polling -n "$per" --rate $((RATE / GENERATORS)) \
          --hold "$HOLD" --target "$(IFS=,; echo "${targets[*]}")" \
          --server-pid "$(IFS=,; echo "${pids[*]}")" --label "connect-rr-$g" \
          --json "$results/connect-rr-$g.json" -q &
        gens+=("$!")
      done
      for g in "${gens[@]}"; do wait "$g"; done ;;
    *) echo "unknown scenario $scenario" >&2; exit 2 ;;
  esac
done
for n in n1 n2 n3; do
  port="$(grep "^$n " "$dir/nodes" | awk '{print $3}')"
  echo "$n: $(curl -fsS "http://127.0.0.1:$port/metrics" | grep -E '^sio_(forwarded_requests|forward_failures|relayed_websockets)_total' | tr '\n' ' ')"
done | tee "$results/forward-counters.txt"
"$bin/sio-load" summarize "$results"/*.json >"$results/summary.md"
cat "$results/summary.md"
