"""The Prometheus API source against a real Prometheus 2.42 scraping the demo service, and its
envelope handling on canned answers.

Decision tested here: a query Prometheus refuses (bad PromQL → 400 bad_data, 422 execution, 503
query timeout) is that metric's Sample error carrying the API's errorType and error text, so the
other metrics of the same server keep their values; `query()` and `range()` (one query each)
raise PromQLError with the same text instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import prometheus_server
import pytest
from prometheus_server import (
    BACKFILL_RATIOS,
    BACKFILL_STEP,
    PrometheusDemo,
    PrometheusServer,
)
from pydantic import ValidationError

from cockpit.core.clock import FixedClock, SystemClock
from cockpit.core.errors import ProviderTimeout, ProviderUnavailable
from cockpit.core.metrics import Sample
from providers.prometheus.api import (
    PrometheusOptions,
    PrometheusSource,
    PromQLError,
    PromQuery,
)
from providers.registry import load_provider

# The shared fixtures, by name (a plain assignment: pytest finds them, ruff sees no unused import).
prometheus_demo = prometheus_server.prometheus_demo
prometheus_bare = prometheus_server.prometheus_bare

REQUESTS = 'http_requests_total{job="demo"}'
ERRORS = 'http_requests_total{job="demo",status="500"}'
ERROR_RATE = f"sum(rate({ERRORS}[5s])) / sum(rate({REQUESTS}[5s])) * 100"


def source_for(base_url: str, **queries: str) -> PrometheusSource:
    metrics = [PromQuery(name=name, query=query) for name, query in queries.items()]
    return PrometheusSource(
        PrometheusOptions(url=base_url, metrics=metrics, timeout_seconds=5.0), clock=SystemClock()
    )


def sample_all(base_url: str, **queries: str) -> dict[str, Sample]:
    source = source_for(base_url, **queries)
    try:
        return {s.metric: s for s in source.sample()}
    finally:
        source.close()


# -- against a real Prometheus -------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_rate_over_the_demo_service_is_a_number(prometheus_demo: PrometheusDemo) -> None:
    samples = sample_all(
        prometheus_demo.base_url,
        rate=f"sum(rate({REQUESTS}[5s]))",
        irate=f"sum(irate({REQUESTS}[5s]))",
    )
    for sample in samples.values():
        assert (sample.error, sample.source) == ("", "prometheus")
        assert sample.value is not None and sample.value > 0
    # The demo serves 200 virtual requests per second. irate() takes the last two scrapes, so it
    # is exact from the second scrape on; rate() divides by the whole 5 s window, and reads low
    # until the series is 5 s old (Prometheus only extrapolates half an interval past the data).
    assert samples["irate"].value == pytest.approx(200.0, rel=0.05)


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_error_rate_expression_gives_the_demo_ratio(prometheus_demo: PrometheusDemo) -> None:
    samples = sample_all(prometheus_demo.base_url, error_rate=ERROR_RATE)
    # Healthy demo: exactly 0.4 % of requests fail; both series share scrape times, so rate()'s
    # extrapolation cancels out of the ratio.
    assert samples["error_rate"].value == pytest.approx(0.4, rel=1e-3)

    scaled = PrometheusSource(
        PrometheusOptions(
            url=prometheus_demo.base_url,
            metrics=[PromQuery(name="pct", query=ERROR_RATE.removesuffix(" * 100"), scale=100)],
        )
    )
    try:
        (pct,) = scaled.sample()
    finally:
        scaled.close()
    assert pct.value == pytest.approx(0.4, rel=1e-3)


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_bad_promql_is_the_metrics_error_with_the_api_text(
    prometheus_demo: PrometheusDemo,
) -> None:
    samples = sample_all(
        prometheus_demo.base_url,
        rps=f"sum(rate({REQUESTS}[5s]))",
        typo=f"sum(rate({REQUESTS}[5s])",
        no_unit=f"rate({REQUESTS}[5])",
    )
    assert samples["rps"].value is not None  # the same server's other metrics keep going
    assert samples["typo"].value is None
    assert samples["typo"].error.startswith('bad_data: invalid parameter "query": ')
    assert "parse error" in samples["typo"].error
    assert samples["no_unit"].error == (
        'bad_data: invalid parameter "query": 1:38: parse error: missing unit character in duration'
    )
    source = source_for(prometheus_demo.base_url)
    with pytest.raises(PromQLError, match=r"^bad_data: .*parse error"):
        source.query(f"sum(rate({REQUESTS}[5s])")
    source.close()


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_execution_error_is_the_metrics_error(prometheus_demo: PrometheusDemo) -> None:
    samples = sample_all(
        prometheus_demo.base_url, clash=f"{REQUESTS} / on() group_left() {REQUESTS}"
    )
    assert samples["clash"].value is None
    assert samples["clash"].error.startswith("execution: found duplicate series")


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_several_series_ask_to_aggregate(prometheus_demo: PrometheusDemo) -> None:
    samples = sample_all(prometheus_demo.base_url, raw=REQUESTS)
    assert samples["raw"].value is None
    assert samples["raw"].error == (
        "query returned 2 series, expected one: "
        "aggregate them in the PromQL, e.g. with sum(...) or max(...)"
    )


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_no_series_and_nan_are_explained(prometheus_demo: PrometheusDemo) -> None:
    samples = sample_all(
        prometheus_demo.base_url,
        teapots='http_requests_total{status="418"}',
        nan=f"sum(rate({REQUESTS}[5s])) * 0 / 0",
        inf=f"sum(rate({REQUESTS}[5s])) / 0",
        up='up{job="demo"}',
    )
    assert (samples["teapots"].value, samples["teapots"].error) == (
        None,
        "query returned no series",
    )
    assert samples["nan"].value is None
    assert samples["nan"].error.startswith("Prometheus returned NaN")
    assert samples["inf"].value is None
    assert samples["inf"].error == "Prometheus returned +Inf (a division by zero)"
    assert samples["up"].value == 1.0


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_instant_queries_are_at_the_clocks_time(prometheus_demo: PrometheusDemo) -> None:
    # A clock set before any data: Prometheus evaluates there, so nothing is found.
    source = PrometheusSource(
        PrometheusOptions(
            url=prometheus_demo.base_url, metrics=[PromQuery(name="up", query='up{job="demo"}')]
        ),
        clock=FixedClock(datetime(2020, 1, 1, tzinfo=UTC)),
    )
    try:
        (up,) = source.sample()
    finally:
        source.close()
    assert (up.value, up.error, up.at) == (
        None,
        "query returned no series",
        datetime(2020, 1, 1, tzinfo=UTC),
    )


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_range_returns_the_backfilled_values(prometheus_demo: PrometheusDemo) -> None:
    history = prometheus_demo.history
    source = source_for(prometheus_demo.base_url)
    step = timedelta(seconds=BACKFILL_STEP)
    start = datetime.fromtimestamp(history.start, UTC)
    end = datetime.fromtimestamp(history.end, UTC)
    try:
        points = source.range(
            'backfill_error_ratio_percent{service="api"}', start - 2 * step, end, step
        )
        summed = source.range("sum(backfill_replicas)", start, end, BACKFILL_STEP)
        with pytest.raises(PromQLError, match="returned 2 series, expected one: aggregate"):
            source.range("backfill_replicas", start, end, step)
        with pytest.raises(PromQLError, match="end timestamp must not be before start time"):
            source.range("sum(backfill_replicas)", end, start, step)
    finally:
        source.close()
    expected_times = [start + step * (i - 2) for i in range(len(BACKFILL_RATIOS) + 2)]
    assert [at for at, _ in points] == expected_times
    # Two steps before the history starts are gaps; the backfilled NaN is no value either.
    expected = [None, None] + [None if math.isnan(v) else v for v in BACKFILL_RATIOS]
    assert [value for _, value in points] == expected
    assert [value for _, value in summed] == [5.0] * len(BACKFILL_RATIOS)


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_stopped_prometheus_is_unavailable_naming_the_url(
    prometheus_bare: PrometheusServer,
) -> None:
    base_url = prometheus_bare.base_url
    source = source_for(base_url, up="up")
    assert source.sample()[0].error == "query returned no series"  # up, with nothing to scrape
    assert prometheus_bare.stop() < 5.0
    try:
        with pytest.raises(ProviderUnavailable) as raised:
            source.sample()
        assert str(raised.value) == f"GET {base_url}/api/v1/query: connection refused"
        now = datetime.now(UTC)
        with pytest.raises(ProviderUnavailable, match="query_range: connection refused"):
            source.range("up", now - timedelta(minutes=1), now, 15)
    finally:
        source.close()


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_prometheus_start_up_timings(prometheus_demo: PrometheusDemo) -> None:
    timings = prometheus_demo.timings
    print("prometheus timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    assert timings["ready"] < 10
    assert timings["first_sample"] < 15


# -- envelope handling on canned answers ---------------------------------------------------------


class Canned:
    """A MockTransport answering each request with the next (status, body); keeps the requests."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, body = self.answers.pop(0)
        if isinstance(body, Exception):
            raise body
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)


