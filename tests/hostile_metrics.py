"""A hostile metrics server for tests: every way a metrics endpoint can misbehave, on 127.0.0.1.

The first path segment picks the misbehaviour, the rest the format asked for, so one server
plays every source type: `/<mode>/metrics` (Prometheus text), `/<mode>/json` (a JSON document),
`/<mode>/api/v1/query` and `/query_range` (the Prometheus API), `/<mode>/health`; a POST is
answered like a GET, and so is a request sent to it as a proxy (HTTP_PROXY). Modes:

- `ok`: a sane answer; `nan`, `inf`, `neg_inf`: the value NaN, +Inf or -Inf in each format;
- `html`: a sign-in page with status 200; `nested`: JSON nested 100,000 deep;
- `truncated`: Content-Length 1000, a tenth of it sent, then the connection closed;
- `huge` (Content-Length 100 MB) and `huge_chunked` (no length): 100 MB streamed from one
  64 KiB block, never built in memory; `gzip_bomb`: 100 KB of gzip inflating to 100 MB;
- `trickle`: headers, then one body byte every `trickle_seconds` for ever; `trickle_headers`:
  the status line, then one header byte every `trickle_seconds`, for ever;
- `rate_limited`: 429 with Retry-After `retry_after` seconds; `rate_limited_date`: the same as
  an HTTP date; `rate_limited_garbled`: Retry-After "soon"; `unavailable`: 503 with Retry-After;
- `silent`: the connection is accepted and the request read, then nothing, ever.

`stop()` returns promptly: handler threads are daemons and every endless loop waits on the stop
event, so no test hangs on a handler still trickling.
"""

from __future__ import annotations

