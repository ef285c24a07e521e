"""Bad answers from a source never crash it and never become a number: a reason, every time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cockpit.core.errors import ProviderError
from providers.json_endpoint import JsonOptions, JsonQuery, JsonSource
from providers.prometheus_api import PrometheusOptions, PrometheusSource, PromQuery


class Canned:
    """Answers every GET with the status and body the test sets."""

    def __init__(self) -> None:
        self.status, self.body, self.kind = 200, b"", "application/json"
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(canned.status)
                self.send_header("Content-Type", canned.kind)
                self.send_header("Content-Length", str(len(canned.body)))
                self.end_headers()
                self.wfile.write(canned.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}
        )
        self.thread.start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def canned() -> Iterator[Canned]:
    server = Canned()
    yield server
    server.close()


BAD_ANSWERS = [
    pytest.param(
        200, b'{"status":"success","data":{"resultType":"vec', "truncated JSON", id="truncated"
    ),
    pytest.param(200, b"<html><body>Sign in</body></html>", "HTML instead of JSON", id="html"),
    pytest.param(200, b"", "empty body", id="empty"),
    pytest.param(200, b'{"status":"success"}', "envelope without data", id="no-data"),
    pytest.param(502, b"<html>Bad Gateway</html>", "5xx without envelope", id="502"),
    pytest.param(404, b"404 page not found", "4xx without envelope", id="404"),
    pytest.param(
        503,
        b'{"status":"error","errorType":"unavailable","error":"TSDB not ready"}',
        "5xx with envelope",
        id="503-envelope",
    ),
]


@pytest.mark.parametrize(("status", "body", "what"), BAD_ANSWERS)
def test_prometheus_source_gives_a_reason_never_a_number(
    canned: Canned, status: int, body: bytes, what: str
) -> None:
    canned.status, canned.body = status, body
    source = PrometheusSource(
        PrometheusOptions(
            url=canned.url,
            timeout_seconds=1.0,
            metrics=[PromQuery(name="error_rate", query="up")],
        )
    )
    try:
        samples = source.sample()
    except ProviderError as error:
        assert canned.url in str(error), what  # names where it came from
    else:
        assert all(s.value is None and s.error for s in samples), (what, samples)
    finally:
        source.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("NaN", "NaN"), ("+Inf", "+Inf"), ("-Inf", "-Inf")],
)
def test_prometheus_nan_and_inf_are_not_values(canned: Canned, value: str, expected: str) -> None:
    canned.body = (
        '{"status":"success","data":{"resultType":"vector","result":'
        f'[{{"metric":{{}},"value":[1700000000,"{value}"]}}]}}}}'
    ).encode()
    source = PrometheusSource(
        PrometheusOptions(
            url=canned.url,
            metrics=[PromQuery(name="error_rate", query="x")],
        )
    )
    (sample,) = source.sample()
    source.close()
    assert sample.value is None and expected in sample.error


@pytest.mark.parametrize(("status", "body", "what"), BAD_ANSWERS)
def test_json_source_gives_a_reason_never_a_number(
    canned: Canned, status: int, body: bytes, what: str
) -> None:
    canned.status, canned.body = status, body
    source = JsonSource(
        JsonOptions(
            url=canned.url,
            timeout_seconds=1.0,
            metrics=[JsonQuery(name="error_rate", path="data.value")],
        )
    )
    try:
        samples = source.sample()
    except ProviderError as error:
        assert canned.url in str(error), what
    else:
        assert all(s.value is None and s.error for s in samples), (what, samples)
    finally:
        source.close()
