#!/usr/bin/env bash
# Installs the system packages the tests drive for real (when run as root; otherwise only
# reports what is missing). Idempotent and quiet when everything is there. Today: an sshd
# and tmux for the SSH-drop tests, the sqlite3 shell for the tamper tests, Prometheus (server
# and promtool) for the Prometheus API source's integration tests, and podman serving the Docker
# Engine API for the Compose provider's tests (runc: crun fails here; catatonit is the
# containers' init; busybox-static is the test images' rootfs), and PostgreSQL (server binaries
# and clients) for the database provider, whose tests start their own throwaway clusters, and
# redis-server for the cache clear's Redis tests (each starts a private server on a free port).
set -euo pipefail
need=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || need+=(runc)
command -v catatonit >/dev/null 2>&1 || need+=(catatonit)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' \
  || need+=(busybox-static)
# Prometheus' recommends pull in exporters and a web UI bundle the tests never use.
need_bare=()
[ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ] || need_bare+=(prometheus)
# PostgreSQL recommends sysstat, which the tests never use.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v pg_dump >/dev/null 2>&1 \
  || need_bare+=(postgresql)
# redis-server recommends nothing the tests use; its own service is never started by them.
command -v redis-server >/dev/null 2>&1 || need_bare+=(redis-server)
[ ${#need[@]} -eq 0 ] && [ ${#need_bare[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "services: missing ${need[*]} ${need_bare[*]} (run as root to install);" \
    "tests that need them will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if [[ " ${need_bare[*]} " == *" postgresql "* ]]; then
  # The tests start their own clusters; Debian's default one on 5432 would only be in the way.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/50-no-main.conf
fi
install() {  # install [apt-get install options...] PACKAGES; refreshes the lists once if needed
  timeout 600 apt-get install -y -qq "$@" >/dev/null 2>&1 \
    || { timeout 300 apt-get update -qq && timeout 600 apt-get install -y -qq "$@" >/dev/null; }
}
if [ ${#need[@]} -gt 0 ]; then
  echo "services: installing ${need[*]}" >&2
  install "${need[@]}"
fi
if [ ${#need_bare[@]} -gt 0 ]; then
  echo "services: installing ${need_bare[*]}" >&2
  install --no-install-recommends "${need_bare[@]}"
fi
