"""The notification simulators over real HTTP: a Slack webhook, PagerDuty Events v2, Statuspage."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cockpit.simulators.pagerduty import PagerDutySimulator
from cockpit.simulators.slack import SlackSimulator
from cockpit.simulators.statuspage import StatuspageSimulator

TLS = ssl.create_default_context()  # each httpx client would load the CA bundle (~0.1 s)


def client(url: str, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=url, headers=headers or {}, timeout=5, verify=TLS)


# -- Slack -----------------------------------------------------------------------------------


@pytest.fixture
def slack() -> Iterator[SlackSimulator]:
    with SlackSimulator() as sim:
        yield sim


@pytest.fixture
def slack_http(slack: SlackSimulator) -> Iterator[httpx.Client]:
    with client(slack.url) as http:
        yield http


def test_slack_accepts_text_or_blocks_and_answers_ok_in_plain_text(
    slack: SlackSimulator, slack_http: httpx.Client
) -> None:
    reply = slack_http.post(slack.path, json={"text": "rollback started"})
    assert (reply.status_code, reply.text) == (200, "ok")
    assert reply.headers["content-type"].startswith("text/plain")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*done*"}}]
    assert slack_http.post(slack.path, json={"blocks": blocks}).text == "ok"
    assert slack.messages == [{"text": "rollback started"}, {"blocks": blocks}]
    assert slack.webhook_url == f"{slack.url}/services/T0SIMTEAM/B0SIMHOOK/{slack.token}"


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({}, "no_text"),
        ({"text": "   "}, "no_text"),
        ({"text": 3}, "invalid_payload"),
        (["text"], "invalid_payload"),
        ({"blocks": [{"text": "no type"}]}, "invalid_blocks"),
        ({"text": "fallback", "blocks": "not a list"}, "invalid_blocks"),
    ],
)
def test_slack_refuses_a_message_without_text_in_its_words(
    slack: SlackSimulator, slack_http: httpx.Client, body: Any, word: str
) -> None:
    reply = slack_http.post(slack.path, json=body)
    assert (reply.status_code, reply.text) == (400, word)
    assert slack.messages == []


def test_slack_refuses_a_body_that_is_not_json_as_invalid_payload(
    slack: SlackSimulator, slack_http: httpx.Client
) -> None:
    reply = slack_http.post(slack.path, content=b'{"text": "unterminated')
    assert (reply.status_code, reply.text) == (400, "invalid_payload")


@pytest.mark.parametrize(
    "path",
    ["/services/T0SIMTEAM/B0SIMHOOK/wrong-secret", "/services/T0OTHER/B0SIMHOOK/x", "/api/chat"],
)
def test_slack_answers_no_service_for_any_other_webhook(
    slack: SlackSimulator, slack_http: httpx.Client, path: str
) -> None:
    reply = slack_http.post(path, json={"text": "hello"})
    assert (reply.status_code, reply.text) == (404, "no_service")
    assert slack.messages == []


def test_slack_switches_archive_the_channel_and_prohibit_posting(
    slack: SlackSimulator, slack_http: httpx.Client
) -> None:
    slack.archived = True
    reply = slack_http.post(slack.path, json={"text": "hello"})
    assert (reply.status_code, reply.text) == (410, "channel_is_archived")
    slack.prohibited = True
    reply = slack_http.post(slack.path, json={"text": "hello"})
    assert (reply.status_code, reply.text) == (403, "action_prohibited")
    assert slack.messages == []


def test_slack_rate_limit_and_server_error(slack: SlackSimulator, slack_http: httpx.Client) -> None:
    slack.fail("rate_limit", retry_after=30)
    reply = slack_http.post(slack.path, json={"text": "hello"})
    assert (reply.status_code, reply.text) == (429, "rate_limited")
    assert reply.headers["retry-after"] == "30"
    slack.fail("status", status=500)
    assert (slack_http.post(slack.path, json={"text": "x"}).text) == "rollup_error"
    assert slack_http.post(slack.path, json={"text": "x"}).status_code == 200
    assert len(slack.messages) == 1


# -- PagerDuty -------------------------------------------------------------------------------


@pytest.fixture
def pagerduty() -> Iterator[PagerDutySimulator]:
    with PagerDutySimulator() as sim:
        yield sim


@pytest.fixture
def pd_http(pagerduty: PagerDutySimulator) -> Iterator[httpx.Client]:
    with client(pagerduty.url) as http:
        yield http


def trigger(sim: PagerDutySimulator, **extra: Any) -> dict[str, Any]:
    payload = {"summary": "checkout 5xx at 12%", "source": "cockpit", "severity": "critical"}
    return {"routing_key": sim.routing_key, "event_action": "trigger", "payload": payload, **extra}


def test_pagerduty_generates_a_dedup_key_and_follows_it_to_resolved(
    pagerduty: PagerDutySimulator, pd_http: httpx.Client
) -> None:
    reply = pd_http.post("/v2/enqueue", json=trigger(pagerduty))
    assert reply.status_code == 202
    body = reply.json()
    assert body["status"] == "success" and body["message"] == "Event processed"
    key = body["dedup_key"]
    assert key and pagerduty.alerts[key].status == "triggered"

    for action, status in (("acknowledge", "acknowledged"), ("resolve", "resolved")):
        event = {"routing_key": pagerduty.routing_key, "event_action": action, "dedup_key": key}
        reply = pd_http.post("/v2/enqueue", json=event)
        assert (reply.status_code, reply.json()["dedup_key"]) == (202, key)
        assert pagerduty.alerts[key].status == status
    assert pagerduty.alerts[key].actions == ["trigger", "acknowledge", "resolve"]


def test_pagerduty_deduplicates_an_open_alert_and_reopens_a_resolved_one(
    pagerduty: PagerDutySimulator, pd_http: httpx.Client
) -> None:
    for _ in range(2):
        assert pd_http.post("/v2/enqueue", json=trigger(pagerduty, dedup_key="inc-7")).json() == {
            "status": "success",
            "message": "Event processed",
            "dedup_key": "inc-7",
        }
    assert list(pagerduty.alerts) == ["inc-7"]
    assert pagerduty.alerts["inc-7"].opened == 1
    resolve = {
        "routing_key": pagerduty.routing_key,
        "event_action": "resolve",
        "dedup_key": "inc-7",
    }
    pd_http.post("/v2/enqueue", json=resolve)
    pd_http.post("/v2/enqueue", json=trigger(pagerduty, dedup_key="inc-7"))
    assert (pagerduty.alerts["inc-7"].status, pagerduty.alerts["inc-7"].opened) == ("triggered", 2)


def test_pagerduty_accepts_resolving_an_unknown_key(
    pagerduty: PagerDutySimulator, pd_http: httpx.Client
) -> None:
    event = {"routing_key": pagerduty.routing_key, "event_action": "resolve", "dedup_key": "nope"}
    assert pd_http.post("/v2/enqueue", json=event).status_code == 202
    assert pagerduty.alerts == {} and len(pagerduty.events) == 1


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        (
            {"routing_key": "short-key"},
            [
                "Length of 'routing_key' is incorrect (should be 32 characters)",
                "'routing_key' cannot contain non-alphanumeric characters.",
            ],
        ),
        ({"routing_key": "X" * 32}, ["Invalid routing key"]),
        ({"event_action": "escalate"}, ["'event_action' is invalid"]),
        ({"event_action": "resolve"}, ["'dedup_key' is missing or blank"]),
        ({"payload": None}, ["'payload' is missing or blank"]),
        (
            {"payload": {"summary": "", "severity": "P1"}},
            [
                "'payload.summary' is missing or blank",
                "'payload.source' is missing or blank",
                "'payload.severity' is invalid",
            ],
        ),
        ({"dedup_key": "k" * 256}, ["'dedup_key' must be a string of at most 255"]),
    ],
)
def test_pagerduty_refuses_an_invalid_event_with_every_error(
    pagerduty: PagerDutySimulator, pd_http: httpx.Client, change: dict[str, Any], errors: list[str]
) -> None:
    reply = pd_http.post("/v2/enqueue", json={**trigger(pagerduty), **change})
    assert reply.status_code == 400
    body = reply.json()
    assert (body["status"], body["message"]) == ("invalid event", "Event object is invalid")
    assert len(body["errors"]) == len(errors)
    for got, expected in zip(body["errors"], errors, strict=True):
        assert got.startswith(expected)
    assert pagerduty.alerts == {} and pagerduty.events == []


def test_pagerduty_throttles_without_retry_after_and_fails_in_its_envelope(
    pagerduty: PagerDutySimulator, pd_http: httpx.Client
) -> None:
    pagerduty.fail("rate_limit")
    reply = pd_http.post("/v2/enqueue", json=trigger(pagerduty))
    assert reply.status_code == 429 and "retry-after" not in reply.headers
    assert reply.json()["status"] == "throttle event"
    pagerduty.fail("status", status=503)
    reply = pd_http.post("/v2/enqueue", json=trigger(pagerduty))
    assert reply.status_code == 503 and set(reply.json()) == {"status", "message", "errors"}
    assert pagerduty.alerts == {}


# -- Statuspage ------------------------------------------------------------------------------


@pytest.fixture
def statuspage() -> Iterator[StatuspageSimulator]:
    with StatuspageSimulator() as sim:
        yield sim


@pytest.fixture
def sp_http(statuspage: StatuspageSimulator) -> Iterator[httpx.Client]:
    with client(statuspage.url, {"Authorization": f"OAuth {statuspage.token}"}) as http:
        yield http


INCIDENTS = "/v1/pages/sim0page0id0/incidents"


def test_statuspage_creates_updates_and_resolves_an_incident(
    statuspage: StatuspageSimulator, sp_http: httpx.Client
) -> None:
    created = sp_http.post(
        INCIDENTS,
        json={
            "incident": {
                "name": "Checkout errors",
                "status": "investigating",
                "body": "We are looking into it.",
                "component_ids": ["cmp0api000001"],
                "components": {"cmp0api000001": "major_outage"},
            }
        },
    )
    assert created.status_code == 201
    incident = created.json()
    assert incident["components"][0]["status"] == "major_outage"
    assert statuspage.components["cmp0api000001"]["status"] == "major_outage"
    assert [u["status"] for u in incident["incident_updates"]] == ["investigating"]
    assert incident["incident_updates"][0]["affected_components"][0]["old_status"] == "operational"

    one = f"{INCIDENTS}/{incident['id']}"
    sp_http.patch(one, json={"incident": {"status": "identified", "body": "Bad deploy."}})
    sp_http.patch(one, json={"incident": {"body": "Rolling back."}})  # same status, an update
    sp_http.patch(one, json={"incident": {"name": "Checkout errors (EU)"}})  # no new update
    resolved = sp_http.patch(
        one,
        json={"incident": {"status": "resolved", "components": {"cmp0api000001": "operational"}}},
    ).json()
    assert [(u["status"], u["body"]) for u in resolved["incident_updates"]] == [
        ("resolved", ""),
        ("identified", "Rolling back."),
        ("identified", "Bad deploy."),
        ("investigating", "We are looking into it."),
    ]
    assert resolved["resolved_at"] and resolved["name"] == "Checkout errors (EU)"
    assert sp_http.get(f"{INCIDENTS}/unresolved").json() == []
    assert [i["id"] for i in sp_http.get(INCIDENTS, params={"q": "eu"}).json()] == [incident["id"]]


def test_statuspage_lists_unresolved_newest_first_and_pages(
    statuspage: StatuspageSimulator, sp_http: httpx.Client
) -> None:
    ids = [
        sp_http.post(INCIDENTS, json={"incident": {"name": f"i{n}"}}).json()["id"] for n in range(3)
    ]
    assert [i["id"] for i in sp_http.get(f"{INCIDENTS}/unresolved").json()] == ids[::-1]
    second = sp_http.get(INCIDENTS, params={"limit": 2, "page": 2}).json()
    assert [i["id"] for i in second] == [ids[0]]
    assert sp_http.delete(f"{INCIDENTS}/{ids[0]}").status_code == 200
    assert sp_http.get(f"{INCIDENTS}/{ids[0]}").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"name": "x"}, 400, "param is missing"),
        ({"incident": {"status": "investigating"}}, 422, "Name can't be blank"),
        ({"incident": {"name": "x", "status": "scheduled"}}, 422, "Status"),
        ({"incident": {"name": "x", "component_ids": ["cmp0nope"]}}, 422, "cmp0nope"),
        ({"incident": {"name": "x", "components": {"cmp0api000001": "on_fire"}}}, 422, "on_fire"),
        ({"incident": {"name": "x", "impact_override": "huge"}}, 422, "Impact"),
    ],
)
def test_statuspage_refuses_an_invalid_incident_and_keeps_nothing(
    statuspage: StatuspageSimulator, sp_http: httpx.Client, body: Any, status: int, words: str
) -> None:
    reply = sp_http.post(INCIDENTS, json=body)
    assert reply.status_code == status
    assert words in reply.json()["error"]
    assert statuspage.incidents == {}
    assert statuspage.components["cmp0api000001"]["status"] == "operational"


@pytest.mark.parametrize("authorization", [None, "Bearer sim-statuspage-key", "OAuth wrong"])
def test_statuspage_wants_its_oauth_header(
    statuspage: StatuspageSimulator, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with client(statuspage.url, headers) as http:
        reply = http.get(f"{INCIDENTS}/unresolved")
    assert reply.status_code == 401 and set(reply.json()) == {"error"}


def test_statuspage_errors_can_use_the_message_envelope_and_other_pages_are_unknown(
    statuspage: StatuspageSimulator, sp_http: httpx.Client
) -> None:
    statuspage.error_key = "message"
    reply = sp_http.get("/v1/pages/other/incidents")
    assert reply.status_code == 404 and reply.json() == {"message": "Page not found"}


@pytest.mark.parametrize("status", [420, 429])
def test_statuspage_rate_limits_with_420_or_429(
    statuspage: StatuspageSimulator, sp_http: httpx.Client, status: int
) -> None:
    statuspage.rate_limit_status = status
    statuspage.fail("rate_limit", retry_after=2)
    reply = sp_http.post(INCIDENTS, json={"incident": {"name": "x"}})
    assert (reply.status_code, reply.headers["retry-after"]) == (status, "2")
    assert statuspage.incidents == {}
