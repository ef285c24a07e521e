"""The Sentry metric source against the Sentry simulator over 127.0.0.1, on a fixed clock.

Every metric kind, every failure (refused token, gone project, 429 and its reset time, a body
that is not Sentry's, a refused query) and the token never reaching a sample or a reason; the
simulator's own protocol facts (provider_apis_2.md §11.4); the poller skipping polls on a 429.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from cockpit.core.clock import FixedClock
from cockpit.core.errors import ProviderTimeout, ProviderUnavailable, RateLimited
from cockpit.core.metrics import Sample
from cockpit.messages import MetricsSampled, SourceFailed
from cockpit.polling import Poller
from cockpit.simulators.base import Reply, Request
from cockpit.simulators.sentry import TOO_FREQUENT, SentrySimulator
from providers.registry import load_provider
from providers.sentry import SentrySource

TOKEN = "sntrys_secret_token_for_tests_0123456789"
ORG = "pulse"
PROJECT = "pulse-web"


@pytest.fixture
def sim(clock: FixedClock) -> Iterator[SentrySimulator]:
    simulator = SentrySimulator(organization=ORG, token=TOKEN, now=lambda: clock.now().timestamp())
    simulator.add_project(PROJECT, 42)
    simulator.add_project("other", 43)
    simulator.release("1.2.3")
    with simulator:
        yield simulator


def make(
    sim: SentrySimulator, clock: FixedClock, metrics: list[dict[str, Any]], **over: Any
) -> SentrySource:
    options = SentrySource.Options.model_validate(
        {
            "url": sim.url,
            "token": TOKEN,
            "organization": ORG,
            "project": PROJECT,
            "timeout_seconds": 2.0,
            "metrics": metrics,
            **over,
        }
    )
    return SentrySource(options, clock=clock)


def one(source: SentrySource) -> Sample:
    [sample] = source.sample()
    return sample


def now(clock: FixedClock) -> float:
    return clock.now().timestamp()


ERRORS = {"name": "sentry_errors_per_minute", "kind": "error_events", "environment": "production"}
CRITICAL = {
    "name": "critical_bug_reports_1h",
    "kind": "issue_count",
    "query": "is:unresolved level:fatal firstSeen:-1h",
}


# -- each metric ---------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["events-timeseries", "events-stats"])
def test_error_events_count_the_last_complete_minute(
    sim: SentrySimulator, clock: FixedClock, endpoint: str
) -> None:
    minute = math.floor(now(clock) / 60) * 60
    sim.add_errors(7, project=PROJECT, at=minute - 30)  # the minute before: complete
    sim.add_errors(3, project=PROJECT, at=now(clock))  # this minute: still filling
    sim.add_errors(50, project=PROJECT, at=minute - 30, environment="staging")
    sim.add_errors(90, project="other", at=minute - 30)
    source = make(sim, clock, [ERRORS], errors_endpoint=endpoint)
    sample = one(source)
    assert (sample.metric, sample.value, sample.error) == ("sentry_errors_per_minute", 7, "")
    asked = sim.requests[-1]
    assert asked.path == f"/api/0/organizations/{ORG}/{endpoint}/"
    assert asked.query["environment"] == "production" and asked.query["project"] == PROJECT
    assert asked.headers["authorization"] == f"Bearer {TOKEN}"


def test_new_issues_are_those_first_seen_in_the_release(
    sim: SentrySimulator, clock: FixedClock
) -> None:
    sim.add_issue("old bug", project=PROJECT)
    sim.release("1.2.4")
    for title in ("TypeError in checkout", "KeyError in inbox", "timeout in search"):
        sim.add_issue(title, project=PROJECT)
    sim.add_issue("someone else's", project="other")
    metrics = [
        {"name": "new_issues_after_deploy", "kind": "new_issues"},
        {"name": "new_issues_in_1_2_3", "kind": "new_issues", "release": "1.2.3"},
    ]
    latest, older = make(sim, clock, metrics).sample()
    assert (latest.value, older.value) == (3, 1)
    assert sim.requests[-1].query["query"] == "firstRelease:1.2.3"
    assert sim.requests[-1].query["project"] == "42"  # the id, looked up once from the slug
    assert [r.path for r in sim.requests].count(f"/api/0/projects/{ORG}/{PROJECT}/") == 1


def test_critical_bugs_per_hour_come_from_an_issue_search_over_several_pages(
    sim: SentrySimulator, clock: FixedClock
) -> None:
    for k in range(130):
        sim.add_issue(f"crash {k}", project=PROJECT, level="fatal")
    sim.add_issue("only an error", project=PROJECT)
    sim.add_issue("fatal, but from yesterday", project=PROJECT, level="fatal", at=now(clock) - 7200)
    sim.add_issue("fatal, resolved", project=PROJECT, level="fatal", status="resolved")
    sample = one(make(sim, clock, [CRITICAL]))
    assert (sample.value, sample.error) == (130, "")
    cursors = [r.query.get("cursor") for r in sim.requests if r.path.endswith("/issues/")]
    assert cursors == [None, "0:100:0"]

    floor = one(make(sim, clock, [CRITICAL], max_pages=1))
    assert floor.value == 100 and "at least 100" in floor.error


def test_crash_free_sessions_as_a_percentage(sim: SentrySimulator, clock: FixedClock) -> None:
    metric = {"name": "crash_free_sessions", "kind": "crash_free_rate", "scale": 100}
    empty = one(make(sim, clock, [metric]))
    assert empty.value is None and "no sessions" in empty.error
    sim.add_sessions(200, 10, project=PROJECT)
    sim.add_sessions(100, 100, project="other")
    assert one(make(sim, clock, [metric])).value == pytest.approx(95.0)
    asked = sim.requests[-1]
    assert asked.query["field"] == "crash_free_rate(session)" and asked.query["project"] == "42"


# -- failures ------------------------------------------------------------------------------------


def test_a_refused_token_fails_the_source_without_naming_it(
    sim: SentrySimulator, clock: FixedClock
) -> None:
    source = make(sim, clock, [ERRORS], token="sntrys_wrong_token_9876543210")
    with pytest.raises(ProviderUnavailable, match=r"token refused \(401\): Invalid token") as info:
        source.sample()
    assert "sntrys_wrong_token_9876543210" not in str(info.value)
    sim.fail("status", status=403)
    with pytest.raises(ProviderUnavailable, match=r"token refused \(403\)"):
        make(sim, clock, [ERRORS]).sample()


def test_a_gone_project_fails_the_source_then_it_recovers(
    sim: SentrySimulator, clock: FixedClock
) -> None:
    source = make(sim, clock, [ERRORS, CRITICAL])
    assert [s.value for s in source.sample()] == [0, 0]
    sim.remove_project(PROJECT)
    with pytest.raises(ProviderUnavailable, match=f"project {PROJECT} not found \\(404\\)"):
        source.sample()
    sim.add_project(PROJECT, 42)
    assert [s.value for s in source.sample()] == [0, 0]


def test_a_rate_limit_asks_for_sentrys_reset_time(sim: SentrySimulator, clock: FixedClock) -> None:
    sim.fail("rate_limit", retry_after=30)
    source = make(sim, clock, [ERRORS])
    with pytest.raises(RateLimited, match=r"rate limited \(429\): You are attempting") as info:
        source.sample()
    assert info.value.retry_after == 30  # X-Sentry-Rate-Limit-Reset minus now
    assert one(source).value == 0


def test_a_retry_after_from_a_proxy_wins_over_the_reset_header(clock: FixedClock) -> None:
    source = SentrySource(
        SentrySource.Options.model_validate(
            {"token": TOKEN, "organization": ORG, "project": PROJECT}
        ),
        clock=clock,
    )
    reset = str(int(now(clock)) + 50)
    both = httpx.Response(429, headers={"Retry-After": "7", "X-Sentry-Rate-Limit-Reset": reset})
    assert source._rate_wait(both) == 7
    assert (
        source._rate_wait(httpx.Response(429, headers={"X-Sentry-Rate-Limit-Reset": reset})) == 50
    )
    assert source._rate_wait(httpx.Response(429)) is None


def test_the_poller_skips_polls_while_rate_limited(sim: SentrySimulator, clock: FixedClock) -> None:
    sim.fail("rate_limit", retry_after=30, times=2)
    source = make(sim, clock, [ERRORS])
    posted: list[object] = []
    waits: list[float] = []

    class App:
        def post_message(self, message: object) -> bool:
            posted.append(message)
            return True

    def wait(seconds: float) -> None:
        waits.append(round(seconds, 3))
        clock.advance(seconds)
        if len(waits) == 3:
            poller.stopped.set()

    poller = Poller(App(), source, 10.0, monotonic=clock.monotonic, wait=wait)  # type: ignore[arg-type]
    poller.run()
    assert waits == [30, 30, 10]  # no request in between: polls were skipped, nothing blocked
    assert len([r for r in sim.requests if "events" in r.path]) == 3
    failed = [m for m in posted if isinstance(m, SourceFailed)]
    assert len(failed) == 2 and "next poll in 30 s" in failed[0].reason
    assert isinstance(posted[-1], MetricsSampled)
    assert TOKEN not in repr(posted)


@pytest.mark.parametrize(
    ("fault", "how", "reason"),
    [
        ("status", {"status": 401}, "token refused (401)"),
        ("status", {"status": 403}, "token refused (403)"),
        ("status", {"status": 404}, "not found (404)"),
        ("status", {"status": 502}, "HTTP 502"),
        ("malformed", {}, "not JSON"),
    ],
)
def test_each_failure_is_a_source_failed_with_its_reason_then_a_recovery(
    sim: SentrySimulator, clock: FixedClock, fault: str, how: dict[str, Any], reason: str
) -> None:
    sim.fail(fault, **how)
    posted: list[object] = []

    class App:
        def post_message(self, message: object) -> bool:
            posted.append(message)
            return True

    poller = Poller(App(), make(sim, clock, [ERRORS]), 10.0)  # type: ignore[arg-type]
    poller.poll_once()
    poller.poll_once()
    failed, recovered = posted
    assert isinstance(failed, SourceFailed) and reason in failed.reason
    assert failed.metrics == ["sentry_errors_per_minute"] and TOKEN not in failed.reason
    assert isinstance(recovered, MetricsSampled) and recovered.samples[0].value == 0


def test_a_hang_is_a_timeout_naming_the_wait(sim: SentrySimulator, clock: FixedClock) -> None:
    sim.fail("hang", seconds=5)
    with pytest.raises(ProviderTimeout, match=r"no complete answer within 0\.3 s"):
        make(sim, clock, [ERRORS], timeout_seconds=0.3).sample()


def test_a_body_that_is_not_json_fails_the_source_then_it_recovers(
    sim: SentrySimulator, clock: FixedClock
) -> None:
    source = make(sim, clock, [ERRORS])
    sim.fail("malformed")
    with pytest.raises(ProviderUnavailable, match="not JSON"):
        source.sample()
    assert one(source).value == 0


def answer_with(sim: SentrySimulator, path: str, reply: Reply) -> None:
    """Put a route in front of the simulator's own (a broken or hostile Sentry)."""
    pattern = re.compile(f"^{re.escape(path)}/?$")
    sim._routes.insert(0, ("GET", pattern, lambda request: reply))


