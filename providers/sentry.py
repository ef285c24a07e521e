"""Read a procedure's metrics out of Sentry: error events, new issues, crash-free sessions.

Each configured metric is one `kind` of reading (provider_apis_2.md §11), named as the
procedure names it:

- `error_events`: error events in the latest complete interval, from `events-timeseries`
  (`dataset=errors`, ms timestamps, the bucket still filling marked `incomplete`) or, for an
  older self-hosted Sentry without it, `events-stats` (`errors_endpoint`; it marks no bucket
  incomplete, so the newest one ended by the clock's now counts). `stats_v2` is not offered: its
  interval is an hour at least and it has no `environment`, too coarse for a rollback trigger.
- `new_issues`: how many issues were first seen in `release` (`firstRelease:`; `latest` is what
  Sentry calls the newest release) within `period`.
- `issue_count`: how many issues a search finds, e.g. `is:unresolved level:fatal firstSeen:-1h`
  for "user-reported critical bugs per hour"; issue lists are paged (`Link`, `cursor`) and
  followed up to `max_pages`. (A team whose bug reports live elsewhere uses `json_endpoint`.)
- `crash_free_rate`: release health from `sessions` (`field=crash_free_rate(session)`), a
  fraction Sentry gives between 0 and 1; `scale: 100` makes it a percentage.

The token is a secret from the environment or a file (`token = { env = "SENTRY_TOKEN" }`), sent as
`Authorization: Bearer`, and removed literally from every text this source produces. The
project's numeric id, which `issues` and `sessions` take, is looked up once from its slug.

Failures: a refused token (401/403), a gone organisation or project (404), a server error or an
answer that is not Sentry's (not JSON, not the documented shape) fail the whole source, so the
cockpit records source.failed with the reason and recovers on the next good poll. A 429 raises
RateLimited with the wait Sentry asks for: Retry-After if a proxy sends one, else the
`X-Sentry-Rate-Limit-Reset` epoch, so the poller skips polls rather than blocking. A 400 about one
metric's query (a bad search) is that metric's error only. A negative count or a rate outside
0..1 is no data, never a value.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

import httpx
from pydantic import Field

from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable, RateLimited
from cockpit.core.metrics import Sample
from cockpit.core.redact import REDACTED, scrub
from providers.api import Secret
from providers.http import (
    NoValue,
    Query,
    QueryOptions,
    QuerySource,
    finite_sample,
    http_failure_reason,
)
from providers.http_read import MAX_RETRY_AFTER, Deadline, MiB, read, retry_after_seconds

Kind = Literal["error_events", "new_issues", "issue_count", "crash_free_rate"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DEFAULT_PERIOD = {
    "error_events": "1h",
    "new_issues": "14d",
    "issue_count": "24h",
    "crash_free_rate": "24h",
}


def period_seconds(text: str) -> int:
    """Seconds in a Sentry period ("1m", "24h"); ValueError when it is not one."""
    number, unit = text[:-1], text[-1:]
    if not number.isdigit() or unit not in _UNITS or int(number) <= 0:
        raise ValueError(f"{text!r} is not a period like 1m, 1h or 14d")
    return int(number) * _UNITS[unit]


class SentryMetric(Query):
    """One cockpit metric read from Sentry."""

    kind: Kind
    environment: str | None = None
    query: str = ""
    """A Sentry search added to the kind's own: `release:1.2.3` for error events, the whole
    search for issue_count (`is:unresolved level:fatal`)."""
    release: str = "latest"
    """For new_issues: the release whose new issues are counted."""
    interval: str = "1m"
    """For error_events: the bucket counted."""
    period: str | None = None
    """`statsPeriod`: how far back to look; by default 1h, 14d, 24h, 24h for the four kinds."""
    field: str = "crash_free_rate(session)"
    """For crash_free_rate: the sessions field (crash_free_rate(user), crash_rate(session))."""
    scale: float = Field(default=1.0, allow_inf_nan=False)


class SentryOptions(QueryOptions):
    """`url` is Sentry's base URL: https://sentry.io, a regional host or a self-hosted one."""

    url: str = "https://sentry.io"
    token: Secret
    organization: str = Field(min_length=1)
    project: str = Field(min_length=1)
    """The project's slug."""
    project_id: int | None = None
    """Its numeric id; looked up from the slug when not given."""
    errors_endpoint: Literal["events-timeseries", "events-stats"] = "events-timeseries"
    metrics: list[SentryMetric] = Field(default_factory=list)
    timeout_seconds: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    max_body_bytes: int = Field(default=2 * MiB, gt=0)
    """A page of 100 issues with their stats is about 200 KiB."""
    max_pages: int = Field(default=10, ge=1)
    """Issue lists are followed this many pages (of 100) at most; past it the count is a floor."""


class QueryRefused(NoValue):
    """Sentry refused one metric's query (400): that metric's error, not the source's."""


