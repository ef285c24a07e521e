"""Fault injection: every source type against a hostile metrics server, through real HTTP.

Whatever the server does (NaN and ±Inf values, an HTML page, a cut or a 100 MB answer, a gzip
bomb, bytes trickled for ever, 429 with Retry-After, silence), sample() returns or raises a
ProviderError within its deadline, never emits a value that is not finite, says why in words a
responder can act on, and holds no more than its body cap in memory.
"""

from __future__ import annotations

import math
import re
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hostile_metrics import MODES, HostileServer

from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable, RateLimited
from cockpit.core.metrics import Sample
from providers.base import MetricSource
from providers.http_health import HealthProbe, HealthProbeOptions
from providers.http_read import MiB
from providers.json_endpoint import JsonOptions, JsonQuery, JsonSource
from providers.prometheus.api import PrometheusOptions, PrometheusSource, PromQuery
from providers.prometheus.scrape import MetricQuery, ScrapeOptions, ScrapeSource

TIMEOUT = 1.0
TOLERANCE = 0.75
"""How far past its deadline a poll may return on a loaded two-core machine."""
KINDS = ("prometheus_scrape", "prometheus", "json_endpoint", "http_health")
SHOWN = {"nan": "NaN", "inf": "+Inf", "neg_inf": "-Inf"}


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    server = HostileServer(trickle_seconds=0.25, retry_after=30)
    server.bomb()  # made before any memory is measured
    yield server
    server.stop()


def make(kind: str, server: HostileServer, mode: str) -> MetricSource:
    base = f"{server.url}/{mode}"
    if kind == "prometheus_scrape":
        return ScrapeSource(
            ScrapeOptions(
                url=f"{base}/metrics",
                timeout_seconds=TIMEOUT,
                metrics=[
                    MetricQuery(name="errors", kind="gauge", family="http_errors_total"),
                    MetricQuery(name="rate", kind="rate", family="http_requests_total"),
                    MetricQuery(
                        name="ratio",
                        kind="ratio",
                        family="http_requests",
                        labels={"code": "500"},
                        denominator_family="http_requests",
                    ),
                    MetricQuery(
                        name="p95",
                        kind="histogram_quantile",
                        family="latency_seconds",
                        quantile=0.95,
                    ),
                    # 0 * Inf is NaN, 1 - Inf is -Inf: scale and invert must not bring them back
                    MetricQuery(
                        name="cold", kind="gauge", family="temperature", invert=True, scale=0
                    ),
                ],
            )
        )
    if kind == "prometheus":
        queries = [PromQuery(name="errors", query="sum(x)"), PromQuery(name="big", query="y")]
        return PrometheusSource(
            PrometheusOptions(url=base, timeout_seconds=TIMEOUT, metrics=queries)
        )
    if kind == "json_endpoint":
        queries = [
            JsonQuery(name="value", path="value", scale=0),
            JsonQuery(name="up", path="up", invert=True),
        ]
        return JsonSource(JsonOptions(url=f"{base}/json", timeout_seconds=TIMEOUT, metrics=queries))
    return HealthProbe(
        HealthProbeOptions(url=f"{base}/health", timeout_seconds=TIMEOUT, body_contains="healthy")
    )


def poll(source: MetricSource) -> list[Sample] | ProviderError:
    """One sample(), timed: it must end by its deadline and raise nothing but a ProviderError."""
    started = time.monotonic()
    try:
        result: list[Sample] | ProviderError = source.sample()
    except ProviderError as error:
        result = error
    took = time.monotonic() - started
    assert took < TIMEOUT + TOLERANCE, f"{source.name} took {took:.2f} s"
    if not isinstance(result, ProviderError):
        for sample in result:
            assert sample.value is None or math.isfinite(sample.value), sample
            assert sample.value is not None or sample.error, sample
    return result


def polls(source: MetricSource) -> list[list[Sample] | ProviderError]:
    """Two polls when the first answers (rates need two), one when it failed."""
    try:
        first = poll(source)
        return [first] if isinstance(first, ProviderError) else [first, poll(source)]
    finally:
        source.close()


def errors(samples: list[Sample] | ProviderError) -> dict[str, str]:
    assert isinstance(samples, list), f"expected samples, got {samples!r}"
    return {sample.metric: sample.error for sample in samples if sample.value is None}


def raised(outcome: list[Sample] | ProviderError, kind: type[ProviderError], pattern: str) -> None:
    assert isinstance(outcome, kind), f"expected {kind.__name__}, got {outcome!r}"
    assert re.search(pattern, str(outcome)), str(outcome)