def test_an_answer_not_in_sentrys_shape_fails_the_source(
    sim: SentrySimulator, clock: FixedClock
) -> None:
    answer_with(
        sim, f"/api/0/organizations/{ORG}/events-timeseries", Reply(200, {"timeSeries": "no"})
    )
    with pytest.raises(ProviderUnavailable, match="not the documented shape"):
        make(sim, clock, [ERRORS]).sample()


@pytest.mark.parametrize(
    ("value", "why"), [(-4, "negative"), (1e999, "not finite"), ("12", "expected a number")]
)
def test_a_negative_or_odd_count_never_becomes_a_value(
    sim: SentrySimulator, clock: FixedClock, value: Any, why: str
) -> None:
    minute = math.floor(now(clock) / 60) * 60
    points = [{"timestamp": (minute - 60) * 1000, "value": value, "incomplete": False}]
    body = {"timeSeries": [{"yAxis": "count()", "values": points}], "meta": {}}
    answer_with(sim, f"/api/0/organizations/{ORG}/events-timeseries", Reply(200, body))
    source = make(sim, clock, [ERRORS])
    try:
        sample = one(source)
    except ProviderUnavailable as failed:  # a string where Sentry sends a number
        assert why == "expected a number", failed
        return
    assert sample.value is None and sample.error