def vector(*values: str) -> dict[str, Any]:
    result = [{"metric": {"i": str(i)}, "value": [1.0, v]} for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def error(error_type: str, text: str) -> dict[str, Any]:
    return {"status": "error", "errorType": error_type, "error": text}


@pytest.fixture
def canned_source(clock: FixedClock) -> Iterator[tuple[Canned, PrometheusSource]]:
    canned = Canned()
    source = PrometheusSource(
        PrometheusOptions(
            url="http://prom.example:9090/prefix/",
            metrics=[PromQuery(name="m", query="sum(x)", scale=100)],
        ),
        clock=clock,
        transport=httpx.MockTransport(canned),
    )
    yield canned, source
    source.close()


def one(canned_source: tuple[Canned, PrometheusSource], status: int, body: Any) -> Sample:
    canned, source = canned_source
    canned.answers.append((status, body))
    (sample,) = source.sample()
    return sample


def test_request_is_an_instant_query_at_the_clock(
    canned_source: tuple[Canned, PrometheusSource], clock: FixedClock
) -> None:
    sample = one(canned_source, 200, vector("0.05"))
    assert (sample.value, sample.error, sample.at) == (5.0, "", clock.now())
    request = canned_source[0].requests[0]
    assert request.method == "GET"
    assert request.url.path == "/prefix/api/v1/query"
    assert dict(request.url.params) == {
        "query": "sum(x)",
        "time": f"{clock.now().timestamp():.3f}",
        "timeout": "1.8",  # Prometheus gives up just before the client's 2 s
    }


def test_scalar_result(canned_source: tuple[Canned, PrometheusSource]) -> None:
    body = {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "2.5"]}}
    assert one(canned_source, 200, body).value == 250.0


