"""Bad answers from a source never crash it and never become a number: a reason, every time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from local_http import Canned

from cockpit.core.errors import ProviderError
from providers.json_endpoint import JsonOptions, JsonQuery, JsonSource
from providers.prometheus.api import PrometheusOptions, PrometheusSource, PromQuery


@pytest.fixture
def canned() -> Iterator[Canned]:
    server = Canned()
    yield server
    server.stop()


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
