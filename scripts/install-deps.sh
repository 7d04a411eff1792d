#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, and nothing that is already there:
# redis-server, haproxy and chromium (Debian packages), the npm clients (tests/interop/package-lock.json)
# and python-socketio (a virtualenv in tests/interop/.venv).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
interop="$root/tests/interop"

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
# Debian's Chromium for the browser check (driven by playwright-core, which downloads nothing).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install-deps: apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -d "$interop/node_modules" ] || [ "$interop/package-lock.json" -nt "$interop/node_modules" ]; then
  echo "install-deps: npm ci in tests/interop"
  (cd "$interop" && npm ci --no-audit --no-fund --loglevel=error)
  touch "$interop/node_modules"
fi

venv="$interop/.venv"
if [ ! -x "$venv/bin/python" ] || [ "$interop/requirements.txt" -nt "$venv/.installed" ]; then
  echo "install-deps: python venv in tests/interop/.venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$interop/requirements.txt"
  touch "$venv/.installed"
fi
echo "install-deps: redis-server $(redis-server --version | awk '{print $3}'), haproxy $(haproxy -v | head -1 | awk '{print $3}'), node $(node --version), $("$venv/bin/python" --version)"
