"""Every source is polled however many there are, a provider bug is said, not swallowed, and a
rate-limited source is not polled again before the wait it asked for."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

from hostile_metrics import HostileServer

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.errors import RateLimited
from cockpit.core.metrics import Sample
from cockpit.core.outline import builtin_outline
from cockpit.core.timeline import Timeline
from cockpit.messages import SourceFailed
from cockpit.polling import Poller
from cockpit.session import Session
from providers.base import MetricSource, ProviderOptions
from providers.prometheus.scrape import ScrapeOptions, ScrapeSource


class Counting(MetricSource):
    """A source that counts how often it is sampled (no network: this is about threads)."""

    name: ClassVar[str] = "counting"
    title: ClassVar[str] = "Counting"
    Options = ProviderOptions

    def __init__(self, index: int, clock: FixedClock, *, broken: bool = False) -> None:
        super().__init__(ProviderOptions())
        self.index, self.clock, self.broken = index, clock, broken
        self.calls = 0
        self.closed = threading.Event()

    @property
    def metric_names(self) -> list[str]:
        return ["error_rate"] if self.index == 0 else [f"extra_{self.index}"]

    def sample(self) -> list[Sample]:
        self.calls += 1
        if self.broken:
            raise KeyError("a bug in the provider")
        return [Sample(self.metric_names[0], 0.4, self.clock.now(), f"counting-{self.index}")]

    def close(self) -> None:
        self.closed.set()


async def test_twelve_sources_are_all_polled_and_workers_still_run(
    timeline: Timeline, clock: FixedClock
) -> None:
    sources = [Counting(i, clock) for i in range(12)]
    incident = timeline.open_incident("many sources", "P2", "pulse-messages")
    app = CockpitApp(
        Session(
            timeline=timeline,
            incident=incident,
            outline=builtin_outline("pulse-messages"),
            sources=list(sources),
            clock=clock,
            poll_interval=0.05,
        )
    )
    async with app.run_test() as pilot:
        deadline = time.monotonic() + 10
        while not (app.board is not None and all(s.calls >= 3 for s in sources)):
            assert time.monotonic() < deadline, [s.calls for s in sources]
            await pilot.pause(0.05)
        # the procedure was validated by a thread worker while twelve pollers ran
        assert app.session.procedure is not None
    app.stop_sources()
    assert all(s.closed.is_set() for s in sources)


async def test_a_provider_bug_marks_the_source_failing_with_the_reason(
    timeline: Timeline, clock: FixedClock
) -> None:
    from cockpit.core.procedure_loader import load_builtin

    broken = Counting(0, clock, broken=True)
    incident = timeline.open_incident("broken provider", "P2", "pulse-messages")
    app = CockpitApp(
        Session(
            timeline=timeline,
            incident=incident,
            procedure=load_builtin("pulse-messages"),
            sources=[broken],
            clock=clock,
            poll_interval=0.05,
        )
    )
    async with app.run_test() as pilot:
        deadline = time.monotonic() + 10
        while broken.calls < 3:  # it keeps polling after the bug
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
    app.stop_sources()
    failed = [e for e in timeline.events(incident.id) if e.kind == "source.failed"]
    assert len(failed) == 1  # said once, not once per poll
    assert "internal error in counting: KeyError" in failed[0].summary


# -- rate limits: the poller waits what the source asks (fake time, no wall-clock sleep) ---------


class Recorder:
    """Stands in for the App: keeps what the poller posts."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    def post_message(self, message: Any) -> bool:
        self.messages.append(message)
        return True


class Scripted(MetricSource):
    """Raises or answers what its script says, one step per poll."""

    name: ClassVar[str] = "scripted"
    title: ClassVar[str] = "Scripted"
    Options = ProviderOptions

    def __init__(self, *steps: Exception | None) -> None:
        super().__init__(ProviderOptions())
        self.steps = list(steps)

    @property
    def metric_names(self) -> list[str]:
        return ["error_rate"]

    def sample(self) -> list[Sample]:
        step = self.steps.pop(0)
        if step is not None:
            raise step
        return [Sample("error_rate", 0.1, FixedClock().now(), self.name)]


