"""Every HTTP answer the providers read: one total deadline, a cap on the body, Retry-After.

httpx's timeouts are per phase and per socket read: a server that sends one byte a second never
trips a 2 s read timeout and holds the caller for ever, and `response.content` keeps whatever
the server sends (a 100 MB answer took the cockpit to 1.46 GB). So providers read through
`read()`:

- One `Deadline` covers connecting, sending, the headers and the body. The clients' sockets come
  from `DeadlineBackend`, which shortens every connect, read and write timeout to what is left of
  the calling thread's deadline, so even headers trickled a byte at a time stop on time (through
  the environment's proxies too). An injected transport, as unit tests use, gets the deadline
  checked between body chunks only. It is real time, not an injected clock: sockets wait in it.
- The body is streamed and counted after decoding (gzip is inflated here, 256 KiB at a time, so a
  small compressed answer cannot expand past the cap either); the read fails as soon as the count
  passes `max_bytes`, so no more than the cap plus one network chunk (64 KiB) is ever held.
  Content-Length is checked first, to fail without reading, but never trusted: the count decides.

Failures are httpx errors (DeadlinePassed is a TimeoutException, AnswerTooLarge an HTTPError), so
each caller's handling of a failed request covers them; `http_failure_reason` words them.
"""

from __future__ import annotations

import math
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpcore
import httpx
from httpx._utils import get_environment_proxies  # httpx's own reading of HTTP_PROXY, NO_PROXY

MiB = 1024 * 1024
KiB = 1024
MAX_RETRY_AFTER = 600.0
"""A Retry-After beyond ten minutes is a misconfigured server, not a plan: waited as ten minutes."""
ACCEPT_ENCODING = "gzip, deflate"
"""What `read()` can inflate in bounded steps; anything else the server sends is refused."""


def size_text(count: int) -> str:
    """Bytes as people say them: 4 MiB, 64 KiB, 1500 bytes."""
    for unit, name in ((MiB, "MiB"), (KiB, "KiB")):
        if count >= unit:
            return f"{count / unit:.4g} {name}"
    return f"{count} bytes"


class AnswerTooLarge(httpx.HTTPError):
    """The answer's body is larger than the reader's cap; nothing past the cap was kept."""

    def __init__(self, max_bytes: int, announced: int | None = None) -> None:
        said = f" (Content-Length {size_text(announced)})" if announced is not None else ""
        super().__init__(f"answer larger than {size_text(max_bytes)}{said}; raise max_body_bytes")
        self.max_bytes = max_bytes


class DeadlinePassed(httpx.TimeoutException):
    """The whole answer did not arrive within the deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g} s")


class Deadline:
    """The time.monotonic() moment by which an answer must be complete."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.until = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.until - time.monotonic()


# -- the sockets ---------------------------------------------------------------------------------

_current = threading.local()
"""The calling thread's deadline: httpx's sync client does its socket work in the caller."""


@contextmanager
def within(deadline: Deadline) -> Iterator[None]:
    """Make `deadline` bound every socket wait of this thread (the earlier one when nested)."""
    outer: Deadline | None = getattr(_current, "deadline", None)
    _current.deadline = deadline if outer is None or deadline.until < outer.until else outer
    try:
        yield
    finally:
        _current.deadline = outer


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    deadline: Deadline | None = getattr(_current, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline.remaining()
    if left <= 0:
        raise error(f"no complete answer within {deadline.seconds:g} s")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose every wait ends by the thread's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        wait = _left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, wrapped in DeadlineStream."""

    def __init__(self) -> None:
        self.inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        wait = _left(timeout, httpcore.ConnectTimeout)
        stream = self.inner.connect_tcp(host, port, wait, local_address, socket_options)
        return DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        wait = _left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self.inner.connect_unix_socket(path, wait, socket_options))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def deadline_transport(proxy: str | None = None) -> httpx.HTTPTransport:
    """httpx's own transport (TLS, limits, the proxy), its connections made by DeadlineBackend.

    httpx has no option for the network backend, so the one its pool was built with is replaced
    before any connection is made: the pool reads it only when it connects (as HTTPProxy and
    SOCKSProxy do). test_hostile_sources' trickled headers fail if a new httpx stops doing so.
    """
    transport = httpx.HTTPTransport(proxy=proxy)
    pool: Any = transport._pool
    pool._network_backend = DeadlineBackend()
    return transport


