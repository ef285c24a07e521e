"""Scrape a /metrics endpoint directly, for jump hosts that cannot reach a Prometheus server.

Each sample() is one GET of the Prometheus text format, parsed with prometheus_client's parser.
Configured queries turn the families into cockpit metrics:

- gauge: the value (summed over matching series);
- rate: per-second increase since the previous scrape, by the injected clock;
- ratio: increase of a numerator over increase of a denominator (a ratio of rates);
- histogram_quantile: Prometheus' estimate from the bucket increases since the previous scrape.

Counters are handled series by series like Prometheus does: a value that went down is a restart,
so the increase is the new value. A metric that cannot be computed (first scrape, absent series,
no traffic) comes back as a Sample with value None and the reason; only the source being down
(refused, timeout, HTTP error, garbage, an answer over `max_body_bytes`) raises.

The text format carries NaN and ±Inf (and 1e999 parses as +Inf). None of them is ever a value:
a series that is not finite makes its metric no data naming the series ("http_errors_total is
+Inf", "rate over NaN counter requests_total"), and so does a result that overflows after scale.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Literal, Self

from prometheus_client.parser import text_string_to_metric_families
from pydantic import Field, model_validator

from cockpit.core.errors import ProviderUnavailable
from cockpit.core.metrics import Sample
from providers.http import (
    NoValue,
    Query,
    QueryOptions,
    QuerySource,
    finite_sample,
    show,
)
from providers.http_read import MiB

SeriesKey = tuple[tuple[str, str], ...]
Snapshot = dict[str, dict[SeriesKey, float]]
"""Sample name -> series labels -> value, as read in one scrape."""


class MetricQuery(Query):
    """How one cockpit metric is computed from the scraped families."""

    kind: Literal["gauge", "rate", "ratio", "histogram_quantile"]
    family: str
    labels: dict[str, str] = Field(default_factory=dict)
    """Exact label matchers; every series matching them is summed (empty = all series)."""
    denominator_family: str | None = None
    denominator_labels: dict[str, str] = Field(default_factory=dict)
    quantile: float | None = Field(default=None, ge=0.0, le=1.0)
    scale: float = Field(default=1.0, allow_inf_nan=False)
    invert: bool = False
    """Report 1 - value (before scaling): turns an `_up` gauge into a failure flag."""

    def families(self) -> set[str]:
        """The sample names this query may read, as the exposition spells them."""
        names = {self.family, f"{self.family}_bucket"}
        if self.denominator_family:
            names.add(self.denominator_family)
        return names | {f"{name}_total" for name in names}

    @model_validator(mode="after")
    def _check_kind(self) -> Self:
        if self.kind == "ratio" and not self.denominator_family:
            raise ValueError("a ratio needs denominator_family")
        if self.kind == "histogram_quantile" and self.quantile is None:
            raise ValueError("histogram_quantile needs quantile (e.g. 0.95)")
        return self


class ScrapeOptions(QueryOptions):
    """The endpoint and the queries to run against each scrape."""

    metrics: list[MetricQuery] = Field(default_factory=list)
    max_body_bytes: int = Field(default=4 * MiB, gt=0)
    """A busy service's /metrics is 0.1 to 1 MiB (node_exporter about 0.3 MiB); 4 MiB leaves room
    and still parses in well under a second. More is a misdirected URL or a cardinality bomb."""


def series_text(name: str, labels: Mapping[str, str]) -> str:
    """`name{k="v",...}` as PromQL writes a selector."""
    if not labels:
        return name
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def parse_snapshot(text: str, wanted: Collection[str] | None = None) -> Snapshot:
    """Index the samples of a text exposition by name and labels; ValueError when malformed.

    Only the sample names in `wanted` are kept (all when None): a large exposition costs its
    parse, not its memory, and the previous scrape kept for rates stays small.
    """
    snapshot: Snapshot = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if wanted is not None and sample.name not in wanted:
                continue
            key: SeriesKey = tuple(sorted(sample.labels.items()))
            snapshot.setdefault(sample.name, {})[key] = float(sample.value)
    return snapshot


def _matching(
    snapshot: Snapshot, name: str, labels: Mapping[str, str]
) -> tuple[str, dict[SeriesKey, float]]:
    """The sample name found and its series matching `labels`; NoValue when there are none."""
    # Accept the family name with or without the counter suffix, as people write both.
    for candidate in (name, f"{name}_total"):
        series = snapshot.get(candidate)
        if series:
            found = {
                key: value
                for key, value in series.items()
                if all(dict(key).get(k) == v for k, v in labels.items())
            }
            if found:
                return candidate, found
    raise NoValue(f"no series {series_text(name, labels)}")


def _finite(
    name: str, series: Mapping[SeriesKey, float], over: str = "", *, earlier: bool = False
) -> None:
    """NoValue naming the first series whose value is NaN or infinite.

    `over` words a computation: "rate over {} counter" gives "rate over NaN counter x_total".
    """
    for key, value in series.items():
        if not math.isfinite(value):
            where = series_text(name, dict(key))
            said = f"{over.format(show(value))} {where}" if over else f"{where} is {show(value)}"
            raise NoValue(f"{said} in the previous scrape" if earlier else said)


def increase(previous: Mapping[SeriesKey, float], current: Mapping[SeriesKey, float]) -> float:
    """Summed increase of counters between two scrapes, resets handled like Prometheus.

    Series absent from the previous scrape are left out: their earlier value is unknown.
    """
    total = 0.0
    for key, now in current.items():
        before = previous.get(key)
        if before is None:
            continue
        total += now - before if now >= before else now
    return total


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """Prometheus' histogram_quantile over (upper bound, cumulative count) pairs.

    Linear interpolation inside the bucket holding the rank; the lowest bucket starts at 0; a
    rank in the +Inf bucket answers the highest finite bound. NaN when there is nothing to rank.
    """
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets)
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]):
        return math.nan
    # Counts must not decrease with the bound; scrapes can race observations, so flatten.
    counts: list[float] = []
    for _, count in ordered:
        counts.append(max(count, counts[-1]) if counts else count)
    observations = counts[-1]
    if observations <= 0:
        return math.nan
    rank = q * observations
    b = next(i for i, count in enumerate(counts) if count >= rank)
    if b == len(ordered) - 1:
        return ordered[-2][0]
    if b == 0 and ordered[0][0] <= 0:
        return ordered[0][0]
    start = 0.0 if b == 0 else ordered[b - 1][0]
    end = ordered[b][0]
    below = 0.0 if b == 0 else counts[b - 1]
    in_bucket = counts[b] - below
    if in_bucket <= 0:
        return end
    return start + (end - start) * ((rank - below) / in_bucket)


class ScrapeSource(QuerySource):
    """Reads a Prometheus text endpoint and computes the configured cockpit metrics."""

    name = "prometheus_scrape"
    title = "Prometheus /metrics scrape"
    Options = ScrapeOptions

    def __init__(self, options: ScrapeOptions, **seams: Any) -> None:
        super().__init__(options, **seams)
        self.opts = options
        self._previous: Snapshot | None = None
        self._previous_at = 0.0

    def scrape(self) -> Snapshot:
        """One GET and parse; raises ProviderUnavailable / ProviderTimeout / RateLimited."""
        url = self.opts.url
        response = self.get(url, self.deadline())
        if response.status_code != 200:
            raise ProviderUnavailable(
                f"GET {url}: HTTP {response.status_code} {response.reason_phrase}".rstrip()
            )
        wanted = {name for query in self.opts.metrics for name in query.families()}
        try:
            return parse_snapshot(response.text, wanted)
        except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
            raise ProviderUnavailable(f"GET {url}: not the Prometheus text format: {exc}") from exc

    def sample(self) -> list[Sample]:
        current = self.scrape()
        now_mono = self.clock.monotonic()
        at = self.clock.now()
        previous = self._previous
        elapsed = now_mono - self._previous_at
        samples = []
        for query in self.opts.metrics:
            try:
                value = self._evaluate(query, current, previous, elapsed)
            except NoValue as why:
                samples.append(Sample(query.name, None, at, self.name, str(why)))
                continue
            if query.invert:
                value = 1.0 - value
            samples.append(finite_sample(query.name, value * query.scale, at, self.name))
        self._previous, self._previous_at = current, now_mono
        return samples

    def _evaluate(
        self, query: MetricQuery, current: Snapshot, previous: Snapshot | None, elapsed: float
    ) -> float:
        if query.kind == "gauge":
            name, series = _matching(current, query.family, query.labels)
            _finite(name, series, "")
            return sum(series.values())
        if query.kind == "histogram_quantile":
            return self._quantile(query, current, previous)
        what = f"{query.kind} over {{}} counter"
        name, numerator = _matching(current, query.family, query.labels)
        if previous is None:
            raise NoValue("first scrape: a rate needs two")
        before = _previous_of(previous, query.family, query.labels)
        _finite(name, numerator, what)
        _finite(name, _kept(before, numerator), what, earlier=True)
        top = increase(before, numerator)
        if query.kind == "rate":
            if elapsed <= 0:
                raise NoValue("no time elapsed since last scrape")
            return top / elapsed
        assert query.denominator_family is not None  # the validator guarantees it
        name, denominator = _matching(current, query.denominator_family, query.denominator_labels)
        before = _previous_of(previous, query.denominator_family, query.denominator_labels)
        _finite(name, denominator, what)
        _finite(name, _kept(before, denominator), what, earlier=True)
        bottom = increase(before, denominator)
        if bottom <= 0:
            raise NoValue("no requests since last scrape")
        return top / bottom

    def _quantile(self, query: MetricQuery, current: Snapshot, previous: Snapshot | None) -> float:
        bucket_name = f"{query.family}_bucket"
        name, now = _matching(current, bucket_name, query.labels)
        if previous is None:
            raise NoValue("first scrape: a rate needs two")
        before = _previous_of(previous, bucket_name, query.labels)
        _finite(name, now, "quantile over {} bucket")
        _finite(name, _kept(before, now), "quantile over {} bucket", earlier=True)
        # Series are increased one by one (a restart resets each), then summed per bound.
        per_bound: dict[float, float] = {}
        for key, value in now.items():
            labels = dict(key)
            if "le" not in labels:
                continue
            bound = _bound(labels["le"], series_text(name, labels))
            per_bound[bound] = per_bound.get(bound, 0.0) + increase(before, {key: value})
        assert query.quantile is not None  # the validator guarantees it
        result = histogram_quantile(query.quantile, per_bound.items())
        if math.isnan(result):
            if per_bound.get(math.inf, 0.0) <= 0:
                raise NoValue("no observations since last scrape")
            raise NoValue(f'{series_text(bucket_name, query.labels)} lacks an le="+Inf" bucket')
        return result


def _bound(le: str, where: str) -> float:
    """A bucket's upper bound; NoValue for one that is not a number, NaN or -Inf."""
    try:
        bound = float(le)
    except ValueError:
        raise NoValue(f"{where}: le={le!r} is not a number") from None
    if math.isnan(bound) or bound == -math.inf:
        raise NoValue(f"{where}: le={le!r} is not a bucket bound")
    return bound


def _kept(
    previous: Mapping[SeriesKey, float], current: Mapping[SeriesKey, float]
) -> dict[SeriesKey, float]:
    """The previous values of the series still present: the ones an increase uses."""
    return {key: value for key, value in previous.items() if key in current}


def _previous_of(
    previous: Snapshot, name: str, labels: Mapping[str, str]
) -> dict[SeriesKey, float]:
    try:
        return _matching(previous, name, labels)[1]
    except NoValue:
        return {}
