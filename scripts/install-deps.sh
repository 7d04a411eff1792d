#!/usr/bin/env bash
# Installs what the tests need, and only what is missing or out of date (safe to run again):
#  - Debian packages: redis-server, haproxy, chromium (the browser check drives Debian's Chromium
#    with playwright-core, which downloads nothing), and node/npm or python3-venv if absent;
#  - the npm clients of tests/interop (npm ci, when node_modules is missing or older than the lock);
#  - python-socketio in the virtualenv tests/interop/.venv (when missing or older than
#    requirements.txt).
# Starts no service.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
interop="$root/tests/interop"
venv="$interop/.venv"
say() { echo "install-deps: $*"; }

# --- Debian packages: one apt-get update, one install, only when something is missing.
packages=()
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
command -v haproxy >/dev/null 2>&1 || packages+=(haproxy)
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
command -v python3 >/dev/null 2>&1 || packages+=(python3)
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then packages+=(python3-venv); fi
if ((${#packages[@]})); then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
  say "apt-get install ${packages[*]}"
  log="$(mktemp)"
  if ! { "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log"
    say "apt-get failed"
    exit 1
  fi
  rm -f "$log"
else
  say "system packages present (redis-server, haproxy, chromium, node, python3)"
fi

# --- npm clients.
if [ ! -d "$interop/node_modules" ] || [ "$interop/package-lock.json" -nt "$interop/node_modules" ]; then
  say "npm ci in tests/interop"
  (cd "$interop" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$interop/node_modules"
else
  say "tests/interop/node_modules up to date"
fi

# --- python-socketio virtualenv (rebuilt when it is broken, e.g. after a Python upgrade).
if [ ! -f "$venv/.installed" ] || [ "$interop/requirements.txt" -nt "$venv/.installed" ] ||
  ! "$venv/bin/python" -c 'import socketio, aiohttp, yaml' >/dev/null 2>&1; then
  say "python venv tests/interop/.venv: pip install -r requirements.txt"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$interop/requirements.txt"
  touch "$venv/.installed"
else
  say "tests/interop/.venv up to date"
fi

say "redis-server $(redis-server --version | awk '{print $3}' | sed 's/^v=//'), $(haproxy -v 2>/dev/null | head -n 1 | awk '{print $1, $3}'), node $(node --version), $("$venv/bin/python" -c 'import sys, socketio, importlib.metadata as m; print("python", sys.version.split()[0] + ", python-socketio", m.version("python-socketio"))')"
