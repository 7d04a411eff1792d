#!/usr/bin/env bash
# Renders deploy/haproxy.cfg.tmpl. Usage: render-haproxy.sh <bind> <name=host:port>...
# Example: render-haproxy.sh 127.0.0.1:8080 n1=127.0.0.1:3001 n2=127.0.0.1:3002
# HAPROXY_MAXCONN (default 9000, which fits a 20 000 open-files limit) sets global maxconn.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bind="$1"
shift
servers=""
for spec in "$@"; do
  name="${spec%%=*}"
  addr="${spec#*=}"
  servers+="    server ${name} ${addr} cookie ${name}"$'\n'
done
template="$(cat "$root/deploy/haproxy.cfg.tmpl")"
template="${template//\{\{BIND\}\}/$bind}"
template="${template//\{\{MAXCONN\}\}/${HAPROXY_MAXCONN:-9000}}"
printf '%s\n' "${template//\{\{SERVERS\}\}/${servers%$'\n'}}"
