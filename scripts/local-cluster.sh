#!/usr/bin/env bash
# Brings up the cluster topology on loopback without Docker: a redis-server, N sio-node
# processes and haproxy in front (rendered from deploy/haproxy.cfg.tmpl), each on a free port.
#
#   local-cluster.sh up [NODES] [DIR]    start; prints the state dir; DIR/env has ENTRY_URL,
#                                        REDIS_URL and NODE_URLS; DIR/nodes has "id pid port"
#   local-cluster.sh down DIR            stop everything started in DIR (TERM, then KILL)
#   local-cluster.sh restart DIR ID      gracefully restart one node on the same port
#   local-cluster.sh kill DIR ID         SIGKILL one node
#   local-cluster.sh ctl DIR OP ID       the same as "OP DIR ID" (for tests that append OP ID)
#   local-cluster.sh run [NODES] -- CMD  up, run CMD with the env, down (even if CMD fails)
#
# The node binary is $SIO_NODE_BIN, or target/release/sio-node (built, or rebuilt if stale).
# SIO_LB=round-robin renders the cookie-free round-robin balancer instead of the sticky one.
set -Eeuo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# A free port for a server of the cluster in DIR. Drawn below the kernel's ephemeral range
# (32768 and up): a port from bind(":0") can be handed to an outgoing connection before the
# server binds it (or while a killed node is down, before it restarts on its port). Never one
# already drawn for DIR (listed in DIR/ports), since those may not be bound yet.
free_port() { # dir
  python3 - "$1/ports" <<'PY'
import os, random, socket, sys
path = sys.argv[1]
taken = set(open(path).read().split()) if os.path.exists(path) else set()
for _ in range(10000):
    port = random.randrange(10000, 22768)
    if str(port) in taken:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    with open(path, "a") as f:
        f.write(f"{port}\n")
    print(port)
    break
else:
    sys.exit("local-cluster: no free port in 10000-22767")
PY
}

wait_http() { # url, seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "local-cluster: $1 did not answer" >&2
      return 1
    fi
    sleep 0.05
  done
}

node_bin() {
  if [ -n "${SIO_NODE_BIN:-}" ]; then
    echo "$SIO_NODE_BIN"
    return
  fi
  # Always (re)build: a stale binary would test old code. A no-op when up to date.
  (cd "$root" && cargo build --release --quiet -p sio-node >&2)
  echo "$root/target/release/sio-node"
}

start_node() { # dir, id, port
  local dir="$1" id="$2" port="$3" redis_url bin
  redis_url="$(sed -n 's/^REDIS_URL=//p' "$dir/env")"
  # Restarts use the binary the cluster was brought up with.
  bin="$(sed -n 's/^NODE_BIN=//p' "$dir/env")"
  "$bin" --bind "127.0.0.1:$port" --node-id "$id" --redis "$redis_url" \
    --heartbeat-ms "${SIO_HEARTBEAT_MS:-1000}" >>"$dir/$id.log" 2>&1 &
  echo "$!"
}

up() {
  local nodes="${1:-3}" dir="${2:-}"
  [ -n "$dir" ] || dir="$(mktemp -d /tmp/sio-cluster.XXXXXX)"
  mkdir -p "$dir"
  # Whatever fails on the way up, nothing stays behind.
  trap 'down "$dir"' ERR
  : >"$dir/pids"
  : >"$dir/nodes"
  local redis_port
  redis_port="$(free_port "$dir")"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no >"$dir/redis.log" 2>&1 &
  echo "$! redis" >>"$dir/pids"
  for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  echo "REDIS_URL=redis://127.0.0.1:$redis_port" >"$dir/env"
  echo "NODE_BIN=$(node_bin)" >>"$dir/env"
  local servers=() urls=()
  for i in $(seq "$nodes"); do
    local port pid
    port="$(free_port "$dir")"
    pid="$(start_node "$dir" "n$i" "$port")"
    echo "n$i $pid $port" >>"$dir/nodes"
    servers+=("n$i=127.0.0.1:$port")
    urls+=("http://127.0.0.1:$port")
  done
  for url in "${urls[@]}"; do wait_http "$url/readyz" 30; done
  local lb_port
  lb_port="$(free_port "$dir")"
  local lb_flags=()
  [ "${SIO_LB:-sticky}" = "round-robin" ] && lb_flags=(--round-robin)
  "$root/scripts/render-haproxy.sh" "${lb_flags[@]}" "127.0.0.1:$lb_port" "${servers[@]}" >"$dir/haproxy.cfg"
  haproxy -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
  echo "$! haproxy" >>"$dir/pids"
  wait_http "http://127.0.0.1:$lb_port/healthz" 15
  {
    echo "ENTRY_URL=http://127.0.0.1:$lb_port"
    echo "NODE_URLS=$(IFS=,; echo "${urls[*]}")"
    echo "CLUSTER_DIR=$dir"
  } >>"$dir/env"
  trap - ERR
  echo "$dir"
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
  kill -KILL "$1" 2>/dev/null || true
}

down() {
  local dir="$1"
  [ -d "$dir" ] || return 0
  while read -r _ pid _; do stop_pid "$pid"; done <"$dir/nodes"
  while read -r pid _; do stop_pid "$pid"; done <"$dir/pids"
  rm -rf "$dir"
}

node_line() { grep "^$2 " "$1/nodes" || { echo "local-cluster: no node $2" >&2; exit 2; }; }

restart() {
  local dir="$1" id="$2" line pid port
  line="$(node_line "$dir" "$id")"
  read -r _ pid port <<<"$line"
  stop_pid "$pid"
  pid="$(start_node "$dir" "$id" "$port")"
  sed -i "s/^$id .*/$id $pid $port/" "$dir/nodes"
  wait_http "http://127.0.0.1:$port/readyz" 30
}

kill_node() {
  local dir="$1" id="$2" line pid
  line="$(node_line "$dir" "$id")"
  read -r _ pid _ <<<"$line"
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down "$2" ;;
  restart) restart "$2" "$3" ;;
  kill) kill_node "$2" "$3" ;;
  ctl)
    case "$3" in
      kill) kill_node "$2" "$4" ;;
      restart) restart "$2" "$4" ;;
      *) echo "local-cluster: unknown operation $3" >&2; exit 2 ;;
    esac
    ;;
  run)
    shift
    nodes=3
    if [ "${1:-}" != "--" ]; then nodes="$1"; shift; fi
    [ "${1:-}" = "--" ] && shift
    dir="$(up "$nodes")"
    trap 'down "$dir"' EXIT INT TERM
    set -a
    # shellcheck disable=SC1091
    . "$dir/env"
    set +a
    "$@"
    ;;
  *)
    sed -n '2,14p' "$0"
    exit 2
    ;;
esac
