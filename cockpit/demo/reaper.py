"""A drill's platforms must not outlive the cockpit, even one killed with SIGKILL.

A cockpit that ends in any way it can handle (q, a dropped connection, SIGTERM) stops its
drill's PostgreSQL cluster, podman service and git folders itself. One killed outright cannot:
a benchmark that stopped `cockpit demo` with SIGKILL left a PostgreSQL server and its folder
behind per run. So each platform that starts a process or a folder also starts a reaper: a
detached `sh` loop that checks once a second whether the cockpit's process is still there and,
once it is gone, runs the platform's cleanup. A platform stopped normally stops its reaper
first. Plain POSIX shell, no Python: it costs a sleeping process, nothing more.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
from pathlib import Path


class Reaper:
    """Runs `cleanup` (shell) once the process `pid` (this one by default) is gone."""

    def __init__(self, cleanup: str, pid: int | None = None) -> None:
        watched = os.getpid() if pid is None else pid
        loop = f"while kill -0 {watched} 2>/dev/null; do sleep 1; done; {cleanup}"
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            ["sh", "-c", loop],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not in the cockpit's process group: a kill there spares it
        )

    def cancel(self) -> None:
        """The platform was stopped normally: nothing is left to reap."""
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def remove(folder: Path) -> str:
    """The shell that removes `folder` (a drill's temporary folder)."""
    return f"rm -rf {shlex.quote(str(folder))}"


def stop_postgres(data: Path, folder: Path) -> str:
    """The shell that stops the cluster in `data` at once (SIGQUIT to its postmaster, as
    `pg_ctl -m immediate` does) and removes `folder`."""
    pid_file = shlex.quote(str(data / "postmaster.pid"))
    return (
        f"pid=$(head -n 1 {pid_file} 2>/dev/null); "
        f'[ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null; sleep 2; {remove(folder)}'
    )


def stop_group(pid: int, folder: Path) -> str:
    """The shell that ends process group `pid` (a service started in its own session), every
    process naming `folder` on its command line (podman's conmons), unmounts what is mounted
    under it, and removes it."""
    quoted = shlex.quote(str(folder))
    return (
        f"kill -TERM -{pid} 2>/dev/null; sleep 2; kill -KILL -{pid} 2>/dev/null; "
        f'for p in $(pgrep -f {quoted}); do [ "$p" != "$$" ] && kill -KILL "$p" 2>/dev/null; done; '
        "sleep 1; "
        f"grep -F {quoted} /proc/mounts | cut -d' ' -f2 | sort -r | "
        'while read -r point; do umount -l "$point" 2>/dev/null; done; '
        f"{remove(folder)}"
    )