class SentrySource(QuerySource):
    """Feeds cockpit metrics from Sentry's organisation endpoints."""

    name = "sentry"
    title = "Sentry"
    Options = SentryOptions

    def __init__(self, options: SentryOptions, **seams: Any) -> None:
        super().__init__(options, **seams)
        self.opts = options
        self.base_url = options.url.rstrip("/")
        self._token = options.token.get_secret_value()
        self._project_id = options.project_id

    # -- sampling -----------------------------------------------------------------------------

    def sample(self) -> list[Sample]:
        deadline = self.deadline()
        samples = []
        for metric in self.opts.metrics:
            at = self.clock.now()
            try:
                value: float | None = self.read_metric(metric, deadline) * metric.scale
                error = ""
            except PartialCount as partial:
                value, error = partial.count * metric.scale, str(partial)
            except NoValue as why:
                value, error = None, self.clean(str(why))
            except ProviderError as failed:
                # Sentry's texts and bodies go into the reason; none may carry the token.
                failed.args = (self.clean(str(failed)), *failed.args[1:])
                raise
            samples.append(finite_sample(metric.name, value, at, self.name, error))
        return samples

    def read_metric(self, metric: SentryMetric, deadline: Deadline) -> float:
        """The metric's number; NoValue when there is none, ProviderError when Sentry fails."""
        period = metric.period or _DEFAULT_PERIOD[metric.kind]
        params: dict[str, str] = {"statsPeriod": period}
        if metric.environment:
            params["environment"] = metric.environment
        if metric.kind == "error_events":
            value = self._error_events(metric, params, deadline)
        elif metric.kind == "crash_free_rate":
            value = self._crash_free(metric, params, deadline)
        else:
            search = metric.query
            if metric.kind == "new_issues":
                search = f"firstRelease:{metric.release} {metric.query}".strip()
            value = self._issue_count(search, params, deadline)
        if value < 0:
            raise NoValue(f"Sentry gave a negative {metric.kind} ({value:g})")
        return value

    def _error_events(
        self, metric: SentryMetric, params: dict[str, str], deadline: Deadline
    ) -> float:
        query = f"event.type:error {metric.query}".strip()
        params = {**params, "project": self.opts.project, "query": query}
        seconds = _period(metric.interval)
        if self.opts.errors_endpoint == "events-stats":
            body = self._get("events-stats", {**params, "interval": metric.interval}, deadline)
            return _last_complete_stat(body, seconds, self.clock.now().timestamp())
        body = self._get(
            "events-timeseries",
            {**params, "dataset": "errors", "interval": str(seconds), "yAxis": "count()"},
            deadline,
        )
        return _last_complete_point(body)

    def _crash_free(
        self, metric: SentryMetric, params: dict[str, str], deadline: Deadline
    ) -> float:
        project = str(self._project(deadline))
        asked = {**params, "project": project, "field": metric.field, "includeSeries": "0"}
        if metric.query:
            asked["query"] = metric.query
        body = self._get("sessions", asked, deadline)
        try:
            value = body["groups"][0]["totals"][metric.field] if body["groups"] else None
        except (KeyError, IndexError, TypeError):
            raise Malformed(f"sessions: not the documented shape: {_brief(body)}") from None
        if value is None:
            raise NoValue(f"no sessions in the last {params['statsPeriod']}")
        number = _number(value, "sessions")
        if not 0.0 <= number <= 1.0:
            raise NoValue(f"Sentry gave {metric.field} = {number:g}, outside 0..1")
        return number

    def _issue_count(self, search: str, params: dict[str, str], deadline: Deadline) -> float:
        project = str(self._project(deadline))
        asked = {**params, "project": project, "query": search, "limit": "100"}
        counted = 0
        for _ in range(self.opts.max_pages):
            response, body = self._call("issues", asked, deadline)
            if not isinstance(body, list):
                raise Malformed(f"issues: expected a list, got {_brief(body)}")
            counted += len(body)
            following = response.links.get("next", {})
            if following.get("results") != "true" or not following.get("cursor"):
                return float(counted)
            asked = {**asked, "cursor": following["cursor"]}
        raise PartialCount(counted, self.opts.max_pages)

    # -- the API ------------------------------------------------------------------------------

    def _project(self, deadline: Deadline) -> int:
        """The project's numeric id, looked up once from its slug."""
        if self._project_id is None:
            path = f"/api/0/projects/{self.opts.organization}/{self.opts.project}/"
            _, body = self._request(path, {}, deadline)
            try:
                self._project_id = int(body["id"])
            except (KeyError, TypeError, ValueError):
                raise Malformed(f"project {self.opts.project}: no id in {_brief(body)}") from None
        return self._project_id

    def _get(self, endpoint: str, params: dict[str, str], deadline: Deadline) -> Any:
        _, body = self._call(endpoint, params, deadline)
        return body

    def _call(
        self, endpoint: str, params: dict[str, str], deadline: Deadline
    ) -> tuple[httpx.Response, Any]:
        path = f"/api/0/organizations/{self.opts.organization}/{endpoint}/"
        return self._request(path, params, deadline)

    def _request(
        self, path: str, params: dict[str, str], deadline: Deadline
    ) -> tuple[httpx.Response, Any]:
        """One GET, judged: (response, parsed body) or the ProviderError family."""
        url = f"{self.base_url}{path}"
        try:
            response = read(
                self._client,
                "GET",
                url,
                deadline=deadline,
                max_bytes=self.opts.max_body_bytes,
                params=params,
                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
            )
        except httpx.TimeoutException:
            message = f"GET {url}: no complete answer within {deadline.seconds:g} s"
            raise ProviderTimeout(self.clean(message)) from None
        except httpx.HTTPError as exc:
            reason = http_failure_reason(exc, deadline.seconds)
            raise ProviderUnavailable(self.clean(f"GET {url}: {reason}")) from None
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError):
            body = None
        status = response.status_code
        if 200 <= status < 300:
            if body is None:
                snippet = response.text[:60]
                raise Malformed(self.clean(f"GET {url}: not JSON: {snippet!r}"))
            return response, body
        detail = self.clean(_detail(body) or response.reason_phrase)[:300]
        what = f"Sentry {endpoint_of(path)}"
        if status == 429:
            wait = self._rate_wait(response)
            raise RateLimited(f"{what}: rate limited (429): {detail}", wait)
        if status in (401, 403):
            raise ProviderUnavailable(f"{what}: token refused ({status}): {detail}")
        if status == 404:
            where = f"organisation {self.opts.organization} or project {self.opts.project}"
            raise ProviderUnavailable(f"{what}: {where} not found (404): {detail}")
        if status == 400:
            raise QueryRefused(f"{what} refused the query (400): {detail}")
        raise ProviderUnavailable(f"{what}: HTTP {status}: {detail}")

    def _rate_wait(self, response: httpx.Response) -> float | None:
        """Retry-After if present (a proxy's); else Sentry's reset time; None if neither."""
        wait = retry_after_seconds(response.headers.get("retry-after"))
        if wait is not None:
            return wait
        try:
            reset = float(response.headers.get("x-sentry-rate-limit-reset", ""))
        except ValueError:
            return None
        if not math.isfinite(reset):
            return None
        return min(max(0.0, reset - self.clock.now().timestamp()), MAX_RETRY_AFTER)

    def clean(self, text: str) -> str:
        """`text` without the token (Sentry may echo it), nor anything else that looks secret."""
        if len(self._token) >= 4:
            text = text.replace(self._token, REDACTED)
        return scrub(text)


