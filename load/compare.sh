#!/usr/bin/env bash
# Side-by-side comparison: the same sio-load scenarios, one after the other, against
#   sio-node          one sio-node
#   sio-node-redis    three sio-node on one redis-server (cross-node scenario too)
#   node              one Node.js socket.io 4.x server (load/peers/node-socketio)
#   node-redis        three Node.js servers with @socket.io/redis-adapter (cross-node too)
#   socketioxide      the socketioxide 0.18 peer (load/peers/socketioxide)
#   floor             a bare tokio-tungstenite broadcast server (load/peers/floor)
# Servers (and redis) run pinned to core $SERVER_CPU, the generator to core $GEN_CPU, each
# server fresh for each scenario. Results: load/results/<server>-<scenario>.json (+ .svg) and
# load/results/summary.md (one table per scenario, with ratios to the floor and to sio-node:
# compare the ratios and the server CPU-µs per delivery / per call, not absolute rates).
#
#   load/compare.sh                       # everything (~12 min on 2 cores)
#   SERVERS="sio-node floor" SCENARIOS="fanout echo" load/compare.sh
#   SERVERS="sio-node floor socketioxide node" SCENARIOS=saturate DURATION=5 load/compare.sh
#
# Environment: SERVERS, SCENARIOS (connect fanout echo saturate cross-node), DURATION (seconds
# per fan-out/echo/saturate run, default 10), CONNECTIONS (connect scenario, default 5000),
# DELIVERY_RATE (fan-out, default 50000), ECHO_RATE (default 5000), ECHO_CONNS (default 50),
# WINDOW (saturate: publishes in flight per publisher, default 16), SERVER_CPU (0),
# GEN_CPU (1), RESULTS (output directory), CARGO_TARGET_DIR (where sio-node and sio-load are
# built; the peers go to $CARGO_TARGET_DIR/peers).
set -Eeuo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
results="${RESULTS:-$here/results}"
SERVERS="${SERVERS:-sio-node sio-node-redis node node-redis socketioxide floor}"
SCENARIOS="${SCENARIOS:-connect fanout echo saturate cross-node}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-5000}"
DELIVERY_RATE="${DELIVERY_RATE:-50000}"
ECHO_RATE="${ECHO_RATE:-5000}"
ECHO_CONNS="${ECHO_CONNS:-50}"
WINDOW="${WINDOW:-16}"
SERVER_CPU="${SERVER_CPU:-0}"
GEN_CPU="${GEN_CPU:-1}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
# No server outlives this (seconds), whatever happens to this script.
MAX_LIFE="${MAX_LIFE:-180}"

log() { echo "compare: $*" >&2; }

# --- build --------------------------------------------------------------------------------
log "building sio-node, sio-load and the peers (release)"
(cd "$root" && CARGO_TARGET_DIR="$target_dir" cargo build --release --quiet -p sio-node -p sio-load)
for peer in socketioxide floor; do
  if [[ " $SERVERS " == *" $peer "* ]]; then
    CARGO_TARGET_DIR="$target_dir/peers" cargo build --release --quiet \
      --manifest-path "$here/peers/$peer/Cargo.toml"
  fi
done
if [[ " $SERVERS " == *" node"* ]]; then
  command -v node >/dev/null || { log "node is required for the Node.js peers"; exit 1; }
  if [ ! -d "$here/peers/node-socketio/node_modules" ]; then
    (cd "$here/peers/node-socketio" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
if [[ " $SERVERS " == *"-redis "* || " $SERVERS " == *"-redis" ]] && ! command -v redis-server >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing redis-server"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi
load="$target_dir/release/sio-load"
node_bin="$target_dir/release/sio-node"
sx_bin="$target_dir/peers/release/sio-peer-socketioxide"
floor_bin="$target_dir/peers/release/sio-peer-floor"
mkdir -p "$results"
notes="$results/notes.md"
: >"$notes"

# --- processes ----------------------------------------------------------------------------
pids=()     # the servers
wrappers=() # their `timeout` parents
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${wrappers[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  wrappers=()
}
trap cleanup EXIT

# start NAME CMD...: runs CMD pinned to the server core, in the background, under `timeout`
# (no server outlives MAX_LIFE seconds); appends its pid to `pids` and sets `last_pid`.
start() {
  local name="$1" wrapper child="" i
  shift
  timeout "$MAX_LIFE" taskset -c "$SERVER_CPU" "$@" >"$results/.$name.log" 2>&1 &
  wrapper=$!
  for i in $(seq 1 100); do
    child="$(pgrep -P "$wrapper" | head -1 || true)"
    [ -n "$child" ] && break
    sleep 0.02
  done
  [ -n "$child" ] || { log "$name did not start"; return 1; }
  wrappers+=("$wrapper")
  pids+=("$child")
  last_pid=$child
}

wait_port() { # port
  local i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "nothing listening on $1"
  return 1
}

port=3500
next_port() { port=$((port + 1)); }

# up SERVER: starts SERVER; sets `targets` (comma-separated) and `server_pids`.
up() {
  local kind="$1" redis_port p ids=() t=() n
  case "$kind" in
    sio-node)
      next_port
      start "$kind" env RUST_LOG=warn "$node_bin" --bind "127.0.0.1:$port" --node-id n1
      ids+=("$last_pid"); t+=("127.0.0.1:$port")
      ;;
    node)
      next_port
      start "$kind" node "$here/peers/node-socketio/server.mjs" --port "$port" --node-id n1 --seconds "$MAX_LIFE"
      ids+=("$last_pid"); t+=("127.0.0.1:$port")
      ;;
    socketioxide)
      next_port
      start "$kind" "$sx_bin" --port "$port" --seconds "$MAX_LIFE"
      ids+=("$last_pid"); t+=("127.0.0.1:$port")
      ;;
    floor)
      next_port
      start "$kind" "$floor_bin" --port "$port" --seconds "$MAX_LIFE"
      ids+=("$last_pid"); t+=("127.0.0.1:$port")
      ;;
    sio-node-redis | node-redis)
      next_port
      redis_port=$port
      start redis redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no
      ids+=("$last_pid")
      wait_port "$redis_port"
      for n in 1 2 3; do
        next_port
        if [ "$kind" = sio-node-redis ]; then
          start "$kind-$n" env RUST_LOG=warn "$node_bin" --bind "127.0.0.1:$port" --node-id "n$n" \
            --redis "redis://127.0.0.1:$redis_port"
        else
          start "$kind-$n" node "$here/peers/node-socketio/server.mjs" --port "$port" --node-id "n$n" \
            --redis "redis://127.0.0.1:$redis_port" --seconds "$MAX_LIFE"
        fi
        ids+=("$last_pid"); t+=("127.0.0.1:$port")
      done
      ;;
    *) log "unknown server $kind"; return 1 ;;
  esac
  for p in "${t[@]}"; do wait_port "${p#*:}"; done
  # Node and the Redis nodes need a moment to subscribe.
  sleep 0.5
  targets="$(IFS=,; echo "${t[*]}")"
  server_pids="$(IFS=,; echo "${ids[*]}")"
}

