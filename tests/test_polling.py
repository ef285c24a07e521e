"""Every source is polled however many there are, and a provider bug is said, not swallowed."""

from __future__ import annotations

import threading
import time
from typing import ClassVar

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import Sample
from cockpit.core.outline import builtin_outline
from cockpit.core.timeline import Timeline
from cockpit.session import Session
from providers.base import MetricSource, ProviderOptions


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
