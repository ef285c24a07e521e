"""Slack, PagerDuty, Statuspage and webhook notifiers against their simulators on 127.0.0.1.

Each notifier must sort every answer for the outbox: delivered; refused for good (Undeliverable,
in the platform's words); or worth retrying (rate limits with the wait, 5xx, hangs, refused
connections). And no error may carry a secret: for Slack the webhook URL itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from cockpit.core.actions import Outgoing, Undeliverable
from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from cockpit.simulators.base import JSON, Reply, Request, Simulator, SimulatorError
from cockpit.simulators.pagerduty import PagerDutySimulator
from cockpit.simulators.slack import SlackSimulator
from cockpit.simulators.statuspage import StatuspageSimulator
from providers.pagerduty import PagerDutyNotifier, pagerduty_severity
from providers.registry import load_provider
from providers.slack import SlackNotifier
from providers.statuspage import StatuspageNotifier
from providers.webhook import HttpNotifier, RateLimited, WebhookNotifier, retry_after

FAST = 0.3  # timeout_seconds for the hang tests


def message(stage: str = "", key: str = "INC-7", **extra: Any) -> Outgoing:
    return Outgoing(
        channel="test",
        subject="Checkout errors after deploy",
        body="Rolling back to v41.",
        key=key,
        stage=stage,
        severity="P1",
        extra=extra,
    )


def refused(notifier: HttpNotifier, secrets: list[str], sent: Outgoing | None = None) -> str:
    """Send and expect Undeliverable; the error's text, checked free of secrets."""
    with pytest.raises(Undeliverable) as raised:
        notifier.send(sent or message())
    return hidden(raised.value, secrets)


def retried(notifier: HttpNotifier, secrets: list[str], kind: type[ProviderError]) -> ProviderError:
    """Send and expect a retriable error of `kind` (never Undeliverable), free of secrets."""
    with pytest.raises(ProviderError) as raised:
        notifier.send(message())
    assert isinstance(raised.value, kind) and not isinstance(raised.value, Undeliverable)
    hidden(raised.value, secrets)
    return raised.value


def hidden(error: BaseException, secrets: list[str]) -> str:
    texts = [str(error), repr(error), *map(str, error.args)]
    for secret in secrets:
        assert all(secret not in text for text in texts), f"secret leaked: {texts}"
    return str(error)


def retriable_faults(sim: Simulator, notifier: HttpNotifier, secrets: list[str]) -> None:
    """A 5xx, a hang and a stopped server are all worth retrying."""
    sim.fail("status", status=503)
    assert "(503)" in str(retried(notifier, secrets, ProviderUnavailable))
    sim.fail("hang", seconds=5)
    assert f"within {FAST:g} s" in str(retried(notifier, secrets, ProviderTimeout))
    sim.stop()
    assert "connection refused" in str(retried(notifier, secrets, ProviderUnavailable))


# -- Slack -----------------------------------------------------------------------------------


@pytest.fixture
def slack() -> Iterator[SlackSimulator]:
    with SlackSimulator() as sim:
        yield sim


def slack_notifier(url: Any, **options: Any) -> SlackNotifier:
    values = {"webhook_url": url, "timeout_seconds": FAST, **options}
    return SlackNotifier(SlackNotifier.Options.model_validate(values))


def test_slack_posts_the_subject_over_the_body(slack: SlackSimulator) -> None:
    delivered = slack_notifier(slack.webhook_url).send(message())
    assert delivered.summary == "posted to Slack"
    assert slack.messages == [{"text": "*Checkout errors after deploy*\nRolling back to v41."}]


def test_slack_blocks_carry_a_header_and_the_body_in_sections(slack: SlackSimulator) -> None:
    long = Outgoing("slack", "Rollback", "x" * 3500, "INC-7")
    slack_notifier(slack.webhook_url, blocks=True).send(long)
    blocks = slack.messages[0]["blocks"]
    assert [block["type"] for block in blocks] == ["header", "section", "section"]
    assert [len(block["text"]["text"]) for block in blocks[1:]] == [3000, 500]
    assert slack.messages[0]["text"].startswith("*Rollback*\nxxx")


def test_slack_refusals_are_undeliverable_in_slacks_words(slack: SlackSimulator) -> None:
    secrets = [slack.webhook_url, slack.path, slack.token]
    notifier = slack_notifier(slack.webhook_url)
    slack.archived = True
    text = refused(notifier, secrets)
    assert "the Slack webhook refused it (410): channel_is_archived" in text
    revoked = slack_notifier(slack.webhook_url.replace(slack.token, "revoked-0123456789abcdef"))
    text = refused(revoked, [*secrets, "revoked-0123456789abcdef"])
    assert "(404): no_service: the webhook was removed" in text
    assert slack.messages == []


