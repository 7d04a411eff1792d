#!/usr/bin/env bash
# Renders deploy/haproxy.cfg.tmpl (sticky sessions by cookie), or with --round-robin
# deploy/haproxy-roundrobin.cfg.tmpl (no stickiness: the nodes forward sessions).
# Usage: render-haproxy.sh [--round-robin] <bind> <name=host:port>...
# Example: render-haproxy.sh 127.0.0.1:8080 n1=127.0.0.1:3001 n2=127.0.0.1:3002
# HAPROXY_MAXCONN (default 9000, which fits a 20 000 open-files limit) sets global maxconn.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
template_file="$root/deploy/haproxy.cfg.tmpl"
sticky=1
if [ "${1:-}" = "--round-robin" ]; then
  template_file="$root/deploy/haproxy-roundrobin.cfg.tmpl"
  sticky=0
  shift
fi
bind="$1"
shift
servers=""
for spec in "$@"; do
  name="${spec%%=*}"
  addr="${spec#*=}"
  if [ "$sticky" = 1 ]; then
    servers+="    server ${name} ${addr} cookie ${name}"$'\n'
  else
    servers+="    server ${name} ${addr}"$'\n'
  fi
done
template="$(cat "$template_file")"
template="${template//\{\{BIND\}\}/$bind}"
template="${template//\{\{MAXCONN\}\}/${HAPROXY_MAXCONN:-9000}}"
printf '%s\n' "${template//\{\{SERVERS\}\}/${servers%$'\n'}}"
