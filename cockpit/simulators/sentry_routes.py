"""The Sentry simulator's endpoints, each a handler factory over a SentrySimulator.

Apart from cockpit.simulators.sentry (state, auth, rate-limit headers) to keep both small. The
shapes, parameters and 400 texts are those of provider_apis_2.md §11.1 to §11.3.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from cockpit.simulators.base import Handler, Reply, Request, SimulatorError
from cockpit.simulators.sentry import (
    DEFAULT_SEARCH,
    MAX_POINTS,
    ErrorEvents,
    Issue,
    Sessions,
    duration,
    iso,
    search_terms,
)

if TYPE_CHECKING:
    from cockpit.simulators.sentry import SentrySimulator

DATASETS = ("errors", "logs", "profile_functions", "spans", "tracemetrics", "uptime_results")
SESSION_FIELDS = (
    "crash_free_rate(session)",
    "crash_free_rate(user)",
    "crash_rate(session)",
    "sum(session)",
    "count_unique(user)",
)
ISSUE_KEYS = frozenset({"is", "level", "firstRelease", "release", "firstSeen", "environment"})
TOO_MANY = (
    "Your interval and date range would create too many results. "
    "Use a larger interval, or a smaller date range."
)
HOUR = 3600
DAY = 86400


def _bad(detail: str) -> SimulatorError:
    return SimulatorError(400, "", detail)


def _buckets(start: float, end: float, interval: int) -> list[int]:
    """Bucket starts, aligned to the interval as Sentry aligns them, covering start..end."""
    first = math.floor(start / interval) * interval
    count = math.floor((end - first) / interval) + 1  # the last one holds `end`, still filling
    if count > MAX_POINTS:
        raise _bad(TOO_MANY)
    return [first + k * interval for k in range(count)]


def _errors(sim: SentrySimulator, request: Request) -> list[ErrorEvents]:
    """Error events matching the request's project, environment and `release:` search."""
    projects = sim.projects(request)
    environment = request.query.get("environment")
    release = search_terms(request.query.get("query", "")).get("release")
    return [
        e
        for e in sim.state.errors
        if (projects is None or e.project in projects)
        and (environment is None or e.environment == environment)
        and (release is None or e.release == release)
    ]


def _through(end: float) -> float:
    """The bound just past `end`, so what happened at the very moment asked counts."""
    return math.nextafter(end, math.inf)


def _count(found: Iterable[ErrorEvents], start: float, end: float) -> int:
    return sum(e.count for e in found if start <= e.at < end)


def timeseries(sim: SentrySimulator) -> Handler:
    """GET …/events-timeseries/: `{timeSeries: [{yAxis, values: [{timestamp ms, value,
    incomplete}], groupBy, meta}], meta}`; `interval` in seconds, a bad one means 1h."""

    def handler(request: Request) -> Reply:
        sim.check_org(request)
        dataset = request.query.get("dataset", "")
        if dataset not in DATASETS:
            raise _bad(f"dataset must be one of: {', '.join(DATASETS)}")
        y_axis = request.query.get("yAxis", "count()")
        if y_axis != "count()":
            raise _bad(f"{y_axis} is not a supported yAxis")
        try:
            interval = int(request.query.get("interval", ""))
        except ValueError:
            interval = HOUR
        interval = interval if interval > 0 else HOUR
        start, end = sim.period(request)
        found = _errors(sim, request) if dataset == "errors" else []
        now = sim.now()
        values = [
            {
                "timestamp": b * 1000,
                "value": _count(found, b, b + interval),
                "incomplete": b + interval > now,
            }
            for b in _buckets(start, end, interval)
        ]
        series = {
            "yAxis": y_axis,
            "values": values,
            "groupBy": [],
            "meta": {"interval": interval, "valueType": "integer", "valueUnit": None},
        }
        meta = {"dataset": dataset, "start": int(start * 1000), "end": int(end * 1000)}
        return Reply(200, {"timeSeries": [series], "meta": meta})

    return handler