def test_slack_rate_limit_is_retried_after_its_wait(slack: SlackSimulator) -> None:
    slack.fail("rate_limit", retry_after=30)
    error = retried(slack_notifier(slack.webhook_url), [slack.webhook_url], RateLimited)
    assert isinstance(error, RateLimited) and error.retry_after == 30
    assert "retry after 30 s" in str(error) and "rate_limited" in str(error)
    assert len(slack.requests) == 1  # not waited out and retried here


def test_slack_server_errors_hangs_and_a_down_host_are_retriable(slack: SlackSimulator) -> None:
    retriable_faults(slack, slack_notifier(slack.webhook_url), [slack.path, slack.token])


def test_slack_answer_other_than_ok_is_retried(slack: SlackSimulator) -> None:
    slack.fail("malformed")
    error = retried(slack_notifier(slack.webhook_url), [slack.path], ProviderError)
    assert "not 'ok'" in str(error)


def test_slack_options_hide_the_url_and_health_sends_nothing(
    slack: SlackSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.webhook_url)
    notifier = slack_notifier({"env": "SLACK_WEBHOOK_URL"})
    assert slack.token not in repr(notifier.options)
    assert "not checked without sending" in notifier.health()
    assert slack.requests == []
    with pytest.raises(ValidationError) as raised:
        slack_notifier(f"https://hooks.example.com/chat/{slack.token}")
    assert "incoming-webhook URL" in str(raised.value)
    assert slack.token not in str(raised.value)


# -- PagerDuty -------------------------------------------------------------------------------


@pytest.fixture
def pagerduty() -> Iterator[PagerDutySimulator]:
    with PagerDutySimulator() as sim:
        yield sim


def pd_notifier(sim: PagerDutySimulator, key: str | None = None) -> PagerDutyNotifier:
    values = {"base_url": sim.url, "routing_key": key or sim.routing_key, "timeout_seconds": FAST}
    return PagerDutyNotifier(PagerDutyNotifier.Options.model_validate(values))


def test_pagerduty_follows_one_dedup_key_to_resolved(pagerduty: PagerDutySimulator) -> None:
    notifier = pd_notifier(pagerduty)
    for stage in ("trigger", "acknowledge", "resolve"):
        assert notifier.send(message(stage)).reference == "INC-7"
    alert = pagerduty.alerts["INC-7"]
    assert (alert.status, alert.actions) == ("resolved", ["trigger", "acknowledge", "resolve"])
    assert (alert.summary, alert.severity, alert.source) == (
        "Checkout errors after deploy",
        "critical",
        "rollback-cockpit",
    )
    assert pagerduty.events[0]["payload"]["custom_details"]["body"] == "Rolling back to v41."


def test_pagerduty_returns_the_key_it_generated(pagerduty: PagerDutySimulator) -> None:
    delivered = pd_notifier(pagerduty).send(message(key=""))
    assert delivered.reference and list(pagerduty.alerts) == [delivered.reference]


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("P0", "critical"),
        ("p1", "critical"),
        ("P2", "error"),
        ("P3", "warning"),
        ("P4", "info"),
        ("", "info"),
        ("warning", "warning"),  # PagerDuty's own words pass through
        ("CRITICAL", "critical"),
        ("Critical", "critical"),  # the wizard's outcome in ai-saas, five-levels, pitchey
        ("High", "error"),
        ("Medium", "warning"),
        ("Low", "info"),
    ],
)
def test_pagerduty_severity_from_the_incident_priority(severity: str, expected: str) -> None:
    assert pagerduty_severity(severity) == expected


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("P0", "major_outage"),
        ("Critical", "major_outage"),
        ("P2", "partial_outage"),
        ("High", "partial_outage"),
        ("Medium", "degraded_performance"),
        ("untriaged", "degraded_performance"),
    ],
)
def test_statuspage_components_follow_the_incident_severity(severity: str, expected: str) -> None:
    from providers.statuspage import component_status

    assert component_status("investigating", severity) == expected
    assert component_status("resolved", severity) == "operational"


def test_pagerduty_refusal_keeps_its_errors_and_hides_the_key(
    pagerduty: PagerDutySimulator,
) -> None:
    other = "Z" * 32
    text = refused(pd_notifier(pagerduty, other), [other, pagerduty.routing_key])
    assert "refused it (400): Event object is invalid: Invalid routing key" in text
    with pytest.raises(Undeliverable, match="no event for stage 'escalate'"):
        pd_notifier(pagerduty).send(message("escalate"))
    with pytest.raises(Undeliverable, match="cannot resolve without the incident's key"):
        pd_notifier(pagerduty).send(message("resolve", key=""))
    assert len(pagerduty.requests) == 1 and pagerduty.alerts == {}


