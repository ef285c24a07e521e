"""A real S3 endpoint for the backup fetch tests: moto's server mode on 127.0.0.1, a free port.

The provider talks to it over HTTP with boto3 exactly as to AWS or R2 (no in-process mock
decorators). What moto does not do, `FaultyFront` adds: a small HTTP proxy in front of it that
answers the next requests with an error S3 sends (SlowDown/503, ExpiredToken/400) or cuts a
download short after some bytes, then passes everything else through to moto unchanged.

Startup and shutdown are bounded (`START_SECONDS`); moto's ThreadedMotoServer waits for its
server without a timeout, so it is started from a thread that is given up on when it hangs.
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

START_SECONDS = 20.0
REGION = "us-east-1"
KEY_ID = "AKIATESTFETCH0000001"
SECRET = "fetch-test-secret-3b1f0c9e5d7a"


class MotoServer:
    """moto's ThreadedMotoServer on 127.0.0.1, port chosen by the OS."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        starting = threading.Thread(target=self.server.start, daemon=True)
        starting.start()
        starting.join(START_SECONDS)
        if starting.is_alive():
            raise RuntimeError(f"moto's server did not start in {START_SECONDS:g} s")
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        # Not /moto-api/data.json: it answers 500 once any object was deleted (closed buffers).
        socket.create_connection((host, port), timeout=10).close()

    def client(self, key_id: str = KEY_ID, secret: str = SECRET, url: str | None = None) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=url or self.url,
            region_name=REGION,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )

    def enforce_auth(self, on: bool) -> None:
        """moto checks credentials (IAM users, signatures) only after this; off again after."""
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            data=b"0" if on else b"inf",
            method="POST",
            # A form content type (urllib's default) would leave the body unread by Flask.
            headers={"Content-Type": "application/octet-stream"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

    def stop(self) -> None:
        stopping = threading.Thread(target=self.server.stop, daemon=True)
        stopping.start()
        stopping.join(START_SECONDS)


class FaultyFront:
    """A proxy to moto that fails the next requests on purpose (see the module's docstring)."""

    def __init__(self, moto_url: str) -> None:
        self.target = moto_url.removeprefix("http://")
        self.errors: list[tuple[int, str]] = []
        """(status, S3 error code) answered to the next requests, one each."""
        self.cut_after: int | None = None
        """Send only this many bytes of the next object body, then close the connection."""
        self.seen: list[str] = []
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self) -> None:
                front.seen.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                sent = self.rfile.read(length) if length else None
                if front.errors:
                    status, code = front.errors.pop(0)
                    body = (
                        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                        f"<Message>{code} from the test's front</Message></Error>"
                    ).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                upstream = http.client.HTTPConnection(front.target, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                upstream.request(self.command, self.path, body=sent, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                upstream.close()
                cut = front.cut_after if self.command == "GET" and len(data) > 100 else None
                self.send_response(answer.status)
                skipped = ("connection", "transfer-encoding", "content-length")
                for name, value in answer.getheaders():
                    if name.lower() not in skipped or self.command == "HEAD":
                        self.send_header(name, value)
                if self.command == "HEAD":
                    self.end_headers()
                    return
                self.send_header("Content-Length", str(len(data)))
                if cut is not None:
                    front.cut_after = None
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = handle_any

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
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    """moto's S3 on 127.0.0.1 for the module's tests; skipped when moto is not installed."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed (the dev extra)")
    pytest.importorskip("boto3", reason="boto3 is not installed (the aws extra)")
    server = MotoServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def faulty_front(moto_server: MotoServer) -> Iterator[FaultyFront]:
    front = FaultyFront(moto_server.url)
    try:
        yield front
    finally:
        front.stop()


def set_last_modified(bucket: str, key: str, when: Any) -> None:
    """Give an object in the (in-process) moto server another LastModified: listing order is
    tested without waiting for the clock to move."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets[bucket].keys[key].last_modified = when