AGGREGATE = "aggregate them in the PromQL, e.g. with sum(...) or max(...)"
STRING = {"status": "success", "data": {"resultType": "string", "result": [1, "a"]}}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, error("bad_data", "bad query"), "bad_data: bad query"),
        (422, error("execution", "many-to-many"), "execution: many-to-many"),
        (503, error("timeout", "query timed out"), "timeout: query timed out"),
        (499, error("canceled", "query canceled"), "canceled: query canceled"),
        (200, vector(), "query returned no series"),
        (200, vector("1", "2", "3"), f"query returned 3 series, expected one: {AGGREGATE}"),
        (
            200,
            vector("NaN"),
            "Prometheus returned NaN (a division by zero, e.g. no requests in range)",
        ),
        (200, vector("+Inf"), "Prometheus returned +Inf (a division by zero)"),
        (200, vector("-Inf"), "Prometheus returned -Inf (a division by zero)"),
        (200, STRING, "query returned a string, not a number"),
    ],
)
def test_answers_without_a_number_are_the_metrics_error(
    canned_source: tuple[Canned, PrometheusSource], status: int, body: Any, expected: str
) -> None:
    sample = one(canned_source, status, body)
    assert (sample.value, sample.error) == (None, expected)


def test_warnings_keep_the_value(canned_source: tuple[Canned, PrometheusSource]) -> None:
    body = {**vector("0.1"), "warnings": ["PromQL info: metric might not be a counter"]}
    sample = one(canned_source, 200, body)
    assert sample.value == pytest.approx(10.0)
    assert sample.error == "warning: PromQL info: metric might not be a counter"