import contextlib
import json
import threading
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HUGE = 100 * 1000 * 1000
BLOCK = 64 * 1024
FILLER = (b"# filler to make the answer huge\n" * (BLOCK // 33 + 1))[:BLOCK]
MODES = (
    "ok",
    "nan",
    "inf",
    "neg_inf",
    "html",
    "nested",
    "truncated",
    "huge",
    "huge_chunked",
    "gzip_bomb",
    "trickle",
    "trickle_headers",
    "rate_limited",
    "rate_limited_date",
    "rate_limited_garbled",
    "unavailable",
    "silent",
)
VALUES = {"ok": "1", "nan": "NaN", "inf": "+Inf", "neg_inf": "-Inf"}
JSON_VALUES = {"ok": "1", "nan": "NaN", "inf": "Infinity", "neg_inf": "-Infinity"}
HTML = b"<!doctype html><html><head><title>Sign in</title></head><body>Sign in</body></html>"


def metrics_text(mode: str) -> bytes:
    """A Prometheus exposition: a counter, a gauge, a histogram, each with the mode's value."""
    v = VALUES[mode]
    return (
        "# TYPE http_requests_total counter\n"
        f'http_requests_total{{code="200"}} 100\nhttp_requests_total{{code="500"}} {v}\n'
        f"# TYPE http_errors_total counter\nhttp_errors_total {v}\n"
        f"# TYPE temperature gauge\ntemperature {v}\n"
        "# TYPE latency_seconds histogram\n"
        f'latency_seconds_bucket{{le="0.1"}} {v}\nlatency_seconds_bucket{{le="+Inf"}} {v}\n'
        f"latency_seconds_count {v}\nlatency_seconds_sum 1\n"
    ).encode()


def api_answer(mode: str, path: str) -> bytes:
    """The Prometheus API envelope answering an instant or a range query with the mode's value."""
    v = VALUES[mode]
    if path.endswith("query_range"):
        data: dict[str, Any] = {
            "resultType": "matrix",
            "result": [{"metric": {}, "values": [[1700000000, v], [1700000015, v]]}],
        }
    else:
        data = {"resultType": "vector", "result": [{"metric": {}, "value": [1700000000, v]}]}
    return json.dumps({"status": "success", "data": data}).encode()


class HostileServer:
    """Serves every mode on 127.0.0.1 (a free port); settings may change at any time."""

    def __init__(self, *, trickle_seconds: float = 0.25, retry_after: float = 30) -> None:
        self.trickle_seconds = trickle_seconds
        self.retry_after = retry_after
        self.stopping = threading.Event()
        self.requests: list[str] = []
        self._bomb: bytes | None = None
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle(self) -> None:
                with contextlib.suppress(OSError):  # clients giving up early is the point here
                    super().handle()

            def do_GET(self) -> None:
                hostile.requests.append(self.path)
                hostile.answer(self)

            def do_POST(self) -> None:  # notifiers and APIs post; the answer is the same
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving and wake every endless handler (a later call does nothing)."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # -- the answers ---------------------------------------------------------------------------

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one request as its mode says."""
        path = handler.path.split("?")[0]
        if "://" in path:  # asked as a proxy: the request names the whole URL
            path = path.split("://", 1)[1].partition("/")[2]
        mode, _, rest = path.lstrip("/").partition("/")
        if mode == "silent":
            self.stopping.wait()
            handler.close_connection = True
            return
        if mode == "trickle_headers":
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self._trickle(handler)
            return
        if mode.startswith("rate_limited") or mode == "unavailable":
            self._send(
                handler, 429 if mode != "unavailable" else 503, b"slow down", self._wait(mode)
            )
            return
        if mode in VALUES:
            self._send(handler, 200, self._body(mode, rest))
        elif mode == "html":
            self._send(handler, 200, HTML, {"Content-Type": "text/html"})
        elif mode == "nested":
            self._send(handler, 200, b"[" * 100_000 + b"]" * 100_000)
        elif mode == "truncated":
            handler.send_response(200)
            handler.send_header("Content-Length", "1000")
            handler.end_headers()
            handler.wfile.write(self._body("ok", rest)[:100])
            handler.close_connection = True
        elif mode in ("huge", "huge_chunked"):
            self._huge(handler, chunked=mode == "huge_chunked")
        elif mode == "gzip_bomb":
            self._send(handler, 200, self.bomb(), {"Content-Encoding": "gzip"})
        elif mode == "trickle":
            handler.send_response(200)
            handler.send_header("Content-Length", "1000")  # under every cap: only time stops it
            handler.end_headers()
            self._trickle(handler)
        else:
            self._send(handler, 404, b"no such mode")

    def _body(self, mode: str, rest: str) -> bytes:
        if rest.startswith("api/v1/"):
            return api_answer(mode, rest)
        if rest == "json":
            return f'{{"value": {JSON_VALUES[mode]}, "up": true}}'.encode()
        if rest == "health":
            return b"healthy"
        return metrics_text(mode)

    def _wait(self, mode: str) -> dict[str, str]:
        if mode == "rate_limited_date":
            when = datetime.now(UTC) + timedelta(seconds=self.retry_after)
            return {"Retry-After": format_datetime(when, usegmt=True)}
        if mode == "rate_limited_garbled":
            return {"Retry-After": "soon"}
        return {"Retry-After": f"{self.retry_after:g}"}

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _huge(self, handler: BaseHTTPRequestHandler, *, chunked: bool) -> None:
        handler.send_response(200)
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(HUGE))
        handler.end_headers()
        head = f"{len(FILLER):x}\r\n".encode()
        for _ in range(HUGE // len(FILLER)):
            if self.stopping.is_set():
                break
            handler.wfile.write(head + FILLER + b"\r\n" if chunked else FILLER)
        if chunked:
            handler.wfile.write(b"0\r\n\r\n")
        handler.close_connection = True

    def _trickle(self, handler: BaseHTTPRequestHandler) -> None:
        """Send "a" every `trickle_seconds` until the client leaves or the server stops."""
        while not self.stopping.wait(self.trickle_seconds):
            handler.wfile.write(b"a")
            handler.wfile.flush()
        handler.close_connection = True

    def bomb(self) -> bytes:
        """100 MB of newlines, gzipped (about 100 KB), made once and streamed while made."""
        if self._bomb is None:
            packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            block = b"\n" * BLOCK
            parts = [packer.compress(block) for _ in range(HUGE // BLOCK)]
            self._bomb = b"".join(parts) + packer.flush()
        return self._bomb
