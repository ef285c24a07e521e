"""A private, real redis-server for the cache clear's tests: a free port on 127.0.0.1.

No config file, no persistence (`--save ''`, `--appendonly no`), a password, in a temp dir of
its own; started with a timeout on the first PING and killed at teardown. Where redis-server is
not installed (scripts/services.sh installs it as root), the tests that need it are skipped.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

import system_packages

from providers.redis_resp import Redis

START_SECONDS = 10.0


def missing() -> str | None:
    """Why there can be no redis-server here, or None."""
    return None if shutil.which("redis-server") else "redis-server is not installed"


def ensure() -> str | None:
    """None when redis-server can run (installing it once as root), else the reason."""
    return system_packages.ensure(missing)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One throwaway redis-server; `client()` connects to it."""

    def __enter__(self) -> RedisServer:
        self.dir = tempfile.TemporaryDirectory(prefix="redis-")
        self.port = _free_port()
        self.password = secrets.token_urlsafe(12)
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir.name,
                "--requirepass",
                self.password,
                "--databases",
                "16",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        until = time.monotonic() + START_SECONDS
        while True:
            try:
                with self.client() as redis:
                    redis.command("PING")
                return self
            except Exception:
                if time.monotonic() > until or self.process.poll() is not None:
                    self.__exit__(None, None, None)
                    raise RuntimeError("redis-server did not answer within 10 s") from None
                time.sleep(0.05)

    def client(self, db: int = 0) -> Redis:
        redis = Redis("127.0.0.1", self.port, timeout=2.0, password=self.password)
        redis.command("SELECT", db)
        return redis

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        self.dir.cleanup()
