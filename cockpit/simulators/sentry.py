"""A simulator of the Sentry API's read side: error counts, issues by release, release health.

It follows ../shared/reference/provider_apis_2.md §11 (and its §11.4 list):

- Bearer auth; a missing or wrong token gets 401 `{"detail": …}` (every error is DRF's
  `{"detail": "<text>"}`); an unknown organisation or project 404.
- Every answer carries `X-Sentry-Rate-Limit-{Limit,Remaining,Reset,ConcurrentLimit,
  ConcurrentRemaining}`, unless `self_hosted` (self-hosted Sentry skips the rate limiter). A 429
  has Sentry's exact `detail` text and no Retry-After: clients read `-Reset` (epoch seconds).
- `events-timeseries` (ms timestamps, `incomplete` on the bucket still filling), `events-stats`
  (`[[sec, [{"count": n}]]]`, zero-filled), `stats_v2` (no `environment`, interval at least 1h,
  groups with totals and series), `issues` (default query `is:unresolved`, `firstRelease:`,
  `count` as a string, `limit` at most 100, `Link` paging with `results` and `cursor`) and
  `sessions` (`crash_free_rate(session)` and friends, fractions between 0 and 1).

Time is `now()`, epoch seconds, injectable: the tests and the demo step it, nothing waits on the
wall clock. Errors, issues and sessions are added by hand, or by `sync`, called before each
request, which the demo uses to follow its scenario.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cockpit.simulators.base import Fault, Reply, Request, Simulator, SimulatorError

RATE_LIMIT = 40
RATE_WINDOW = 1
CONCURRENT_LIMIT = 25
TOO_FREQUENT = (
    "You are attempting to use this endpoint too frequently. "
    "Limit is {limit} requests in {window} seconds"
)
MAX_POINTS = 10_000
DEFAULT_SEARCH = "is:unresolved"
_PERIOD = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TOKEN = re.compile(r'(\w+):("[^"]*"|\S+)')


def duration(text: str) -> int | None:
    """Seconds in a Sentry period ("24h", "14d", "1m"); None when it is not one."""
    found = _PERIOD.match(text.strip())
    return int(found[1]) * _UNIT_SECONDS[found[2]] if found else None


def iso(epoch: float) -> str:
    """Sentry's timestamps in bodies: ISO 8601 UTC with a Z."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ErrorEvents:
    """`count` error events at `at` (epoch seconds) in one project, environment and release."""

    at: float
    count: int
    project: str
    environment: str
    release: str


@dataclass
class Issue:
    """One issue (a group of events); `first_release` is the release it was first seen in."""

    id: str
    project: str
    title: str
    level: str
    first_seen: float
    last_seen: float
    first_release: str
    environment: str
    status: str = "unresolved"
    count: int = 1
    user_count: int = 1


@dataclass
class Sessions:
    """`total` sessions at `at`, `crashed` of them crashed."""

    at: float
    total: int
    crashed: int
    project: str
    environment: str
    release: str


@dataclass
class SentryState:
    """What the simulated Sentry holds; `projects` maps a slug to its numeric id."""

    projects: dict[str, int] = field(default_factory=dict)
    errors: list[ErrorEvents] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    sessions: list[Sessions] = field(default_factory=list)
    latest_release: str = ""