run() { # kind scenario subcommand args...
  local kind="$1" scenario="$2" subcommand="$3"
  shift 3
  log "$kind / $scenario"
  if ! taskset -c "$GEN_CPU" timeout 300 "$load" "$subcommand" --threads 1 --label "$kind" \
    --target "$targets" --server-pid "$server_pids" \
    --json "$results/$kind-$scenario.json" --svg "$results/$kind-$scenario.svg" "$@" \
    >"$results/$kind-$scenario.txt" 2>"$results/.$kind-$scenario.err"; then
    log "$kind / $scenario failed: $(tail -3 "$results/.$kind-$scenario.err")"
    echo "- $kind / $scenario failed: $(tail -1 "$results/.$kind-$scenario.err")" >>"$notes"
  fi
  cat "$results/$kind-$scenario.txt" >&2 || true
}

# --- scenarios ----------------------------------------------------------------------------
for kind in $SERVERS; do
  clustered=false
  [[ "$kind" == *-redis ]] && clustered=true
  if [ "$kind" = sio-node-redis ] && ! "$node_bin" --help 2>/dev/null | grep -q -- --redis; then
    log "sio-node has no --redis yet: skipping $kind"
    echo "- $kind skipped: this sio-node has no --redis flag" >>"$notes"
    continue
  fi
  for scenario in $SCENARIOS; do
    if [ "$scenario" = cross-node ] && ! $clustered; then continue; fi
    # Saturation measures one server on one core: not the clustered setups.
    if [ "$scenario" = saturate ] && $clustered; then continue; fi
    up "$kind"
    case "$scenario" in
      connect)
        run "$kind" connect connect -n "$CONNECTIONS" --rate 2000 --hold 10 --source-ips 127.0.0.1,127.0.0.2
        ;;
      fanout)
        run "$kind" fanout fanout --rooms 10 --room-size 500 --publishers 10 \
          --delivery-rate "$DELIVERY_RATE" --duration "$DURATION"
        ;;
      echo)
        run "$kind" echo echo -c "$ECHO_CONNS" --rate "$ECHO_RATE" --duration "$DURATION"
        ;;
      saturate)
        # Closed loop: each publisher keeps WINDOW publishes in flight; the generator naps
        # 500 µs when idle (the default with --saturate).
        run "$kind" saturate fanout --saturate --window "$WINDOW" --rooms 10 --room-size 500 \
          --publishers 10 --duration "$DURATION"
        ;;
      cross-node)
        run "$kind" cross-node cross-node --rooms 10 --room-size 500 --publishers 10 \
          --delivery-rate "$DELIVERY_RATE" --duration "$DURATION"
        ;;
    esac
    cleanup
    sleep 1
  done
done

# --- summary ------------------------------------------------------------------------------
shopt -s nullglob
files=("$results"/*.json)
if ((${#files[@]})); then
  {
    echo "# sio-load comparison"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, servers pinned to core $SERVER_CPU, generator to core $GEN_CPU (1 thread)."
    echo "Clustered rows (\`-redis\`) count the CPU of all three nodes and of redis-server."
    echo "Ratios compare the server CPU per operation (or RSS per connection) with the named row."
    echo
    cat "$notes"
    echo
  } >"$results/summary.md"
  "$load" summarize "${files[@]}" --baseline floor,sio-node --svg-dir "$results/plots" >>"$results/summary.md"
  log "wrote $results/summary.md"
  cat "$results/summary.md"
fi