def events_stats(sim: SentrySimulator) -> Handler:
    """GET …/events-stats/: `{data: [[sec, [{count}]]…], start, end}`, zero-filled buckets."""

    def handler(request: Request) -> Reply:
        sim.check_org(request)
        interval = duration(request.query.get("interval", "1h"))
        if interval is None:
            raise _bad("Invalid interval")
        start, end = sim.period(request)
        found = _errors(sim, request)
        data = [
            [b, [{"count": _count(found, b, b + interval)}]] for b in _buckets(start, end, interval)
        ]
        return Reply(200, {"data": data, "start": int(start), "end": int(end)})

    return handler


def stats_v2(sim: SentrySimulator) -> Handler:
    """GET …/stats_v2/: accepted error events as outcome groups; no `environment`, 1h at least."""

    def handler(request: Request) -> Reply:
        sim.check_org(request)
        field = request.query.get("field", "")
        if field not in ("sum(quantity)", "sum(times_seen)"):
            raise _bad("field must be sum(quantity) or sum(times_seen)")
        group_by = request.query.get("groupBy", "")
        if group_by not in ("outcome", "category", "reason", "project"):
            raise _bad("groupBy is required: outcome, category, reason or project")
        interval = duration(request.query.get("interval", "1h"))
        if interval is None or interval < HOUR or interval > DAY:
            raise _bad("The interval has to be between one hour and one day")
        start, end = sim.period(request)
        category = request.query.get("category", "error")
        projects = sim.projects(request)
        found = [
            e
            for e in sim.state.errors
            if category == "error" and (projects is None or e.project in projects)
        ]
        buckets = _buckets(start, end, interval)
        groups: list[dict[str, Any]]
        if group_by == "project":  # totals over the whole period, no series
            groups = [
                {
                    "by": {"project": sim.id_of(slug)},
                    "totals": {
                        field: _count((e for e in found if e.project == slug), start, _through(end))
                    },
                }
                for slug in sorted({e.project for e in found})
            ]
        else:
            series = [_count(found, b, b + interval) for b in buckets]
            value = {"outcome": "accepted", "category": category, "reason": "none"}[group_by]
            groups = [
                {"by": {group_by: value}, "totals": {field: sum(series)}, "series": {field: series}}
            ]
        intervals = [iso(b) for b in buckets]
        return Reply(
            200, {"start": iso(start), "end": iso(end), "intervals": intervals, "groups": groups}
        )

    return handler


def _issue_matches(sim: SentrySimulator, issue: Issue, terms: dict[str, str]) -> bool:
    now = sim.now()
    for key, value in terms.items():
        if key == "is" and issue.status != value:
            return False
        if key == "level" and issue.level != value:
            return False
        if key in ("firstRelease", "release"):
            wanted = sim.state.latest_release if value == "latest" else value
            if issue.first_release != wanted:
                return False
        if key == "environment" and issue.environment != value:
            return False
        if key == "firstSeen":
            seconds = duration(value.lstrip("-"))
            if seconds is None:
                raise _bad(f"Invalid search query: firstSeen:{value}")
            if issue.first_seen < now - seconds:
                return False
    return True


