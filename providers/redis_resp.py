"""A small Redis client: RESP2 over one TCP socket, a timeout on every wait.

The cache clear needs six commands (AUTH, SELECT, PING, DBSIZE, FLUSHDB, SCAN, DEL), so a
dependency would be more code to trust than this. Errors become ProviderErrors naming the
server; the password never appears in one (AUTH's error is Redis' own text, which does not echo
it, and it is removed literally anyway).
"""

from __future__ import annotations

import socket
from types import TracebackType
from typing import Any, Self

from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from cockpit.core.redact import REDACTED, scrub

MAX_LINE = 64 * 1024
"""A status or error line longer than this is no Redis speaking."""
MAX_BULK = 16 * 1024 * 1024
"""A key (or a reply) larger than this is refused rather than read."""


class RedisError(ProviderError):
    """Redis answered with an error (`-ERR …`, `-NOAUTH …`, `-WRONGPASS …`)."""


class Redis:
    """One connection; `command()` sends a command and returns its parsed reply."""

    def __init__(
        self, host: str, port: int, *, timeout: float, password: str | None = None
    ) -> None:
        self.where = f"redis://{host}:{port}"
        self.timeout = timeout
        self.password = password
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError:
            raise ProviderTimeout(f"{self.where}: no connection within {timeout:g} s") from None
        except OSError as error:
            reason = "connection refused" if isinstance(error, ConnectionRefusedError) else error
            raise ProviderUnavailable(f"{self.where}: {reason}") from None
        self.sock.settimeout(timeout)
        self.reader = self.sock.makefile("rb")
        if password:
            self.command("AUTH", password)

    def close(self) -> None:
        """Close the connection."""
        self.reader.close()
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def command(self, *args: str | int | bytes) -> Any:
        """Send one command; its reply (str for status, int, bytes, list, None)."""
        parts = [arg if isinstance(arg, bytes) else str(arg).encode() for arg in args]
        data = b"*%d\r\n" % len(parts) + b"".join(
            b"$%d\r\n%s\r\n" % (len(part), part) for part in parts
        )
        name = parts[0].decode("ascii", "replace").upper()
        try:
            self.sock.sendall(data)
            return self._reply()
        except TimeoutError:
            raise ProviderTimeout(
                f"{self.where}: no answer to {name} within {self.timeout:g} s"
            ) from None
        except OSError as error:
            raise ProviderUnavailable(f"{self.where}: {name}: {error}") from None

    def _line(self) -> bytes:
        line = self.reader.readline(MAX_LINE)
        if not line.endswith(b"\r\n"):
            raise ProviderUnavailable(f"{self.where}: the connection closed or spoke no RESP")
        return line[:-2]

    def _reply(self) -> Any:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode("utf-8", "replace")
        if kind == b"-":
            text = rest.decode("utf-8", "replace")
            if self.password:
                text = text.replace(self.password, REDACTED)
            raise RedisError(f"{self.where}: {scrub(text)}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            if size > MAX_BULK:
                raise ProviderUnavailable(f"{self.where}: a reply of {size} bytes is too large")
            data = self.reader.read(size + 2)
            if len(data) != size + 2:
                raise ProviderUnavailable(f"{self.where}: the connection closed mid-reply")
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._reply() for _ in range(count)]
        raise ProviderUnavailable(f"{self.where}: an answer that is not RESP: {kind!r}")