def test_a_crash_free_rate_outside_0_to_1_is_no_data(
    sim: SentrySimulator, clock: FixedClock
) -> None:
    body = {"groups": [{"by": {}, "totals": {"crash_free_rate(session)": 1.7}}]}
    answer_with(sim, f"/api/0/organizations/{ORG}/sessions", Reply(200, body))
    sample = one(make(sim, clock, [{"name": "cfs", "kind": "crash_free_rate"}]))
    assert sample.value is None and "outside 0..1" in sample.error


def test_a_refused_search_is_that_metrics_error_only(
    sim: SentrySimulator, clock: FixedClock
) -> None:
    bad = {"name": "bad_search", "kind": "issue_count", "query": "bogus:thing"}
    errors, refused = make(sim, clock, [ERRORS, bad]).sample()
    assert errors.value == 0
    assert refused.value is None and "refused the query (400)" in refused.error


# -- secrets -------------------------------------------------------------------------------------


def test_the_token_comes_from_the_environment_or_a_file_and_is_never_shown(
    sim: SentrySimulator, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SENTRY_TOKEN", TOKEN)
    from_env = make(sim, clock, [ERRORS], token={"env": "SENTRY_TOKEN"})
    secret_file = tmp_path / "sentry-token"
    secret_file.write_text(TOKEN + "\n")
    from_file = make(sim, clock, [ERRORS], token={"file": str(secret_file)})
    for source in (from_env, from_file):
        assert one(source).value == 0
        assert TOKEN not in repr(source.options)
    with pytest.raises(ValidationError, match="NOT_SET_ANYWHERE"):
        make(sim, clock, [ERRORS], token={"env": "NOT_SET_ANYWHERE"})
    with pytest.raises(ValidationError):
        make(sim, clock, [ERRORS], tokne="typo")


def test_a_sentry_that_echoes_the_token_gets_it_removed(
    sim: SentrySimulator, clock: FixedClock
) -> None:
    def echo(request: Request) -> Reply:
        return Reply(500, {"detail": f"boom for {request.headers['authorization']}"})

    sim._routes.insert(0, ("GET", re.compile(".*"), echo))
    with pytest.raises(ProviderUnavailable) as info:
        make(sim, clock, [ERRORS, CRITICAL]).sample()
    assert TOKEN not in str(info.value) and "HTTP 500" in str(info.value)

    def echo_400(request: Request) -> Reply:
        return Reply(400, {"detail": f"bad query from {request.headers['authorization']}"})

    sim._routes[0] = ("GET", re.compile(".*"), echo_400)
    samples = make(sim, clock, [ERRORS, CRITICAL], project_id=42).sample()
    assert all(s.value is None and s.error for s in samples)
    assert TOKEN not in repr(samples)


def test_it_is_registered() -> None:
    assert load_provider("sentry") is SentrySource


# -- the simulator's protocol facts (provider_apis_2.md §11.4) ----------------------------------


def get(
    sim: SentrySimulator, path: str, token: str | None = TOKEN, **params: str
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{sim.url}{path}", params=params, headers=headers, timeout=2.0)


RATE_HEADERS = ("Limit", "Remaining", "Reset", "ConcurrentLimit", "ConcurrentRemaining")


def test_the_simulator_speaks_sentrys_auth_rate_limits_and_errors(
    sim: SentrySimulator, clock: FixedClock
) -> None:
    issues = f"/api/0/organizations/{ORG}/issues/"
    assert get(sim, issues, token=None).json() == {
        "detail": "Authentication credentials were not provided."
    }
    refused = get(sim, issues, token="nope")
    assert refused.status_code == 401 and refused.json() == {"detail": "Invalid token"}
    ok = get(sim, issues)
    assert all(f"X-Sentry-Rate-Limit-{name}" in ok.headers for name in RATE_HEADERS)
    sim.fail("rate_limit", retry_after=5)
    limited = get(sim, issues)
    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    assert limited.json() == {"detail": TOO_FREQUENT.format(limit=40, window=1)}
    assert int(limited.headers["X-Sentry-Rate-Limit-Reset"]) == int(now(clock)) + 5
    assert get(sim, "/api/0/organizations/nobody/issues/").status_code == 404


def test_the_simulator_self_hosted_has_no_rate_limit_headers(clock: FixedClock) -> None:
    with SentrySimulator(organization=ORG, token=TOKEN, self_hosted=True) as hosted:
        answer = get(hosted, f"/api/0/organizations/{ORG}/issues/")
    assert answer.status_code == 200 and "X-Sentry-Rate-Limit-Limit" not in answer.headers


def test_the_simulator_issues_default_search_string_count_limit_and_link(
    sim: SentrySimulator,
) -> None:
    for k in range(3):
        sim.add_issue(f"bug {k}", project=PROJECT, count=150)
    sim.add_issue("fixed", project=PROJECT, status="resolved")
    path = f"/api/0/organizations/{ORG}/issues/"
    default = get(sim, path, limit="2")
    assert [i["status"] for i in default.json()] == ["unresolved"] * 2
    assert default.json()[0]["count"] == "150" and default.json()[0]["userCount"] == 1
    link = default.headers["Link"]
    assert 'rel="previous"; results="false"; cursor="0:0:1"' in link
    assert 'rel="next"; results="true"; cursor="0:2:0"' in link
    assert len(get(sim, path, query="").json()) == 4  # an empty query: everything
    assert len(get(sim, path, limit="500").json()) == 3  # at most 100 a page, here all
    assert len(get(sim, path, query="firstRelease:latest").json()) == 4  # resolved too
    assert len(get(sim, path, query="is:unresolved firstRelease:latest").json()) == 3


def test_the_simulator_time_series_shapes(sim: SentrySimulator, clock: FixedClock) -> None:
    sim.add_errors(4, project=PROJECT, at=now(clock) - 7200)
    org = f"/api/0/organizations/{ORG}"
    series = get(sim, f"{org}/events-timeseries/", dataset="errors", interval="3600").json()
    values = series["timeSeries"][0]["values"]
    assert values[-1]["incomplete"] is True and values[-1]["timestamp"] % 3_600_000 == 0
    assert sum(v["value"] for v in values) == 4
    assert get(sim, f"{org}/events-timeseries/").status_code == 400  # dataset is required
    stats = get(sim, f"{org}/events-stats/", interval="1h", statsPeriod="6h").json()
    assert all(count == [{"count": 0}] or count == [{"count": 4}] for _, count in stats["data"])
    assert sum(count[0]["count"] for _, count in stats["data"]) == 4
    v2 = get(sim, f"{org}/stats_v2/", field="sum(quantity)", groupBy="outcome").json()
    assert v2["groups"][0]["by"] == {"outcome": "accepted"}
    assert sum(v2["groups"][0]["series"]["sum(quantity)"]) == 4
    too_fine = get(sim, f"{org}/stats_v2/", field="sum(quantity)", groupBy="outcome", interval="1m")
    assert too_fine.status_code == 400 and "detail" in too_fine.json()
    sessions = get(sim, f"{org}/sessions/", interval="5h", field="sum(session)")
    assert sessions.status_code == 400  # an interval must divide a day


# -- the drill ---------------------------------------------------------------------------------


def test_the_pulse_messages_drill_reads_critical_bugs_from_its_sentry(clock: FixedClock) -> None:
    from cockpit.commands.demo import start_demo
    from cockpit.core.procedure_loader import load_builtin

    started = start_demo(clock, 2.0, load_builtin("pulse-messages"))
    try:
        by_metric = {name: source for source in started.sources for name in source.metric_names}
        sentry = by_metric["critical_bug_reports_1h"]
        assert isinstance(sentry, SentrySource) and "Sentry on http://127.0.0.1:" in started.note
        assert by_metric["error_rate"].name == "prometheus_scrape"  # a ratio of requests

        def reports() -> float:
            value = one(sentry).value
            assert value is not None
            return value

        assert reports() == 0
        counted = []
        for _ in range(30):  # one report every 4 drill seconds after the deploy, 6 at most
            clock.advance(1.0)
            counted.append(reports())
        assert counted[-1] == 6 and counted == sorted(counted)
        clock.advance(61.0)  # a report counts for the scenario's hour, 60 drill seconds
        assert reports() == 0
    finally:
        assert started.stop is not None
        started.stop()
