"""The JSON endpoint source over real HTTP: a local ThreadingHTTPServer serves a status document
(and misbehaves on request); paths, booleans, list indexes, invert and the failure wording."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from cockpit.core.clock import FixedClock
from cockpit.core.errors import ProviderTimeout, ProviderUnavailable
from cockpit.core.metrics import Sample
from providers.json_endpoint import JsonOptions, JsonQuery, JsonSource
from providers.registry import load_provider

DOCUMENT: dict[str, Any] = {
    "status": "degraded",
    "up": True,
    "checks": {
        "database": {"latency_ms": 42.5, "ok": False, "connections": 7},
        "redis": {"latency_ms": None, "ok": True},
    },
    "items": [{"value": 1.5}, {"value": 2}, {"value": "n/a"}],
    "counts": [3, 4, 5],
    "0": {"odd": 1},
}


class _Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, bytes]]] = {
        "/status.json": (200, json.dumps(DOCUMENT).encode()),
        "/broken": (500, b'{"error": "database unreachable"}'),
        "/html": (200, b"<html><body>Sign in</body></html>"),
    }

    def do_GET(self) -> None:
        status, body = self.routes.get(self.path, (404, b'{"error": "not found"}'))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving DOCUMENT at /status.json; yields its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=2)


def read(url: str, clock: FixedClock | None = None, **paths: str | JsonQuery) -> dict[str, Sample]:
    metrics = [
        spec if isinstance(spec, JsonQuery) else JsonQuery(name=name, path=spec)
        for name, spec in paths.items()
    ]
    source = JsonSource(JsonOptions(url=url, metrics=metrics), clock=clock)
    try:
        return {s.metric: s for s in source.sample()}
    finally:
        source.close()


def test_numbers_booleans_and_list_indexes(server: str, clock: FixedClock) -> None:
    samples = read(
        f"{server}/status.json",
        clock,
        db_latency="checks.database.latency_ms",
        connections="checks.database.connections",
        db_ok="checks.database.ok",
        up="up",
        first="items.0.value",
        second="items.1.value",
        last_count="counts.-1",
        key_zero="0.odd",
    )
    values = {name: sample.value for name, sample in samples.items()}
    assert values == {
        "db_latency": 42.5,
        "connections": 7.0,
        "db_ok": 0.0,
        "up": 1.0,
        "first": 1.5,
        "second": 2.0,
        "last_count": 5.0,
        "key_zero": 1.0,  # on an object, "0" is a key
    }
    assert all(s.error == "" and s.at == clock.now() for s in samples.values())
    assert {s.source for s in samples.values()} == {"json_endpoint"}


def test_invert_and_scale(server: str) -> None:
    samples = read(
        f"{server}/status.json",
        down=JsonQuery(name="down", path="up", invert=True),
        db_failed=JsonQuery(name="db_failed", path="checks.database.ok", invert=True),
        db_seconds=JsonQuery(name="db_seconds", path="checks.database.latency_ms", scale=0.001),
        not_second=JsonQuery(name="not_second", path="items.1.value", invert=True, scale=10),
    )
    assert samples["down"].value == 0.0
    assert samples["db_failed"].value == 1.0
    assert samples["db_seconds"].value == pytest.approx(0.0425)
    assert samples["not_second"].value == -10.0  # (1 - 2) * 10: invert comes before scale


def test_missing_paths_name_the_path_and_what_was_found(server: str) -> None:
    samples = read(
        f"{server}/status.json",
        a="checks.cache.latency_ms",
        b="items.3.value",
        c="items.first.value",
        d="checks.database.latency_ms.p95",
        e="nothing",
    )
    errors = {name: (s.value, s.error) for name, s in samples.items()}
    assert errors == {
        "a": (
            None,
            "checks.cache.latency_ms: no key 'cache' in checks (an object (keys: database, redis))",
        ),
        "b": (None, "items.3.value: index 3 out of range, items has 3 items"),
        "c": (None, "items.first.value: items is a list of 3 items, 'first' is not an index"),
        "d": (None, "checks.database.latency_ms.p95: checks.database.latency_ms is 42.5, "
                    "not an object or a list"),
        "e": (None, "nothing: no key 'nothing' in the document "
                    "(an object (keys: status, up, checks, items, counts, 0))"),
    }  # fmt: skip


def test_non_numbers_name_the_path_and_what_was_found(server: str) -> None:
    samples = read(
        f"{server}/status.json",
        status="status",
        na="items.2.value",
        null="checks.redis.latency_ms",
        obj="checks.database",
        lst="counts",
        ok="checks.redis.ok",
    )
    assert samples["status"].error == "status: expected a number, found the string 'degraded'"
    assert samples["na"].error == "items.2.value: expected a number, found the string 'n/a'"
    assert samples["null"].error == "checks.redis.latency_ms: expected a number, found null"
    assert samples["obj"].error == (
        "checks.database: expected a number, found an object (keys: latency_ms, ok, connections)"
    )
    assert samples["lst"].error == "counts: expected a number, found a list of 3 items"
    assert all(samples[name].value is None for name in ("status", "na", "null", "obj", "lst"))
    assert samples["ok"].value == 1.0  # the other metrics of the document are unaffected


def test_http_500_is_unavailable(server: str) -> None:
    with pytest.raises(ProviderUnavailable) as raised:
        read(f"{server}/broken", x="error")
    assert str(raised.value) == f"GET {server}/broken: HTTP 500 Internal Server Error"


def test_not_json_is_unavailable(server: str) -> None:
    with pytest.raises(ProviderUnavailable) as raised:
        read(f"{server}/html", x="up")
    assert str(raised.value) == (
        f"GET {server}/html: not JSON: '<html><body>Sign in</body></html>'"
    )


def test_refused_is_unavailable_naming_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/status.json"
    with pytest.raises(ProviderUnavailable) as raised:
        read(url, x="up")
    assert str(raised.value) == f"GET {url}: connection refused"


@pytest.mark.timeout(10)
def test_silent_server_times_out_within_the_timeout() -> None:
    # The kernel completes the handshake from the backlog; nobody ever answers.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/status.json"
        source = JsonSource(
            JsonOptions(url=url, timeout_seconds=0.3, metrics=[JsonQuery(name="x", path="up")])
        )
        started = time.monotonic()
        with pytest.raises(ProviderTimeout) as raised:
            source.sample()
        source.close()
    assert time.monotonic() - started < 2.0
    assert str(raised.value) == f"GET {url}: no complete answer within 0.3 s"


def test_options_are_validated() -> None:
    with pytest.raises(ValidationError, match="empty segment"):
        JsonQuery(name="x", path="checks..latency")
    with pytest.raises(ValidationError, match="empty segment"):
        JsonQuery(name="x", path="")
    with pytest.raises(ValidationError, match="extra"):
        JsonOptions.model_validate({"url": "http://x", "metrics": [{"name": "x", "pth": "a"}]})


def test_registered_as_json_endpoint() -> None:
    assert load_provider("json_endpoint") is JsonSource
    source = JsonSource(
        JsonOptions(url="http://x/status.json", metrics=[JsonQuery(name="up", path="up")])
    )
    assert source.metric_names == ["up"]
    source.close()
