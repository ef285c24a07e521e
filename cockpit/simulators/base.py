"""The base every platform-API simulator is built on: a JSON HTTP server on 127.0.0.1.

A simulator is a standard-library ThreadingHTTPServer served from a daemon thread, with
routes written as (method, path pattern) → handler. It knows the bearer token it accepts,
keeps a log of the requests it saw (so tests can assert the exact calls a provider made), and
can be told to misbehave: answer the next requests with an error status, a rate limit, a body
that is not JSON, or no answer at all for a while. Each platform formats its own errors
(`error_body`), because clients branch on the envelope as much as on the status code.

Asynchronous jobs (a rollback that stays "in progress" for a while) read `self.clock`, which a
test can replace with a fake it advances by hand.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

JSON = Any


@dataclass
class Request:
    """One request as the simulator saw it."""

    method: str
    path: str
    query: dict[str, str]
    body: JSON
    headers: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)
    """Named groups captured from the route pattern."""
    raw: bytes = b""
    """The body as sent; a multipart/form-data body is left here unparsed (body is None)."""


@dataclass
class Reply:
    """What a handler answers: a status, a JSON body (or raw bytes), extra headers.

    `content_type` defaults to the simulator's (JSON); with a text type a str body is sent as
    plain text, as Slack's webhooks answer `ok` or `invalid_payload`.
    """

    status: int
    body: JSON = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str | None = None
    stream: Iterator[bytes] | None = None
    """Sent piece by piece as it yields, with no Content-Length (the connection's end is the
    body's): a Kubernetes watch, a followed log."""


class SimulatorError(Exception):
    """Raised by a handler to answer with the platform's error envelope."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


@dataclass
class Fault:
    """A misbehaviour for the next `times` requests whose path starts with `path`."""

    kind: str  # "status" | "rate_limit" | "malformed" | "hang"
    path: str = ""
    times: int = 1
    status: int = 500
    retry_after: float = 1.0
    seconds: float = 30.0


Handler = Callable[[Request], Reply]


class Simulator:
    """A platform API on 127.0.0.1; subclasses add routes in `routes()` and their error shape."""

    name = "simulator"
    content_type = "application/json"
    """Of every reply that does not set its own, errors included."""
    ssl_context: ssl.SSLContext | None = None
    """Set before `start()` to serve HTTPS (kubectl sends credentials only over TLS)."""

    def __init__(self, *, token: str = "sim-token", clock: Callable[[], float] | None = None):
        self.token = token
        self.clock: Callable[[], float] = clock or time.monotonic
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.after: Callable[[Request, Reply], None] | None = None
        """Called after each successful change (not GETs), holding the lock: the demo uses it
        to make its service follow what was rolled back."""
        self.lock = threading.RLock()
        """Held while a handler runs: simulator state is changed by one request at a time."""
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.routes()

    # -- to override ------------------------------------------------------------------------

    def routes(self) -> None:
        """Register the platform's endpoints with `route()`."""

    def error_body(self, status: int, code: str, message: str, **extra: Any) -> JSON:
        """The platform's error envelope."""
        return {"error": {"code": code, "message": message, **extra}}

    def rate_limit_reply(self, fault: Fault) -> Reply:
        """A 429 as the platform sends it."""
        return Reply(
            429,
            self.error_body(429, "rate_limited", "Too many requests"),
            {"Retry-After": f"{fault.retry_after:g}"},
        )

    def authorized(self, request: Request) -> bool:
        """Whether the request carries the token (Bearer by default)."""
        return request.headers.get("authorization", "") == f"Bearer {self.token}"

    def unauthorized(self, request: Request) -> Reply:
        """The answer to a missing or wrong token."""
        return Reply(401, self.error_body(401, "forbidden", "Not authorized"))

    def unreadable(self, headers: dict[str, str], raw: bytes) -> Reply | None:
        """The answer to a body the platform cannot read, before it is parsed as JSON (None: read
        it): Kubernetes refuses a protobuf body with 415 rather than calling it bad JSON."""
        return None

    # -- routing ----------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """`pattern` uses `{name}` for one path segment, e.g. `/v9/projects/{project}`."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.rstrip("/"))
        self._routes.append((method, re.compile(f"^{regex}/?$"), handler))

    def fail(self, kind: str = "status", *, path: str = "", times: int = 1, **how: Any) -> None:
        """Misbehave on the next `times` matching requests (see Fault)."""
        with self.lock:
            self.faults.append(Fault(kind, path, times, **how))

    def handle(self, request: Request) -> Reply:
        """Faults first, then auth, then the route; then the `after` hook, if any."""
        reply = self._handle(request)
        if self.after is not None and request.method != "GET" and reply.status < 400:
            with self.lock:
                self.after(request, reply)
        return reply

    def _handle(self, request: Request) -> Reply:
        fault = self._take_fault(request.path)
        if fault is not None:
            if fault.kind == "hang":
                self._stopping.wait(fault.seconds)
                return Reply(504, self.error_body(504, "timeout", "simulated hang"))
            if fault.kind == "rate_limit":
                return self.rate_limit_reply(fault)
            if fault.kind == "malformed":
                return Reply(200, raw=b'{"this is": not json')
            return Reply(
                fault.status, self.error_body(fault.status, "simulated", "simulated failure")
            )
        if not self.authorized(request):
            return self.unauthorized(request)
        path_matched = False
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match is None:
                continue
            path_matched = True
            if method != request.method:
                continue
            request.params = match.groupdict()
            try:
                with self.lock:
                    return handler(request)
            except SimulatorError as error:
                body = self.error_body(error.status, error.code, error.message, **error.extra)
                return Reply(error.status, body)
        if path_matched:
            return Reply(405, self.error_body(405, "method_unknown", "Method not allowed"))
        return Reply(404, self.error_body(404, "not_found", f"No route for {request.path}"))

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if path.startswith(fault.path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- serving ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>` (https with an ssl_context) once started."""
        if self._server is None:
            raise RuntimeError(f"{self.name} simulator is not started")
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def start(self, port: int = 0) -> str:
        """Bind 127.0.0.1 and serve from a daemon thread; returns the base URL."""
        if self._server is not None:
            return self.url
        self._stopping.clear()
        server = _Server(("127.0.0.1", port), _handler_class(self))
        if self.ssl_context is not None:  # the handshake happens in the request's own thread
            server.socket = self.ssl_context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-simulator",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving (hung requests are released); safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        self._stopping.set()
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that hung up after its timeout is normal; stderr belongs to the TUI


def _handler_class(simulator: Simulator) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        # One request per connection, so stop() leaves no keep-alive thread answering.
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            return  # stderr belongs to the TUI

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            # Multipart bodies (Cloudflare's settings PATCH) are for the route to parse.
            multipart = self.headers.get("Content-Type", "").startswith("multipart/form-data")
            refused = simulator.unreadable({k.lower(): v for k, v in self.headers.items()}, raw)
            if refused is not None:
                self._send(refused)
                return
            try:
                body: JSON = json.loads(raw) if raw and not multipart else None
            except ValueError:
                self._send(
                    Reply(400, simulator.error_body(400, "bad_request", "Body is not valid JSON"))
                )
                return
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = Request(self.command, parts.path, query, body, headers, raw=raw)
            with simulator.lock:
                simulator.requests.append(request)
            self._send(simulator.handle(request))

        def _send(self, reply: Reply) -> None:
            kind = reply.content_type or simulator.content_type
            if reply.raw is not None:
                data = reply.raw
            elif reply.body is None:
                data = b""
            elif isinstance(reply.body, str) and not kind.split(";")[0].endswith("json"):
                data = reply.body.encode()
            else:
                data = json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", kind)
                if reply.stream is None:
                    self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
                for piece in reply.stream or ():
                    self.wfile.write(piece)
                    self.wfile.flush()
            except OSError:
                return  # the client gave up (its timeout); nothing to tell it
            finally:
                close = getattr(reply.stream, "close", None)
                if close is not None:
                    close()  # a generator's cleanup runs now, not when it is collected

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return _Handler