def test_pagerduty_throttle_has_no_wait_and_faults_are_retriable(
    pagerduty: PagerDutySimulator,
) -> None:
    notifier, secrets = pd_notifier(pagerduty), [pagerduty.routing_key]
    pagerduty.fail("rate_limit")
    error = retried(notifier, secrets, RateLimited)
    assert isinstance(error, RateLimited) and error.retry_after is None
    assert "no Retry-After, back off" in str(error)
    retriable_faults(pagerduty, notifier, secrets)


def test_pagerduty_options_want_an_integration_key_and_health_sends_nothing(
    pagerduty: PagerDutySimulator,
) -> None:
    with pytest.raises(ValidationError) as raised:
        pd_notifier(pagerduty, "u+abcdefgh-rest-api-token")
    assert "32 letters and digits" in str(raised.value)
    assert "rest-api-token" not in str(raised.value)
    assert "not checked" in pd_notifier(pagerduty).health() and pagerduty.requests == []


# -- Statuspage ------------------------------------------------------------------------------


@pytest.fixture
def statuspage() -> Iterator[StatuspageSimulator]:
    with StatuspageSimulator() as sim:
        yield sim


def sp_notifier(sim: StatuspageSimulator, **options: Any) -> StatuspageNotifier:
    values = {
        "base_url": f"{sim.url}/v1",
        "api_key": sim.token,
        "page_id": sim.page_id,
        "timeout_seconds": FAST,
        **options,
    }
    return StatuspageNotifier(StatuspageNotifier.Options.model_validate(values))


def test_statuspage_creates_then_updates_one_incident(statuspage: StatuspageSimulator) -> None:
    notifier = sp_notifier(statuspage, component_ids=["cmp0api000001"])
    first = notifier.send(message("investigating"))
    incident = statuspage.incidents[first.reference]
    assert incident["name"] == "Checkout errors after deploy"
    assert statuspage.components["cmp0api000001"]["status"] == "major_outage"  # P1

    update = Outgoing("statuspage", "", "Fixed by rolling back.", "INC-7", "resolved", "P1")
    assert notifier.send(update).reference == first.reference
    updates = incident["incident_updates"]
    assert [(u["status"], u["body"]) for u in updates] == [
        ("resolved", "Fixed by rolling back."),
        ("investigating", "Rolling back to v41."),
    ]
    assert statuspage.components["cmp0api000001"]["status"] == "operational"
    assert [r.method for r in statuspage.requests] == ["GET", "POST", "PATCH"]
    assert len(statuspage.incidents) == 1


def test_statuspage_finds_the_incident_again_after_a_restart(
    statuspage: StatuspageSimulator,
) -> None:
    first = sp_notifier(statuspage).send(message("investigating"))
    by_reference = sp_notifier(statuspage).send(message("identified", incident_id=first.reference))
    by_metadata = sp_notifier(statuspage).send(message("monitoring"))
    assert by_reference.reference == by_metadata.reference == first.reference
    statuses = [u["status"] for u in statuspage.incidents[first.reference]["incident_updates"]]
    assert statuses == ["monitoring", "identified", "investigating"]


@pytest.mark.parametrize("envelope", ["error", "message"])
def test_statuspage_refusals_are_undeliverable_in_its_words(
    statuspage: StatuspageSimulator, envelope: str
) -> None:
    statuspage.error_key = envelope
    text = refused(sp_notifier(statuspage, api_key="wrong-key-123"), ["wrong-key-123"])
    assert "refused it (401): Could not authenticate" in text
    text = refused(sp_notifier(statuspage, component_ids=["cmp0nope"]), [statuspage.token])
    assert "(422): Component cmp0nope was not found" in text
    text = refused(sp_notifier(statuspage), [statuspage.token], message(incident_id="gone"))
    assert "update incident gone" in text and "(404): Record not found" in text
    with pytest.raises(Undeliverable, match="no status 'fixed'"):
        sp_notifier(statuspage).send(message("fixed"))
    assert statuspage.incidents == {}


@pytest.mark.parametrize("status", [420, 429])
def test_statuspage_rate_limits_are_retried_after_the_wait(
    statuspage: StatuspageSimulator, status: int
) -> None:
    statuspage.rate_limit_status = status
    statuspage.fail("rate_limit", retry_after=2)
    error = retried(sp_notifier(statuspage), [statuspage.token], RateLimited)
    assert isinstance(error, RateLimited) and error.retry_after == 2
    assert f"({status} Rate limit exceeded); retry after 2 s" in str(error)


