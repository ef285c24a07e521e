"""The generic HTTP action against real servers on 127.0.0.1: the deploy API simulator for the
happy path, verification and undo; the simulator's faults, a closed port and a hanging server
for each way a request fails. No secret reaches an error, a plan, the CLI line or the log."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from cockpit.simulators.base import Reply, Request
from cockpit.simulators.deploy_api import DeployApiSimulator
from providers.http_action import HttpActionProvider

TOKEN = "tok-9f8e7d6c5b4a-secret"
HOOK = "hook-1a2b3c4d5e-secret"
ROLLBACK: dict[str, Any] = {
    "path": "/api/deploy/rollback",
    "body": '{"to": "previous", "key": "${HOOK_KEY}"}',
    "headers": ["X-Hook-Key: ${HOOK_KEY}"],
    "expect_status": "202",
    "expect_text": "rolled back",
    "verify_path": "/health",
    "verify_expect_text": "ok v1.2.3",
    "verify_interval_seconds": 0,
    "undo_path": "/api/deploy/rollforward",
    "destructive": True,
}


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[DeployApiSimulator]:
    monkeypatch.setenv("DEPLOY_HOOK_KEY", HOOK)
    with DeployApiSimulator(token=TOKEN) as server:
        yield server


def provider(base_url: str, **options: Any) -> HttpActionProvider:
    built = HttpActionProvider.Options.model_validate(
        {
            "base_url": base_url,
            "token": TOKEN,
            "secrets": {"HOOK_KEY": {"env": "DEPLOY_HOOK_KEY"}},
            "timeout_seconds": 1.0,
            **options,
        }
    )
    return HttpActionProvider(built)  # type: ignore[arg-type]


def leaks(*texts: str) -> bool:
    return any(secret in text for text in texts for secret in (TOKEN, HOOK))


def test_rollback_verifies_and_its_undo_rolls_forward(sim: DeployApiSimulator) -> None:
    action = provider(sim.url)
    plan = action.preflight("request", ROLLBACK)
    assert plan.destructive and plan.undo is not None
    assert '"X-Hook-Key: $DEPLOY_HOOK_KEY"' in plan.cli and "$HTTP_ACTION_TOKEN" in plan.cli
    assert "[redacted]" in json.dumps(plan.as_payload())
    assert not leaks(json.dumps(plan.as_payload()), plan.cli)
    report = Report(deadline_seconds=30)
    executed = action.execute(plan, report)
    assert sim.version == "v1.2.3" and "202" in executed.summary
    sent = next(r for r in sim.requests if r.path == "/api/deploy/rollback")
    assert sent.headers["x-hook-key"] == HOOK and sent.body == {"to": "previous", "key": HOOK}
    verified = action.verify(plan, executed, report)
    assert verified.ok, verified.summary
    assert not leaks(*report.transcript, executed.summary, verified.summary)
    undo = action.preflight(plan.undo["action"], plan.undo["params"])
    done = action.execute(undo, Report(deadline_seconds=30))
    assert sim.version == "v1.2.4" and "rolled forward" in done.summary
    action.close()


def test_verification_fails_when_the_health_lacks_the_text(sim: DeployApiSimulator) -> None:
    action = provider(sim.url)
    plan = action.preflight(
        "request", {**ROLLBACK, "verify_expect_text": "ok v9", "verify_attempts": 2}
    )
    executed = action.execute(plan, Report())
    verified = action.verify(plan, executed, Report(sleeper=lambda s: None))
    assert not verified.ok and "lacks 'ok v9'" in verified.summary


def test_an_unexpected_status_names_the_body_first_line_printable(sim: DeployApiSimulator) -> None:
    action = provider(sim.url)
    plan = action.preflight("request", {**ROLLBACK, "body": '{"to": "v0"}'})
    with pytest.raises(ProviderError, match=r"answered 409, expected 202: .*v0 is not an earlier"):
        action.execute(plan, Report())
    sim.route(
        "POST",
        "/api/hostile",
        lambda r: Reply(500, f"\x1b[31m[bold]boom {TOKEN}\nmore", content_type="text/plain"),
    )
    plan = action.preflight("request", {"path": "/api/hostile"})
    with pytest.raises(ProviderError) as raised:
        action.execute(plan, Report())
    text = str(raised.value)
    assert "answered 500" in text and "\x1b" not in text and "\\x1b" in text
    assert "more" not in text and not leaks(text)


def test_an_expected_text_missing_fails_by_name(sim: DeployApiSimulator) -> None:
    action = provider(sim.url)
    plan = action.preflight("request", {**ROLLBACK, "expect_text": "all good"})
    with pytest.raises(ProviderError, match="body lacks 'all good'"):
        action.execute(plan, Report())


def test_a_rate_limit_is_waited_out_within_the_bound(sim: DeployApiSimulator) -> None:
    action = provider(sim.url, max_wait_seconds=10)
    plan = action.preflight("request", ROLLBACK)
    sim.fail("rate_limit", retry_after=3, times=1)
    waited: list[float] = []
    action.execute(plan, Report(sleeper=waited.append))
    assert waited == [3] and sim.version == "v1.2.3"
    sim.fail("rate_limit", path="/api/deploy/rollforward", retry_after=120, times=1)
    undo = action.preflight("request", {"path": "/api/deploy/rollforward"})
    with pytest.raises(ProviderError, match=r"rate limited \(429\); retry after 120 s"):
        action.execute(undo, Report(sleeper=waited.append))
    assert waited == [3]  # 120 s is past max_wait_seconds: failed at once


def test_a_503_with_retry_after_is_waited_too(sim: DeployApiSimulator) -> None:
    original = sim.rate_limit_reply
    sim.rate_limit_reply = lambda fault: Reply(503, {"error": "deploying"}, {"Retry-After": "2"})  # type: ignore[method-assign]
    action = provider(sim.url)
    plan = action.preflight("request", ROLLBACK)
    sim.fail("rate_limit", times=1)
    waited: list[float] = []
    action.execute(plan, Report(sleeper=waited.append))
    sim.rate_limit_reply = original  # type: ignore[method-assign]
    assert waited == [2] and sim.version == "v1.2.3"


def test_connection_refused_and_a_hang_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOY_HOOK_KEY", HOOK)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ProviderUnavailable, match="connection refused"):
        provider(f"http://127.0.0.1:{port}").preflight("request", ROLLBACK)
    with DeployApiSimulator(token=TOKEN) as sim:
        action = provider(sim.url, timeout_seconds=0.3)
        sim.fail("hang", seconds=3, times=5)
        with pytest.raises(ProviderTimeout, match=r"no complete answer .* within 0.3 s"):
            action.health()


def test_refused_credentials_never_show_the_token(sim: DeployApiSimulator) -> None:
    with pytest.raises(ProviderError, match=r"credentials refused \(401\)") as raised:
        provider(sim.url, token="wrong-token-value").health()
    assert "wrong-token-value" not in str(raised.value)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "needs path"),
        ({"path": "https://evil.example/x"}, "must be a path under base_url"),
        ({"path": "/x", "method": "BREW"}, "method must be one of"),
        ({"path": "/x", "body": "{not json"}, "body is not valid JSON"),
        ({"path": "/x", "expect_status": "ok"}, "is not a status"),
        ({"path": "/x", "headers": ["no colon"]}, 'is not "Name: value"'),
        ({"path": "/x", "headers": ["X-A: ${NOPE}"]}, r"uses \$\{NOPE\}, not a configured"),
    ],
)
def test_bad_params_are_refused_by_name(
    sim: DeployApiSimulator, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProviderError, match=message):
        provider(sim.url).preflight("request", params)


def test_options_hold_no_secret_in_their_text(sim: DeployApiSimulator) -> None:
    action = provider(sim.url)
    assert not leaks(repr(action.options), str(action.options.model_dump()))


def test_a_text_body_is_sent_as_is(sim: DeployApiSimulator) -> None:
    seen: list[Request] = []
    sim.route("PUT", "/api/note", lambda r: (seen.append(r), Reply(204))[1])
    action = provider(sim.url)
    plan = action.preflight(
        "request", {"path": "/api/note", "method": "PUT", "body": '"hi"', "body_type": "text"}
    )
    action.execute(plan, Report())
    assert seen and seen[0].body == "hi"