# -- values that are not numbers --------------------------------------------------------------


@pytest.mark.parametrize("mode", ["nan", "inf", "neg_inf"])
def test_scrape_never_emits_nan_or_inf_and_names_the_series(
    hostile: HostileServer, mode: str
) -> None:
    first, second = polls(make("prometheus_scrape", hostile, mode))
    shown = SHOWN[mode]
    assert errors(first) == {
        "errors": f"http_errors_total is {shown}",
        "rate": "first scrape: a rate needs two",
        "ratio": "first scrape: a rate needs two",
        "p95": "first scrape: a rate needs two",
        "cold": f"temperature is {shown}",
    }
    assert errors(second) == {
        "errors": f"http_errors_total is {shown}",
        "rate": f'rate over {shown} counter http_requests_total{{code="500"}}',
        "ratio": f'ratio over {shown} counter http_requests_total{{code="500"}}',
        "p95": f'quantile over {shown} bucket latency_seconds_bucket{{le="0.1"}}',
        "cold": f"temperature is {shown}",
    }


@pytest.mark.parametrize("mode", ["nan", "inf", "neg_inf"])
def test_prometheus_api_never_emits_nan_or_inf(hostile: HostileServer, mode: str) -> None:
    why = "e.g. no requests in range" if mode == "nan" else ""
    said = f"Prometheus returned {SHOWN[mode]} (a division by zero{', ' * bool(why)}{why})"
    for outcome in polls(make("prometheus", hostile, mode)):
        assert errors(outcome) == {"errors": said, "big": said}


@pytest.mark.parametrize("mode", ["nan", "inf", "neg_inf"])
def test_prometheus_range_has_gaps_where_values_are_not_finite(
    hostile: HostileServer, mode: str
) -> None:
    source = make("prometheus", hostile, mode)
    assert isinstance(source, PrometheusSource)
    start = datetime.fromtimestamp(1700000000, UTC)
    points = source.range("x", start, start + timedelta(seconds=15), 15)
    source.close()
    assert points == [(start, None), (start + timedelta(seconds=15), None)]


@pytest.mark.parametrize("mode", ["nan", "inf", "neg_inf"])
def test_json_never_emits_nan_or_inf_and_keeps_the_other_metrics(
    hostile: HostileServer, mode: str
) -> None:
    for outcome in polls(make("json_endpoint", hostile, mode)):
        assert isinstance(outcome, list)
        value, up = outcome
        assert (value.value, value.error) == (None, f"value is {SHOWN[mode]}")
        assert (up.value, up.error) == (0.0, "")  # `up: true`, inverted


@pytest.mark.parametrize("mode", ["nan", "inf", "neg_inf"])
def test_health_probe_latency_is_always_finite(hostile: HostileServer, mode: str) -> None:
    for outcome in polls(make("http_health", hostile, mode)):
        assert isinstance(outcome, list)
        failed, latency = outcome
        assert failed.value == 0.0 and latency.value is not None and latency.value >= 0


def test_the_sane_mode_gives_numbers(hostile: HostileServer) -> None:
    """The same server and sources, behaving: proves the checks above can tell."""
    for kind in KINDS:
        last = polls(make(kind, hostile, "ok"))[-1]
        assert isinstance(last, list) and any(s.value is not None for s in last), (kind, last)


# -- answers that are not what was asked ----------------------------------------------------------

NOT_UNDERSTOOD = {
    ("prometheus_scrape", "html"): "not the Prometheus text format",
    ("prometheus_scrape", "nested"): "not the Prometheus text format",
    ("prometheus", "html"): "not a Prometheus API answer: '<!doctype html>",
    ("prometheus", "nested"): r"not a Prometheus API answer: '\[\[\[",
    ("json_endpoint", "html"): "not JSON: '<!doctype html>",
    ("json_endpoint", "nested"): "JSON nested too deep to read",
}


@pytest.mark.parametrize(("kind", "mode"), list(NOT_UNDERSTOOD))
def test_an_answer_in_another_format_fails_the_source_with_what_came(
    hostile: HostileServer, kind: str, mode: str
) -> None:
    (outcome,) = polls(make(kind, hostile, mode))
    raised(
        outcome, ProviderUnavailable, f"^GET {hostile.url}/{mode}/.*: {NOT_UNDERSTOOD[kind, mode]}"
    )


