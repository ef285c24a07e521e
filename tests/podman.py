"""A private podman serving the Docker Engine API on a unix socket, for the Compose tests.

Debian has no Docker daemon we can run here, but podman 4.3 serves the Docker Engine API (v1.41)
well enough for the docker SDK and for docker compose (shared reference real_servers.md). Each
`Podman` keeps everything in its own temp dir: storage (--root/--runroot/--tmpdir), its
containers.conf (runc, as crun does not work here; explicit ulimits; network configs kept in the
temp dir) and the socket. There is no registry, so the two images are imported from a
busybox-static rootfs: `localhost/mini:1` and `localhost/mini:2` differ in a file, an ENV and a
LABEL, so their ids differ and a test can tell which image a container really runs.

`service()` creates a container the way `docker compose up` would (the com.docker.compose.*
labels, the name `<project>-<service>-<n>`, the project network `<project>_default` with the
service's aliases, an anonymous volume, an init), `deploy()` recreates it on another image as the
next `docker compose up` after a tag bump would. Containers get `init=True`, or stop waits its
whole timeout. Each project network gets its own subnet and bridge name, so two test runs on one
machine do not share a bridge.

Start and stop take about a second together (see `timings`), so a test module shares one.
Nothing can hang: every subprocess has a timeout and every wait a deadline. Teardown is `podman
system reset --force` and a SIGKILL, by PID, for any conmon left behind under the temp dir.
"""

from __future__ import annotations

import system_packages

from cockpit.demo.podman_engine import (  # noqa: F401 - the tests' names for them
    API_VERSION,
    BUSYBOX,
    COMPOSE_VERSION,
    Podman,
    missing,
)


def ensure() -> str | None:
    """`missing()`, after trying scripts/services.sh once when we are root; None when ready."""
    return system_packages.ensure(missing)


def shared() -> Podman:
    """One Podman for the whole test process, stopped when it exits; skips the calling test,
    with the reason, when podman cannot be had here."""
    return system_packages.one_per_process("podman", missing, lambda: Podman().__enter__())