URL = "http://prom.example:9090/prefix/api/v1/query"


NOT_API = f"GET {URL}: not a Prometheus API answer:"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            500,
            error("internal", "boom"),
            f"GET {URL}: HTTP 500 Internal Server Error: internal: boom",
        ),
        (
            503,
            error("unavailable", "not ready"),
            f"GET {URL}: HTTP 503 Service Unavailable: unavailable: not ready",
        ),
        (502, "<html>bad gateway</html>", f"GET {URL}: HTTP 502 Bad Gateway"),
        (404, "404 page not found", f"GET {URL}: HTTP 404 Not Found"),
        (200, "<html>Grafana</html>", f"{NOT_API} '<html>Grafana</html>'"),
        (200, {"hello": "world"}, f"""{NOT_API} '{{"hello":"world"}}'"""),
    ],
)
def test_server_failures_fail_the_whole_source(
    canned_source: tuple[Canned, PrometheusSource], status: int, body: Any, message: str
) -> None:
    with pytest.raises(ProviderUnavailable) as raised:
        one(canned_source, status, body)
    assert str(raised.value) == message


def test_client_timeout_is_provider_timeout(
    canned_source: tuple[Canned, PrometheusSource],
) -> None:
    with pytest.raises(ProviderTimeout) as raised:
        one(canned_source, 0, httpx.ReadTimeout("slow"))
    assert str(raised.value) == f"GET {URL}: no complete answer within 2 s"


def test_range_walks_the_step_grid(canned_source: tuple[Canned, PrometheusSource]) -> None:
    canned, source = canned_source
    t0 = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
    base = t0.timestamp()
    values = [[base, "1"], [base + 20, "NaN"], [base + 30, "4"]]
    matrix = {"resultType": "matrix", "result": [{"metric": {}, "values": values}]}
    canned.answers.append((200, {"status": "success", "data": matrix}))
    points = source.range("sum(x)", t0, t0 + timedelta(seconds=30), timedelta(seconds=10))
    assert points == [
        (t0, 1.0),
        (t0 + timedelta(seconds=10), None),  # a gap
        (t0 + timedelta(seconds=20), None),  # NaN
        (t0 + timedelta(seconds=30), 4.0),
    ]
    params = dict(canned.requests[0].url.params)
    assert canned.requests[0].url.path == "/prefix/api/v1/query_range"
    assert (params["start"], params["end"], params["step"]) == (
        f"{base:.3f}",
        f"{base + 30:.3f}",
        "10",
    )


def test_range_errors_raise(canned_source: tuple[Canned, PrometheusSource]) -> None:
    canned, source = canned_source
    t0 = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
    canned.answers.append((400, error("bad_data", "exceeded maximum resolution of 11,000 points")))
    with pytest.raises(PromQLError, match=r"^bad_data: exceeded maximum resolution"):
        source.range("x", t0, t0 + timedelta(days=30), 1)
    canned.answers.append(
        (200, {"status": "success", "data": {"resultType": "matrix", "result": []}})
    )
    assert source.range("x", t0, t0 + timedelta(seconds=2), 1) == [
        (t0 + timedelta(seconds=s), None) for s in range(3)
    ]


def test_options_are_validated() -> None:
    with pytest.raises(ValidationError, match="unique: a"):
        PrometheusOptions(
            url="http://p:9090",
            metrics=[PromQuery(name="a", query="x"), PromQuery(name="a", query="y")],
        )
    with pytest.raises(ValidationError, match="extra"):
        PromQuery.model_validate({"name": "a", "query": "x", "scal": 100})
    with pytest.raises(ValidationError):
        PromQuery(name="a", query="")


def test_registered_as_prometheus() -> None:
    assert load_provider("prometheus") is PrometheusSource
    source = PrometheusSource(
        PrometheusOptions(url="http://p:9090", metrics=[PromQuery(name="a", query="x")])
    )
    assert source.metric_names == ["a"]
    source.close()