@pytest.mark.parametrize("mode", ["html", "nested"])
def test_a_health_page_that_is_not_healthy_fails_the_check(
    hostile: HostileServer, mode: str
) -> None:
    outcome = polls(make("http_health", hostile, mode))[0]
    assert errors(outcome) == {"health_latency_ms": "body lacks 'healthy'"}
    assert isinstance(outcome, list) and outcome[0].value == 1.0


# -- broken, huge, slow and silent answers ------------------------------------------------------

FAILURES = {
    "truncated": "broken answer: peer closed connection without sending complete message body",
    "huge": r"answer larger than \d+ MiB \(Content-Length 95.37 MiB\); raise max_body_bytes",
    "huge_chunked": r"answer larger than \d+ MiB; raise max_body_bytes",
    "gzip_bomb": r"answer larger than \d+ MiB; raise max_body_bytes",
    "trickle": "no complete answer within 1 s",
    "trickle_headers": "no complete answer within 1 s",
    "silent": "no complete answer within 1 s",
}
SLOW = {"trickle", "trickle_headers", "silent"}


@pytest.mark.parametrize("mode", list(FAILURES))
@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_huge_or_slow_answer_fails_in_time_and_in_bounded_memory(
    hostile: HostileServer, kind: str, mode: str
) -> None:
    source = make(kind, hostile, mode)
    cap = source.options.max_body_bytes  # type: ignore[attr-defined]
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        outcome = polls(source)[0]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < cap + 1 * MiB, f"held {(peak - before) / MiB:.1f} MiB"
    if kind == "http_health":  # a failed check is data, with the same reason
        assert isinstance(outcome, list) and outcome[0].value == 1.0
        assert re.search(FAILURES[mode], outcome[0].error), outcome[0].error
        return
    expected = ProviderTimeout if mode in SLOW else ProviderUnavailable
    raised(outcome, expected, f"^GET {hostile.url}/{mode}/.*: {FAILURES[mode]}")


def test_the_environments_proxy_is_used_and_the_deadline_holds_through_it(
    hostile: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", hostile.url)
    url = "http://metrics.invalid/trickle_headers/metrics"  # only the proxy can reach it
    (outcome,) = polls(ScrapeSource(ScrapeOptions(url=url, timeout_seconds=TIMEOUT)))
    raised(outcome, ProviderTimeout, f"^GET {url}: no complete answer within 1 s$")
    assert "http://metrics.invalid/trickle_headers/metrics" in hostile.requests


def test_the_body_cap_is_an_option(hostile: HostileServer) -> None:
    source = JsonSource(JsonOptions(url=f"{hostile.url}/ok/json", max_body_bytes=10))
    (outcome,) = polls(source)
    said = r"answer larger than 10 bytes \(Content-Length 24 bytes\); raise max_body_bytes$"
    raised(outcome, ProviderUnavailable, said)


# -- asked to wait -----------------------------------------------------------------------------

WAITS = {
    "rate_limited": (429, "rate limited", 30.0),
    "rate_limited_date": (429, "rate limited", 30.0),
    "rate_limited_garbled": (429, "rate limited", None),
    "unavailable": (503, "unavailable", 30.0),
}


@pytest.mark.parametrize("mode", list(WAITS))
@pytest.mark.parametrize("kind", ["prometheus_scrape", "prometheus", "json_endpoint"])
def test_a_rate_limit_is_raised_with_the_wait_it_asks(
    hostile: HostileServer, kind: str, mode: str
) -> None:
    status, meaning, wait = WAITS[mode]
    (outcome,) = polls(make(kind, hostile, mode))
    raised(outcome, RateLimited, f"^GET {hostile.url}/{mode}/.*: {meaning} \\({status}\\)$")
    assert isinstance(outcome, RateLimited)
    if wait is None:
        assert outcome.retry_after is None  # the poller waits one interval
    else:  # an HTTP date has whole seconds, and a second may pass on the way
        assert outcome.retry_after is not None and wait - 2 <= outcome.retry_after <= wait


def test_health_probe_backs_off_on_429_but_counts_a_503(hostile: HostileServer) -> None:
    (limited,) = polls(make("http_health", hostile, "rate_limited"))
    raised(limited, RateLimited, r"rate limited \(429\)$")
    assert isinstance(limited, RateLimited) and limited.retry_after == 30
    down = polls(make("http_health", hostile, "unavailable"))[0]
    assert errors(down) == {"health_latency_ms": "status 503, expected 200"}


def test_every_mode_is_covered() -> None:
    covered = set(SHOWN) | {"ok", "html", "nested"} | set(FAILURES) | set(WAITS)
    assert covered == set(MODES)