class Malformed(ProviderUnavailable):
    """Sentry answered something that is not its documented shape."""


class PartialCount(NoValue):
    """More issues than `max_pages` pages: the count so far, a floor."""

    def __init__(self, count: int, pages: int) -> None:
        super().__init__(f"at least {count}: more than {pages} pages of issues")
        self.count = count


def endpoint_of(path: str) -> str:
    """What a path is, for messages: `issues`, `events-stats`, `project`."""
    if path.startswith("/api/0/projects/"):
        return "project"
    return path.rstrip("/").rsplit("/", 1)[-1]


def _period(text: str) -> int:
    try:
        return period_seconds(text)
    except ValueError as why:
        raise QueryRefused(str(why)) from None


def _detail(body: Any) -> str | None:
    """DRF's `{"detail": "..."}`, Sentry's error envelope."""
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return None


def _brief(body: Any) -> str:
    return json.dumps(body)[:80] if body is not None else "nothing"


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"{where}: expected a number, found {value!r:.40}")
    return float(value)


def _last_complete_point(body: Any) -> float:
    """The newest complete bucket of an events-timeseries answer."""
    try:
        values = body["timeSeries"][0]["values"]
        complete = [point for point in values if not point.get("incomplete")]
    except (KeyError, IndexError, TypeError, AttributeError):
        raise Malformed(f"events-timeseries: not the documented shape: {_brief(body)}") from None
    if not complete:
        raise NoValue("no complete interval yet")
    return _number(complete[-1].get("value"), "events-timeseries")


def _last_complete_stat(body: Any, interval: int, now: float) -> float:
    """The newest bucket of an events-stats answer that has ended by `now` (it has no
    `incomplete` flag, and its last bucket is usually still filling)."""
    try:
        ended = [point for point in body["data"] if float(point[0]) + interval <= now]
        if not ended:
            raise NoValue("no complete interval yet")
        counts = ended[-1][1]
        return _number(counts[0]["count"] if counts else 0, "events-stats")
    except (KeyError, IndexError, TypeError, ValueError):
        raise Malformed(f"events-stats: not the documented shape: {_brief(body)}") from None
