"""A local HTTP server for tests: answers every GET with the status and body the test sets."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Canned:
    """Serves on 127.0.0.1; change `status`, `body` and `kind` at any time."""

    def __init__(self, body: bytes = b"", *, kind: str = "application/json") -> None:
        self.status, self.body, self.kind = 200, body, kind
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = canned.body
                self.send_response(canned.status)
                self.send_header("Content-Type", canned.kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}
        )
        self.thread.start()
        host, port = self.server.server_address[:2]
        self.address = f"{host}:{port}"
        self.url = f"http://{self.address}"
        self.stopped = False

    def stop(self) -> None:
        """Stop serving (a later call does nothing)."""
        if self.stopped:
            return
        self.stopped = True
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