def _issue_body(sim: SentrySimulator, issue: Issue) -> dict[str, Any]:
    return {
        "id": issue.id,
        "shortId": f"{issue.project.upper()}-{issue.id[-3:]}",
        "title": issue.title,
        "metadata": {"title": issue.title},
        "firstSeen": iso(issue.first_seen),
        "lastSeen": iso(issue.last_seen),
        "level": issue.level,
        "status": issue.status,
        "permalink": f"https://sentry.io/organizations/{sim.organization}/issues/{issue.id}/",
        "project": {"id": str(sim.id_of(issue.project)), "slug": issue.project},
        "count": str(issue.count),  # a string in Sentry's answers, while userCount is a number
        "userCount": issue.user_count,
        "stats": {"24h": [[int(issue.last_seen // HOUR * HOUR), issue.count]]},
    }


def _link(base: str, query: dict[str, str], offset: int, limit: int, total: int) -> str:
    def part(rel: str, at: int, is_prev: int, results: bool) -> str:
        cursor = f"0:{at}:{is_prev}"
        url = f"{base}?{urlencode({**query, 'cursor': cursor})}"
        return f'<{url}>; rel="{rel}"; results="{str(results).lower()}"; cursor="{cursor}"'

    previous = part("previous", max(0, offset - limit), 1, offset > 0)
    following = part("next", offset + limit, 0, offset + limit < total)
    return f"{previous}, {following}"


def issues(sim: SentrySimulator) -> Handler:
    """GET …/issues/: search (default `is:unresolved`), newest first, paged by `cursor`."""

    def handler(request: Request) -> Reply:
        sim.check_org(request)
        projects = sim.projects(request)
        query = request.query.get("query", DEFAULT_SEARCH)
        terms = search_terms(query)
        unknown = sorted(set(terms) - ISSUE_KEYS)
        if unknown:
            raise _bad(f"Invalid search query: unsupported key {unknown[0]!r}")
        start, _ = sim.period(request, default="14d")
        environment = request.query.get("environment")
        found = [
            issue
            for issue in sim.state.issues
            if (projects is None or issue.project in projects)
            and (environment is None or issue.environment == environment)
            and issue.last_seen >= start
            and _issue_matches(sim, issue, terms)
        ]
        found.sort(key=lambda issue: issue.last_seen, reverse=True)
        try:
            limit = min(100, max(1, int(request.query.get("limit", "100"))))
            offset = int(request.query.get("cursor", "0:0:0").split(":")[1])
        except (ValueError, IndexError):
            raise _bad("Invalid cursor or limit") from None
        page = [_issue_body(sim, issue) for issue in found[offset : offset + limit]]
        base = f"{sim.url}{request.path}"
        kept = {k: v for k, v in request.query.items() if k != "cursor"}
        return Reply(200, page, {"Link": _link(base, kept, offset, limit, len(found))})

    return handler


def _session_value(field: str, rows: list[Sessions]) -> float | int | None:
    total = sum(row.total for row in rows)
    crashed = sum(row.crashed for row in rows)
    if field == "sum(session)":
        return total
    if field == "count_unique(user)":
        return total  # one user per session in the simulation
    if total == 0:
        return None  # Sentry answers null for a rate over no sessions
    rate = crashed / total
    return 1.0 - rate if field.startswith("crash_free_rate") else rate


def sessions(sim: SentrySimulator) -> Handler:
    """GET …/sessions/: release health as `{start, end, intervals, groups, query}`."""

    def handler(request: Request) -> Reply:
        sim.check_org(request)
        field = request.query.get("field", "")
        if field not in SESSION_FIELDS:
            raise _bad(f"Invalid field: {field!r}" if field else "Request is missing a 'field'")
        interval = duration(request.query.get("interval", "1h"))
        if interval is None or interval < HOUR:
            raise _bad("The interval has to be a multiple of the minimum interval of one hour.")
        if interval > DAY or DAY % interval:
            raise _bad("The interval should divide one day without a remainder.")
        projects = sim.projects(request)
        environment = request.query.get("environment")
        release = search_terms(request.query.get("query", "")).get("release")
        start, end = sim.period(request)
        rows = [
            row
            for row in sim.state.sessions
            if (projects is None or row.project in projects)
            and (environment is None or row.environment == environment)
            and (release is None or row.release == release)
        ]
        buckets = _buckets(start, end, interval)

        def within(lo: float, hi: float) -> list[Sessions]:
            return [row for row in rows if lo <= row.at < hi]

        group: dict[str, Any] = {"by": {}}
        if request.query.get("includeTotals", "1") != "0":
            group["totals"] = {field: _session_value(field, within(start, _through(end)))}
        if request.query.get("includeSeries", "1") != "0":
            group["series"] = {
                field: [_session_value(field, within(b, b + interval)) for b in buckets]
            }
        body = {
            "start": iso(start),
            "end": iso(end),
            "intervals": [iso(b) for b in buckets],
            "groups": [group],
            "query": request.query.get("query", ""),
        }
        return Reply(200, body)

    return handler