def test_statuspage_faults_are_retriable(statuspage: StatuspageSimulator) -> None:
    retriable_faults(statuspage, sp_notifier(statuspage), [statuspage.token])


def test_statuspage_health_reads_the_unresolved_incidents(
    statuspage: StatuspageSimulator,
) -> None:
    notifier = sp_notifier(statuspage)
    assert notifier.health().endswith("answers: 0 unresolved incidents")
    notifier.send(message())
    assert notifier.health().endswith("answers: 1 unresolved incident")
    with pytest.raises(Undeliverable, match="Could not authenticate"):
        sp_notifier(statuspage, api_key="wrong").health()


# -- the generic webhook ---------------------------------------------------------------------


class Receiver(Simulator):
    """Any HTTP endpoint that takes a JSON document behind a bearer token and a secret path."""

    name = "receiver"

    def routes(self) -> None:
        self.route("POST", "/hooks/{secret}", self._take)
        self.route("PUT", "/hooks/{secret}", self._take)

    def error_body(self, status: int, code: str, message: str, **extra: Any) -> JSON:
        return {"error": message}

    def _take(self, request: Request) -> Reply:
        if request.params["secret"] != "path-secret-42":
            raise SimulatorError(404, "not_found", "no such hook")
        return Reply(204)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(token="bearer-secret-42") as sim:
        yield sim


def hook_notifier(sim: Receiver, **options: Any) -> WebhookNotifier:
    values = {
        "url": f"{sim.url}/hooks/path-secret-42?sig=query-secret-42",
        "token": sim.token,
        "timeout_seconds": FAST,
        **options,
    }
    return WebhookNotifier(WebhookNotifier.Options.model_validate(values))


HOOK_SECRETS = ["path-secret-42", "query-secret-42", "bearer-secret-42"]


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_webhook_sends_one_json_document_with_the_bearer_token(
    receiver: Receiver, method: str
) -> None:
    delivered = hook_notifier(receiver, method=method).send(message("resolved"))
    assert delivered.summary == f"the webhook at {receiver.url} accepted it (204)"
    (request,) = receiver.requests
    assert (request.method, request.query) == (method, {"sig": "query-secret-42"})
    assert request.headers["authorization"] == "Bearer bearer-secret-42"
    assert request.body == {
        "channel": "test",
        "subject": "Checkout errors after deploy",
        "body": "Rolling back to v41.",
        "key": "INC-7",
        "stage": "resolved",
        "severity": "P1",
    }


def test_webhook_refusals_rate_limits_and_faults(receiver: Receiver) -> None:
    text = refused(hook_notifier(receiver, token="bearer-wrong-42"), [*HOOK_SECRETS, "wrong-42"])
    assert f"the webhook at {receiver.url} refused it (401): Not authorized" in text
    url = f"{receiver.url}/hooks/path-secret-99"
    assert "(404): no such hook" in refused(hook_notifier(receiver, url=url), ["path-secret-99"])
    receiver.fail("status", status=302)
    assert "redirect, not followed" in refused(hook_notifier(receiver), HOOK_SECRETS)
    receiver.fail("rate_limit", retry_after=5)
    assert "retry after 5 s" in str(retried(hook_notifier(receiver), HOOK_SECRETS, RateLimited))
    receiver.fail("status", status=408)
    retried(hook_notifier(receiver), HOOK_SECRETS, ProviderUnavailable)
    retriable_faults(receiver, hook_notifier(receiver), HOOK_SECRETS)


def test_webhook_health_sends_nothing_and_options_refuse_a_non_http_url(
    receiver: Receiver,
) -> None:
    assert hook_notifier(receiver).health().endswith("not checked without sending a message")
    assert receiver.requests == []
    with pytest.raises(ValidationError) as raised:
        hook_notifier(receiver, url="ftp://files.example.com/path-secret-42")
    assert "http:// or https://" in str(raised.value) and "path-secret-42" not in str(raised.value)


@pytest.mark.parametrize("name", ["slack", "pagerduty", "statuspage", "webhook"])
def test_notifiers_are_registered_under_their_names(name: str) -> None:
    loaded = load_provider(name)
    assert loaded.name == name and issubclass(loaded, HttpNotifier)


def test_retry_after_reads_seconds_or_an_http_date() -> None:
    def wait(value: str | None) -> float | None:
        headers = {} if value is None else {"Retry-After": value}
        return retry_after(httpx.Response(429, headers=headers))

    in_90_s = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert wait("30") == 30 and wait(None) is None and wait("soon") is None
    assert 85 <= (wait(in_90_s) or 0) <= 90
    assert wait("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # already past: retry now
