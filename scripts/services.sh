#!/usr/bin/env bash
# Installs the system packages the tests drive for real (when run as root; otherwise only
# reports what is missing). Idempotent and quiet when everything is there. Today: an sshd
# and tmux for the SSH-drop tests, the sqlite3 shell for the tamper tests.
set -euo pipefail
need=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "services: missing ${need[*]} (run as root to install); tests that need them will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "services: installing ${need[*]}" >&2
timeout 600 apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
  || { timeout 300 apt-get update -qq && timeout 600 apt-get install -y -qq "${need[@]}" >/dev/null; }
