"""Query a Prometheus server through its HTTP API: one instant query per cockpit metric.

Each sample() runs `GET /api/v1/query?query=<PromQL>&time=<clock now>` for every configured
metric; `range()` runs `GET /api/v1/query_range` so a backtest can replay rules over history.

How answers map to samples (the API envelope is `{"status", "data", "errorType", "error",
"warnings"}`, sample values are strings so "NaN" and "+Inf" can travel):

- a vector with one series, or a scalar: its value, times `scale`;
- an empty vector: value None, "query returned no series" (no traffic, a typo in a label);
- several series: value None, naming how many and asking the PromQL to aggregate (sum());
- "NaN" / "+Inf" / "-Inf": value None with the reason (usually a ratio over no requests);
- an error envelope about the query itself (400 bad_data such as a PromQL syntax error, 422
  execution, 503 timeout, 499 canceled): value None with the API's errorType and error text.
  Deliberately a per-metric error, not an exception: one mistyped query must not blank the other
  panes fed by the same server;
- warnings: kept next to the value in the sample's error, prefixed "warning:".

The whole source fails (ProviderUnavailable / ProviderTimeout naming the URL) when Prometheus
does not answer, answers something that is not the API (non-JSON, a proxy's 502, a 404 from a
wrong base URL, an answer over `max_body_bytes`), or says it is broken itself (errorType internal
/ unavailable); RateLimited when a proxy in front answers 429 (or 503 with Retry-After). One
sample() has one deadline, `timeout_seconds`, for all its queries together.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from cockpit.core.errors import ProviderError, ProviderUnavailable
from cockpit.core.metrics import Sample
from providers.http import NoValue, Query, QueryOptions, QuerySource, finite_sample
from providers.http_read import Deadline, MiB

# Error types about one query; every other one (internal, unavailable, unknown) means the server.
QUERY_ERROR_TYPES = frozenset({"bad_data", "execution", "timeout", "canceled", "not_acceptable"})

# Ask Prometheus to give up a little before the client does, so a heavy query comes back as a
# 503 "timeout" envelope for that metric instead of a client timeout that fails the whole source.
_SERVER_TIMEOUT_SHARE = 0.9


class PromQLError(ProviderError):
    """Prometheus refused or failed one query (bad PromQL, execution error, query timeout)."""

    title = "Prometheus query error"


class PromQuery(Query):
    """One cockpit metric computed by one PromQL expression."""

    query: str = Field(min_length=1)
    """An expression that yields one number: aggregate with sum() / max() / ... when needed."""
    scale: float = Field(default=1.0, allow_inf_nan=False)


class PrometheusOptions(QueryOptions):
    """`url` is the Prometheus base URL (http://host:9090, with any path prefix)."""

    metrics: list[PromQuery] = Field(default_factory=list)
    max_body_bytes: int = Field(default=2 * MiB, gt=0)
    """An instant query answers one series (~200 bytes); a range of 11,000 points, the most
    Prometheus gives, is about 0.4 MiB. More is a query that forgot its sum()."""


def parse_value(text: Any) -> float:
    """A sample value as the API writes it (a string); NoValue for NaN, infinities, garbage."""
    try:
        value = float(text)
    except (TypeError, ValueError) as exc:
        raise NoValue(f"not a number: {text!r}") from exc
    if math.isnan(value):
        raise NoValue("Prometheus returned NaN (a division by zero, e.g. no requests in range)")
    if math.isinf(value):
        sign = "+" if value > 0 else "-"
        raise NoValue(f"Prometheus returned {sign}Inf (a division by zero)")
    return value


def _many_series(count: int) -> str:
    return (
        f"query returned {count} series, expected one: "
        "aggregate them in the PromQL, e.g. with sum(...) or max(...)"
    )


def instant_value(data: Any) -> float:
    """The number an instant query's `data` holds; NoValue when there is not exactly one."""
    result_type = data.get("resultType") if isinstance(data, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
    if result_type == "scalar" and isinstance(result, list) and len(result) == 2:
        return parse_value(result[1])
    if result_type == "vector" and isinstance(result, list):
        if not result:
            raise NoValue("query returned no series")
        if len(result) > 1:
            raise NoValue(_many_series(len(result)))
        point = result[0].get("value") if isinstance(result[0], dict) else None
        if not (isinstance(point, list) and len(point) == 2):
            raise NoValue(f"malformed vector sample: {result[0]!r}")
        return parse_value(point[1])
    if result_type == "string":
        raise NoValue("query returned a string, not a number")
    raise NoValue(f"unexpected result type {result_type!r} for an instant query")


def _seconds(moment: datetime) -> str:
    """Unix seconds with milliseconds, the resolution Prometheus keeps."""
    return f"{moment.timestamp():.3f}"


class PrometheusSource(QuerySource):
    """Feeds cockpit metrics from PromQL instant queries against a Prometheus server."""

    name = "prometheus"
    title = "Prometheus"
    Options = PrometheusOptions

    def __init__(self, options: PrometheusOptions, **seams: Any) -> None:
        super().__init__(options, **seams)
        self.opts = options
        self.base_url = options.url.rstrip("/")

    def sample(self) -> list[Sample]:
        samples = []
        deadline = self.deadline()
        for query in self.opts.metrics:
            at = self.clock.now()
            params = {"query": query.query, "time": _seconds(at)}
            try:
                data, warnings = self._call("query", params, deadline)
                value: float | None = instant_value(data) * query.scale
                error = "; ".join(f"warning: {w}" for w in warnings)
            except (NoValue, PromQLError) as why:
                value, error = None, str(why)
            samples.append(finite_sample(query.name, value, at, self.name, error))
        return samples

    def query(self, promql: str, at: datetime | None = None) -> float:
        """One instant query at `at` (default: clock now); PromQLError when it yields no number."""
        moment = at or self.clock.now()
        data, _ = self._call("query", {"query": promql, "time": _seconds(moment)}, self.deadline())
        try:
            return instant_value(data)
        except NoValue as why:
            raise PromQLError(f"{promql}: {why}") from None

    def range(
        self, query: str, start: datetime, end: datetime, step: timedelta | float
    ) -> list[tuple[datetime, float | None]]:
        """The values of `query` at every step from `start` to `end` (both included).

        One entry per evaluation step, so a backtest sees gaps like the live poller sees no data:
        a step where Prometheus had no sample, or where the value is NaN/Inf, is None. The query
        must yield one series (aggregate with sum() otherwise); PromQLError when it yields
        several or Prometheus refuses it (end before start, step <= 0, over 11,000 points).
        """
        step_s = step.total_seconds() if isinstance(step, timedelta) else float(step)
        if not (math.isfinite(step_s) and step_s > 0):
            raise PromQLError(f"{query}: step must be a positive number of seconds, not {step_s}")
        params = {"query": query, "start": _seconds(start), "end": _seconds(end)}
        data, _ = self._call("query_range", {**params, "step": f"{step_s:g}"}, self.deadline())
        result = data.get("result") if isinstance(data, dict) else None
        if not (isinstance(data, dict) and data.get("resultType") == "matrix"):
            raise PromQLError(f"{query}: expected a matrix, got {data!r:.200}")
        if not isinstance(result, list):
            raise PromQLError(f"{query}: malformed matrix: {result!r:.200}")
        if len(result) > 1:
            raise PromQLError(f"{query}: {_many_series(len(result))}")
        found = _points(query, result[0]) if result else {}
        # Prometheus evaluates at start + k * step, in milliseconds; walk the same grid.
        start_ms, end_ms = round(start.timestamp() * 1000), round(end.timestamp() * 1000)
        step_ms = max(1, round(step_s * 1000))
        return [
            (datetime.fromtimestamp(t / 1000, UTC), found.get(t))
            for t in range(start_ms, end_ms + 1, step_ms)
        ]

    def _call(
        self, endpoint: str, params: dict[str, str], deadline: Deadline
    ) -> tuple[Any, list[str]]:
        """GET /api/v1/<endpoint>; returns (data, warnings), raises the ProviderError family."""
        url = f"{self.base_url}/api/v1/{endpoint}"
        left = max(0.01, round(deadline.remaining() * _SERVER_TIMEOUT_SHARE, 2))
        response = self.get(url, deadline, params={**params, "timeout": f"{left:g}"})
        status_line = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to read
            body = None
        if not (isinstance(body, dict) and body.get("status") in ("success", "error")):
            if response.status_code != 200:
                raise ProviderUnavailable(f"GET {url}: {status_line}")
            snippet = response.text[:80]
            raise ProviderUnavailable(f"GET {url}: not a Prometheus API answer: {snippet!r}")
        if body["status"] == "error":
            error_type = str(body.get("errorType", "unknown"))
            detail = f"{error_type}: {body.get('error', '')}".rstrip(": ")
            if error_type in QUERY_ERROR_TYPES:
                raise PromQLError(detail)
            raise ProviderUnavailable(f"GET {url}: {status_line}: {detail}")
        warnings = body.get("warnings") or []
        if not isinstance(warnings, list):
            warnings = [warnings]
        return body.get("data"), [str(w)[:500] for w in warnings]


def _points(query: str, series: Any) -> dict[int, float | None]:
    """A matrix series' values by millisecond; NaN, ±Inf and garbage values are None."""
    values = series.get("values") if isinstance(series, dict) else None
    if not isinstance(values, list):
        raise PromQLError(f"{query}: malformed matrix series: {series!r:.200}")
    found: dict[int, float | None] = {}
    for point in values:
        try:
            moment = float(point[0])
            if not math.isfinite(moment):
                raise ValueError(moment)
        except (TypeError, ValueError, IndexError, KeyError):
            raise PromQLError(f"{query}: malformed matrix point: {point!r:.100}") from None
        try:
            value: float | None = parse_value(point[1])
        except (NoValue, IndexError, KeyError):
            value = None
        found[round(moment * 1000)] = value
    return found