def run_fake(source: MetricSource, interval: float, polls: int) -> tuple[list[float], Recorder]:
    """Run the poller on fake time for `polls` polls; the waits it asked for, what it posted."""
    app, waits, now = Recorder(), [], [0.0]

    def wait(seconds: float) -> None:
        waits.append(round(seconds, 3))
        now[0] += seconds
        if len(waits) == polls:
            poller.stopped.set()

    poller = Poller(app, source, interval, monotonic=lambda: now[0], wait=wait)  # type: ignore[arg-type]
    poller.run()  # on this thread: it returns once stopped
    return waits, app


def reasons(app: Recorder) -> list[str]:
    return [m.reason if isinstance(m, SourceFailed) else "sampled" for m in app.messages]


def test_the_poller_waits_what_a_rate_limit_asks_then_keeps_its_cadence() -> None:
    source = Scripted(
        RateLimited("GET http://m/metrics: rate limited (429)", 30),
        RateLimited("GET http://m/metrics: rate limited (429)", None),  # no Retry-After
        RateLimited("GET http://m/metrics: unavailable (503)", 86_400),  # absurd
        RateLimited("GET http://m/metrics: rate limited (429)", 0.5),  # shorter than interval
        None,
        None,
    )
    waits, app = run_fake(source, 5.0, 6)
    assert waits == [30, 5, 600, 5, 5, 5]
    assert reasons(app) == [
        "GET http://m/metrics: rate limited (429): next poll in 30 s",
        "GET http://m/metrics: rate limited (429): next poll in 5 s",
        "GET http://m/metrics: unavailable (503): next poll in 600 s",
        "GET http://m/metrics: rate limited (429): next poll in 5 s",
        "sampled",
        "sampled",
    ]


def test_a_rate_limited_server_is_polled_once_per_retry_after() -> None:
    server = HostileServer(retry_after=30)
    source = ScrapeSource(
        ScrapeOptions(url=f"{server.url}/rate_limited/metrics", timeout_seconds=2)
    )
    try:
        waits, app = run_fake(source, 1.0, 3)
    finally:
        server.stop()
    assert waits == [30, 30, 30]  # three polls in 90 fake seconds, not 90
    assert len(server.requests) == 3
    url = f"{server.url}/rate_limited/metrics"
    assert reasons(app) == [f"GET {url}: rate limited (429): next poll in 30 s"] * 3


async def test_two_sources_of_one_type_fail_and_recover_each_on_its_own(
    timeline: Timeline, clock: FixedClock
) -> None:
    """One of two `counting` sources is broken: it fails once and stays failed, and the healthy
    one never makes it look recovered (keyed by type, the two flooded the timeline with a
    source.failed / source.recovered pair per poll)."""
    from cockpit.commands.run import numbered
    from cockpit.core.procedure_loader import load_builtin

    healthy, broken = Counting(0, clock), Counting(1, clock, broken=True)
    sources: list[MetricSource] = [healthy, broken]
    numbered(sources)
    assert [s.source_id for s in sources] == ["counting#1", "counting#2"]
    incident = timeline.open_incident("two of a type", "P2", "pulse-messages")
    app = CockpitApp(
        Session(
            timeline=timeline,
            incident=incident,
            procedure=load_builtin("pulse-messages"),
            sources=sources,
            clock=clock,
            poll_interval=0.02,
        )
    )
    async with app.run_test() as pilot:
        deadline = time.monotonic() + 10
        while broken.calls < 10 or healthy.calls < 10:
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
    app.stop_sources()
    kinds = [e.kind for e in timeline.events(incident.id) if e.kind.startswith("source.")]
    assert kinds == ["source.failed"], kinds
    (failed,) = [e for e in timeline.events(incident.id) if e.kind == "source.failed"]
    assert failed.summary.startswith("counting#2: ")