class SentrySimulator(Simulator):
    """Sentry's organisation stats, events, issues and sessions endpoints on 127.0.0.1."""

    name = "sentry"

    def __init__(
        self,
        *,
        organization: str = "acme",
        token: str = "sim-token",
        now: Callable[[], float] | None = None,
        self_hosted: bool = False,
    ) -> None:
        self.organization = organization
        self.now: Callable[[], float] = now or time.time
        self.self_hosted = self_hosted
        self.state = SentryState()
        self.sync: Callable[[SentrySimulator], None] | None = None
        """Called (holding the lock) before each request: the demo follows its scenario."""
        super().__init__(token=token)

    # -- seeding ------------------------------------------------------------------------------

    def add_project(self, slug: str, project_id: int | None = None) -> int:
        """A project; returns its numeric id."""
        with self.lock:
            found = project_id or 4_500_000 + len(self.state.projects) + 1
            self.state.projects[slug] = found
            return found

    def remove_project(self, slug: str) -> None:
        """The project is deleted: requests naming it get 404 from now on."""
        with self.lock:
            self.state.projects.pop(slug, None)

    def add_errors(
        self,
        count: int,
        *,
        project: str,
        at: float | None = None,
        environment: str = "production",
        release: str = "",
    ) -> None:
        """`count` error events at `at` (default now)."""
        with self.lock:
            moment = self.now() if at is None else at
            release = release or self.state.latest_release
            self.state.errors.append(ErrorEvents(moment, count, project, environment, release))

    def add_issue(
        self,
        title: str,
        *,
        project: str,
        release: str = "",
        level: str = "error",
        at: float | None = None,
        environment: str = "production",
        status: str = "unresolved",
        count: int = 1,
    ) -> Issue:
        """A new issue first seen now (or at `at`) in `release` (default the latest)."""
        with self.lock:
            moment = self.now() if at is None else at
            issue = Issue(
                id=str(7_000_000 + len(self.state.issues) + 1),
                project=project,
                title=title,
                level=level,
                first_seen=moment,
                last_seen=moment,
                first_release=release or self.state.latest_release,
                environment=environment,
                status=status,
                count=count,
            )
            self.state.issues.append(issue)
            return issue

    def add_sessions(
        self,
        total: int,
        crashed: int,
        *,
        project: str,
        at: float | None = None,
        environment: str = "production",
        release: str = "",
    ) -> None:
        """`total` sessions at `at` (default now), `crashed` of them crashed."""
        with self.lock:
            moment = self.now() if at is None else at
            release = release or self.state.latest_release
            self.state.sessions.append(
                Sessions(moment, total, crashed, project, environment, release)
            )

    def release(self, version: str) -> None:
        """A new release is deployed: the one `firstRelease:latest` means from now on."""
        with self.lock:
            self.state.latest_release = version

    # -- the platform's shape -----------------------------------------------------------------

    def error_body(self, status: int, code: str, message: str, **extra: Any) -> Any:
        return {"detail": message}

    def rate_limit_reply(self, fault: Fault) -> Reply:
        # Sentry's middleware sends no Retry-After; the reset time is in the headers.
        reset = math.ceil(self.now() + fault.retry_after)
        detail = TOO_FREQUENT.format(limit=RATE_LIMIT, window=RATE_WINDOW)
        return Reply(429, {"detail": detail}, self._limits(remaining=0, reset=reset))

    def unauthorized(self, request: Request) -> Reply:
        if not request.headers.get("authorization"):
            return Reply(401, {"detail": "Authentication credentials were not provided."})
        return Reply(401, {"detail": "Invalid token"})

    def handle(self, request: Request) -> Reply:
        if self.sync is not None:
            with self.lock:
                self.sync(self)
        reply = super().handle(request)
        if reply.status != 429:
            reply.headers = {**self._limits(), **reply.headers}
        elif self.self_hosted:
            reply.headers = {}
        return reply

    def _limits(self, remaining: int = RATE_LIMIT - 1, reset: int | None = None) -> dict[str, str]:
        if self.self_hosted:
            return {}
        window_end = reset if reset is not None else math.floor(self.now()) + RATE_WINDOW
        return {
            "X-Sentry-Rate-Limit-Limit": str(RATE_LIMIT),
            "X-Sentry-Rate-Limit-Remaining": str(remaining),
            "X-Sentry-Rate-Limit-Reset": str(window_end),
            "X-Sentry-Rate-Limit-ConcurrentLimit": str(CONCURRENT_LIMIT),
            "X-Sentry-Rate-Limit-ConcurrentRemaining": str(CONCURRENT_LIMIT - 1),
        }

    def routes(self) -> None:
        from cockpit.simulators import sentry_routes

        org = "/api/0/organizations/{org}"
        self.route("GET", f"{org}/events-timeseries", sentry_routes.timeseries(self))
        self.route("GET", f"{org}/events-stats", sentry_routes.events_stats(self))
        self.route("GET", f"{org}/stats_v2", sentry_routes.stats_v2(self))
        self.route("GET", f"{org}/issues", sentry_routes.issues(self))
        self.route("GET", f"{org}/sessions", sentry_routes.sessions(self))
        self.route("GET", "/api/0/projects/{org}/{project}", self._project)

    def _project(self, request: Request) -> Reply:
        """A project's details, which give its numeric id for a slug."""
        self.check_org(request)
        slug = request.params["project"]
        if slug not in self.state.projects:
            raise SimulatorError(404, "", "The requested resource does not exist")
        body = {"id": str(self.state.projects[slug]), "slug": slug, "name": slug}
        return Reply(200, body)

    # -- what the routes share ----------------------------------------------------------------

    def check_org(self, request: Request) -> None:
        """404 unless the path names this organisation."""
        if request.params.get("org") != self.organization:
            raise SimulatorError(404, "", "The requested resource does not exist")

    def projects(self, request: Request) -> set[str] | None:
        """The project slugs `project` names (ids or slugs; -1 or absent: all); 404 if gone."""
        wanted = request.query.get("project", "")
        if wanted in ("", "-1"):
            return None
        by_id = {str(number): slug for slug, number in self.state.projects.items()}
        if wanted in by_id:
            return {by_id[wanted]}
        if wanted in self.state.projects:
            return {wanted}
        raise SimulatorError(404, "", "The requested resource does not exist")

    def period(self, request: Request, default: str = "24h") -> tuple[float, float]:
        """(start, end) epoch seconds from `statsPeriod` or `start`/`end`; 400 if unreadable."""
        now = self.now()
        if "start" in request.query or "end" in request.query:
            try:
                start = datetime.fromisoformat(request.query["start"].replace("Z", "+00:00"))
                end = datetime.fromisoformat(request.query["end"].replace("Z", "+00:00"))
            except (KeyError, ValueError):
                raise SimulatorError(400, "", "start and end are both required") from None
            return start.timestamp(), end.timestamp()
        seconds = duration(request.query.get("statsPeriod") or default)
        if seconds is None:
            raise SimulatorError(400, "", "Invalid statsPeriod")
        return now - seconds, now

    def id_of(self, slug: str) -> int:
        """The numeric id of a project (0 when it was removed meanwhile)."""
        return self.state.projects.get(slug, 0)


def search_terms(query: str) -> dict[str, str]:
    """`key:value` terms of a Sentry search (quotes dropped); free text is ignored."""
    return {key: value.strip('"') for key, value in _TOKEN.findall(query)}