def deadline_mounts() -> dict[str, httpx.BaseTransport | None]:
    """The environment's proxies (HTTP_PROXY, NO_PROXY, ...) as httpx reads them, as mounts.

    httpx applies the environment only to a client without a transport; these give the same
    routing with deadline transports.
    """
    return {
        pattern: None if url is None else deadline_transport(url)
        for pattern, url in get_environment_proxies().items()
    }


# -- the answer ----------------------------------------------------------------------------------


def read(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    deadline: Deadline,
    max_bytes: int,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request and read its whole answer within `deadline`, at most `max_bytes` of body.

    Returns a response whose body is read (`.content`, `.text`, `.json()` work); raises
    DeadlinePassed, AnswerTooLarge or any other httpx.HTTPError.
    """
    kwargs["headers"] = {"Accept-Encoding": ACCEPT_ENCODING, **(kwargs.get("headers") or {})}
    with within(deadline):
        if deadline.remaining() <= 0:
            raise DeadlinePassed(deadline.seconds)
        try:
            with client.stream(method, url, **kwargs) as response:
                announced = _content_length(response)
                if announced is not None and announced > max_bytes:
                    raise AnswerTooLarge(max_bytes, announced)
                body = _body(response, max_bytes, deadline)
        except httpx.TimeoutException as error:
            if isinstance(error, DeadlinePassed) or deadline.remaining() > 0:
                raise
            raise DeadlinePassed(deadline.seconds) from error
    kept = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    extensions = {k: v for k, v in response.extensions.items() if k != "network_stream"}
    return httpx.Response(
        response.status_code,
        headers=kept,
        content=body,
        request=response.request,
        extensions=extensions,
    )


def _content_length(response: httpx.Response) -> int | None:
    try:
        return int(response.headers.get("content-length", ""))
    except ValueError:
        return None


def _body(response: httpx.Response, max_bytes: int, deadline: Deadline) -> bytes:
    if response.is_stream_consumed:  # a transport answered a response read already (tests' mocks)
        if len(response.content) > max_bytes:
            raise AnswerTooLarge(max_bytes)
        return response.content
    inflate = _inflater(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0
    for raw in response.iter_raw():
        for data in inflate(raw) if inflate else (raw,):
            size += len(data)
            if size > max_bytes:
                raise AnswerTooLarge(max_bytes)
            chunks.append(data)
        if deadline.remaining() <= 0:
            raise DeadlinePassed(deadline.seconds)
    if inflate:
        for data in inflate(b""):
            size += len(data)
            if size > max_bytes:
                raise AnswerTooLarge(max_bytes)
            chunks.append(data)
    return b"".join(chunks)


INFLATE_STEP = 256 * KiB
"""Inflated at most this much at a time: one compressed chunk can hold a thousand times more."""


def _inflater(encoding: str) -> Callable[[bytes], Iterator[bytes]] | None:
    """None for an identity body; else a function inflating a chunk in INFLATE_STEP pieces.

    b"" flushes what is left at the end.
    """
    coding = encoding.strip().lower()
    if coding in ("", "identity"):
        return None
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise httpx.DecodingError(f"answer encoded as {coding!r}, which was not asked for")
    # 32 + MAX_WBITS reads a gzip or a zlib header: what gzip and deflate bodies start with.
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)

    def inflate(data: bytes) -> Iterator[bytes]:
        try:
            if not data:
                yield inflater.flush()
                return
            while data:
                yield inflater.decompress(data, INFLATE_STEP)
                data = inflater.unconsumed_tail
        except zlib.error as error:
            raise httpx.DecodingError(f"corrupt {coding} encoding: {error}") from None

    return inflate


# -- Retry-After ---------------------------------------------------------------------------------


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (seconds or an HTTP date), at most ten minutes.

    None when absent or unreadable: the caller then waits what it would have anyway. A date is
    compared with the real clock (`now`, for tests): it is the server's wall clock.
    """
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = float(round((when - (now or datetime.now(UTC))).total_seconds()))
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)
