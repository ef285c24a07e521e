"""The shared HTTP reading: action providers' and notifiers' calls are bounded like the sources',
and no error carries the credential a platform echoes back.

Real servers on 127.0.0.1: the hostile metrics server, and an echo server that answers with the
request's own Authorization header in its error text, as misbehaving platforms do.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hostile_metrics import HostileServer

from cockpit.core.actions import Outgoing, Report
from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from providers.api import ApiClient, ApiOptions
from providers.http_action import HttpActionOptions, HttpActionProvider
from providers.http_read import MAX_RETRY_AFTER, retry_after_seconds
from providers.http_request import Request
from providers.webhook import WebhookNotifier, WebhookOptions

TOKEN = "abc123-secret-token-0123456789"


class Echo:
    """Answers every request with an error that repeats its Authorization header."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.answer()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.answer()

            def answer(self) -> None:
                said = self.headers.get("Authorization", "")
                token = said.split(" ", 1)[-1]
                if self.path.endswith("/revoked"):  # an API's envelope quoting the token
                    status, kind = 401, "application/json"
                    body = json.dumps({"error": {"message": f"token {token} is revoked"}})
                elif self.path.endswith("/dump"):  # a 500 page dumping the request's headers
                    status, kind = 500, "text/html"
                    body = f"<pre>{self.headers}</pre>"
                else:  # a long refusal that puts the token where a 200-character cut falls
                    status, kind = 400, "text/plain"
                    body = "x" * 190 + f" token {token} refused"
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def echo() -> Iterator[Echo]:
    server = Echo()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    server = HostileServer(trickle_seconds=0.2)
    yield server
    server.stop()


def api(base_url: str, **options: Any) -> ApiClient:
    return ApiClient(
        ApiOptions(base_url=base_url, token=TOKEN, **options),
        auth_header=("Authorization", f"Bearer {TOKEN}"),
        envelope=lambda body: body.get("error", {}).get("message"),
    )


def leaks(text: str) -> bool:
    """Whether any 8 characters of the token are in the text (a cut secret leaks too)."""
    return any(TOKEN[i : i + 8] in text for i in range(len(TOKEN) - 7))


@pytest.mark.parametrize("path", ["/revoked", "/dump", "/long"])
def test_api_errors_never_carry_the_token_the_platform_echoes(echo: Echo, path: str) -> None:
    client = api(echo.url)
    with pytest.raises(ProviderError) as raised:
        client.request("GET", path, what="read the project")
    client.close()
    text = str(raised.value)
    assert not leaks(text), text
    assert text.startswith("read the project: ")
    if path == "/revoked":
        assert text == "read the project: credentials refused (401): token [redacted] is revoked"


@pytest.mark.parametrize("path", ["/revoked", "/dump", "/long"])
def test_http_action_errors_never_carry_the_token_the_platform_echoes(
    echo: Echo, path: str
) -> None:
    options = HttpActionOptions(base_url=echo.url, token=TOKEN, timeout_seconds=2, probe_path=path)
    action = HttpActionProvider(options)
    texts = []
    try:
        texts.append(action.health())  # a 400 is an answer: reachable
    except ProviderError as error:
        texts.append(str(error))
    plan = action.preflight("request", {"path": "/"}) if path == "/long" else None
    report = Report()
    with pytest.raises(ProviderError, match=r"answered (400|401|500)") as sent:
        request = Request("POST", path, (), None, "text", ("2xx",), "")
        action._send(request, "the request", report)  # the answer's first line is quoted
    action.close()
    texts += [str(sent.value), *report.transcript]
    if plan is not None:
        texts += [plan.cli, json.dumps(plan.as_payload())]
    for text in texts:
        assert not leaks(text), text


def test_a_token_in_the_base_url_stays_out_of_errors_and_logs(hostile: HostileServer) -> None:
    client = api(f"{hostile.url}/rate_limited/bot{TOKEN}", max_retries=1)
    report = Report(deadline_seconds=60, monotonic=lambda: 0.0, sleeper=lambda seconds: None)
    with pytest.raises(ProviderError) as raised:
        client.request("GET", "/json", what="read", report=report)
    client.close()
    assert "rate limited (429)" in str(raised.value)
    assert report.transcript and not any(leaks(line) for line in report.transcript)
    assert not leaks(str(raised.value)), raised.value


def test_notifier_errors_never_carry_a_cut_secret(echo: Echo) -> None:
    """The webhook's reason is cut at 200 characters; the token starts at 197."""
    options = WebhookOptions(url=f"{echo.url}/hook", token=TOKEN, timeout_seconds=2)
    notifier = WebhookNotifier(options)
    with pytest.raises(ProviderError) as raised:
        notifier.send(Outgoing("ops", "subject", "body", "INC-1"))
    notifier.close()
    assert not leaks(str(raised.value)), raised.value
    assert "refused it (400): xxx" in str(raised.value)


def test_api_and_notifier_reads_are_bounded_in_size_and_time(hostile: HostileServer) -> None:
    client = api(hostile.url, timeout_seconds=1, max_body_bytes=64 * 1024)
    with pytest.raises(ProviderUnavailable, match=r"answer larger than 64 KiB; raise max_body"):
        client.request("GET", "/huge_chunked/json", what="read")
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match=r"no complete answer from .* within 1 s"):
        client.request("GET", "/trickle/json", what="read")
    assert time.monotonic() - started < 1.75
    client.close()
    notifier = WebhookNotifier(WebhookOptions(url=f"{hostile.url}/trickle_headers/hook"))
    notifier.timeout_seconds = 1.0
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match="no complete answer from the webhook at"):
        notifier.send(Outgoing("ops", "subject", "body", "INC-1"))
    assert time.monotonic() - started < 1.75
    notifier.close()


def test_retry_after_reads_seconds_and_dates_and_caps_absurd_waits() -> None:
    now = datetime(2026, 1, 15, 3, 12, tzinfo=UTC)
    in_45_s = (now + timedelta(seconds=45)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds("30", now) == 30
    assert retry_after_seconds(in_45_s, now) == 45
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now) == 0  # past: now
    assert retry_after_seconds("31536000", now) == MAX_RETRY_AFTER == 600
    assert retry_after_seconds("-5", now) == 0
    for garbled in (None, "", "soon", "nan", "Fri, 99 Foo"):
        assert retry_after_seconds(garbled, now) is None, garbled
