#!/usr/bin/env bash
# Kills or restarts one node of the compose cluster: compose-control.sh kill|restart <service>.
# Used by the `tests` service (SIO_CLUSTER_CONTROL) through the mounted Docker socket.
set -euo pipefail
project="${COMPOSE_PROJECT_NAME:-sio}"
case "$1" in
  kill) docker kill --signal KILL "$(docker ps -q --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$2")" ;;
  restart)
    id="$(docker ps -aq --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$2")"
    docker restart --time 10 "$id"
    until [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" = healthy ]; do sleep 0.5; done
    ;;
  *) echo "usage: compose-control.sh kill|restart <service>" >&2; exit 2 ;;
esac
