"""What goes wrong is shown, recorded and survived: a worker that raises, a bug in the data
path, a crash (saved, recorded, exit 1, told at the next start)."""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pilot_wait import until

from cockpit.app import CockpitApp
from cockpit.commands.run import finish_writes, record_crash
from cockpit.core.actions import Executed, Plan, Report, Verified
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import Sample
from cockpit.core.procedure import Procedure
from cockpit.core.redact import register_secret
from cockpit.core.timeline import Timeline
from cockpit.messages import MetricsSampled
from cockpit.session import Session
from providers.base import ActionProvider, ProviderOptions

pytestmark = pytest.mark.timeout(60)


class Buggy(ActionProvider):
    """A provider with a bug: listing candidates raises something no one expected."""

    name = "buggy"
    title = "Buggy"
    Options = ProviderOptions
    actions: ClassVar[dict[str, str]] = {"roll": "roll back"}

    def health(self) -> str:
        return "fine"

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        raise ZeroDivisionError("division by zero in the candidate list")

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        raise AssertionError("not reached")

    def execute(self, plan: Plan, report: Report) -> Executed:
        raise AssertionError("not reached")

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        raise AssertionError("not reached")


def app_for(
    timeline: Timeline, procedure: Procedure, clock: FixedClock, **extra: Any
) -> CockpitApp:
    incident = timeline.open_incident("x", "P1", procedure.name)
    session = Session(
        timeline=timeline, incident=incident, procedure=procedure, clock=clock, **extra
    )
    return CockpitApp(session, start_pollers=False)


def kinds(timeline: Timeline, incident: int) -> list[str]:
    return [e.kind for e in timeline.events(incident)]


async def test_a_worker_that_raises_is_shown_and_recorded_never_loading_for_ever(
    timeline: Timeline, pulse_procedure: Procedure, clock: FixedClock
) -> None:
    from cockpit.screens.action import ActionScreen

    app = app_for(timeline, pulse_procedure, clock, actions={"buggy": Buggy(ProviderOptions())})
    incident = app.session.incident.id
    async with app.run_test(size=(100, 40)) as pilot:
        screen = ActionScreen("buggy", "roll", {"deployment": "[the good one]"})
        await app.push_screen(screen)
        await until(pilot, lambda: "worker.failed" in kinds(timeline, incident), "recorded")
        await pilot.pause(0.1)
        question = str(screen.query_one("#action-plan").render())
        assert "Loading" not in question and "could not list the candidates" in question
        assert "ZeroDivisionError" in question
        assert any("ZeroDivisionError" in n.message for n in app._notifications)
    failed = next(e for e in timeline.events(incident) if e.kind == "worker.failed")
    saved = Path(failed.payload["traceback_file"])
    assert "ZeroDivisionError" in saved.read_text() and "Traceback" in saved.read_text()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600


async def test_a_bug_in_the_data_path_is_told_once_and_the_cockpit_goes_on(
    timeline: Timeline, pulse_procedure: Procedure, clock: FixedClock
) -> None:
    app = app_for(timeline, pulse_procedure, clock)
    incident = app.session.incident.id
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.board is not None, "the board")

        def broken(samples: list[Sample]) -> list[Any]:
            raise KeyError("a bug in the board")

        app.board.ingest = broken  # type: ignore[assignment, union-attr]
        for _ in range(5):
            app.post_message(MetricsSampled("s", [Sample("error_rate", 1.0, clock.now(), "s")]))
        await until(pilot, lambda: "cockpit.error" in kinds(timeline, incident), "recorded")
        await pilot.press("t")  # still answers keys
        assert type(app.screen).__name__ == "TimelineScreen"
        assert app.return_code is None
    assert kinds(timeline, incident).count("cockpit.error") == 1


async def test_a_crash_is_saved_recorded_and_told_at_the_next_start(
    tmp_path: Path,
    pulse_procedure: Procedure,
    clock: FixedClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "data" / "timeline.db"
    register_secret("tok-canary-41f9")
    timeline = Timeline(db, clock=clock)
    app = app_for(timeline, pulse_procedure, clock)
    incident = app.session.incident.id
    with pytest.raises(RuntimeError):  # run_test re-raises what ended the App
        async with app.run_test() as pilot:
            await pilot.pause()
            app.call_later(_raise, "boom with tok-canary-41f9 in it")
            await pilot.pause(0.5)
    assert app.crashed is not None and app.return_code == 1
    record_crash(app, app.crashed)
    finish_writes(app)
    crashed = next(e for e in timeline.events(incident) if e.kind == "session.crashed")
    saved = Path(crashed.payload["traceback_file"])
    assert saved.parent == db.parent / "crashes" and "RuntimeError" in saved.read_text()
    assert "tok-canary-41f9" not in saved.read_text() + crashed.summary
    assert "crashed" in capsys.readouterr().err
    again = CockpitApp(
        Session(
            timeline=timeline,
            incident=timeline.incident(incident),
            procedure=pulse_procedure,
            clock=clock,
        ),
        start_pollers=False,
    )
    async with again.run_test() as pilot:
        await pilot.pause(0.2)
        told = [n for n in again._notifications if n.title == "Last session crashed"]
        assert told and str(saved) in told[0].message


def _raise(text: str) -> None:
    raise RuntimeError(text)
