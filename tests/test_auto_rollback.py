"""Automatic rollback (issue 19), where a runbook asks for one: a named trigger fires, the
cockpit announces it with a countdown on the incident's clock (banner, page, chat), any
responder cancels it with one key; when the countdown ends it plans, runs and verifies the
option against the drill's simulated platform, recorded as the cockpit's own. Guard rails: one
per incident, never over a human's action, a destructive plan only where the procedure allows
it; a failure or a refusal escalates to the next level and pages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_drills import DEPLOY_AT, Drill

from cockpit.action_runner import TimelineRecorder
from cockpit.app import CockpitApp
from cockpit.auto_runner import run_automatic
from cockpit.core import auto_rollback
from cockpit.core.actions import Report
from cockpit.core.automation import Automation
from cockpit.core.board import Board
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import Sample
from cockpit.core.procedure import AutomaticRollback, Procedure
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.state import IncidentState
from cockpit.core.timeline import Timeline
from cockpit.session import Session

pytestmark = pytest.mark.timeout(120)


def opted_in(procedure: Procedure, **entry: Any) -> Procedure:
    automatic = AutomaticRollback(option="feature-flags", triggers=["error-rate"], **entry)
    return procedure.model_copy(update={"automatic": [automatic]})


class Incident:
    """One incident's state and automation, events folded back as they are written."""

    def __init__(self, timeline: Timeline, clock: FixedClock, procedure: Procedure) -> None:
        self.timeline, self.clock, self.procedure = timeline, clock, procedure
        opened = timeline.open_incident("Checkout errors", "P1", procedure.name)
        self.id = opened.id
        self.state = IncidentState.replay(opened, [], procedure)
        for event in timeline.events(opened.id):
            self.state.apply(event)
        self.automation = Automation(self.state, driving=True)
        self.automation.paging = True
        self.automation.chat = "slack"
        self.automation.use(Board(procedure, 60.0))

    def perform(self, steps: Any) -> None:
        for write in steps.writes:
            event = self.timeline.record(
                self.id, write.kind, write.summary, write.payload, actor=write.actor
            )
            self.state.apply(event)
            self.perform(self.automation.event(event))

    def breach(self, minutes: int) -> Any:
        """Error rate at 9 % for `minutes` one-minute samples: the trigger fires on the fifth."""
        for _ in range(minutes):
            self.clock.advance(60)
            sample = Sample("error_rate", 9.0, self.clock.now(), "scrape")
            steps = self.automation.readings([sample])
            self.perform(steps)
        return self.timeline.events(self.id)


def kinds(timeline: Timeline, incident: int) -> list[str]:
    return [e.kind for e in timeline.events(incident)]


def test_the_named_trigger_announces_one_countdown_paged_and_in_chat(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    incident = Incident(timeline, clock, opted_in(pulse_procedure))
    events = incident.breach(5)
    [announced] = [e for e in events if e.kind == auto_rollback.ANNOUNCED]
    assert announced.actor == auto_rollback.AUTOMATIC
    assert announced.payload["option"] == "feature-flags"
    assert "press k to cancel" in announced.summary
    queued = [e.payload for e in events if e.kind == "outbox.queued"]
    channels = sorted(p["message"]["channel"] for p in queued)
    assert channels.count("pagerduty") == 2 and "slack" in channels, channels
    assert incident.automation.due(clock.now()).start_automatic is None, "counting down"
    clock.advance(59)
    assert incident.automation.due(clock.now()).start_automatic is None
    clock.advance(1)
    due = incident.automation.due(clock.now())
    assert due.start_automatic is not None and due.start_automatic.option == "feature-flags"
    assert incident.automation.due(clock.now()).start_automatic is None, "handed over once"
    incident.breach(20)  # the trigger clears and fires again: never a second announcement
    assert kinds(timeline, incident.id).count(auto_rollback.ANNOUNCED) == 1


def test_a_cancelled_countdown_starts_nothing(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    incident = Incident(timeline, clock, opted_in(pulse_procedure))
    incident.breach(5)
    event = timeline.record(incident.id, auto_rollback.CANCELLED, "cancelled", {})
    incident.state.apply(event)
    clock.advance(3600)
    assert incident.automation.due(clock.now()).start_automatic is None
    assert incident.state.auto is not None and incident.state.auto.phase == "cancelled"


def test_nothing_is_announced_while_a_human_action_is_in_flight(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    incident = Incident(timeline, clock, opted_in(pulse_procedure))
    begun = timeline.begin_action(incident.id, "vercel.rollback", "Roll back", {}, command="x")
    incident.state.apply(begun)
    events = incident.breach(5)
    assert not [e for e in events if e.kind == auto_rollback.ANNOUNCED]


def test_a_refusal_escalates_to_the_next_level_and_pages(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    incident = Incident(timeline, clock, opted_in(pulse_procedure))
    incident.breach(5)
    steps = incident.automation.automatic_ended(auto_rollback.REFUSED, "no provider", clock.now())
    incident.perform(steps)
    events = timeline.events(incident.id)
    refused = next(e for e in events if e.kind == auto_rollback.REFUSED)
    assert refused.actor == auto_rollback.AUTOMATIC and "no provider" in refused.summary
    escalated = [e for e in events if e.kind == "escalation.due"]
    assert escalated and escalated[-1].payload["key"].startswith("auto:step:")
    assert "the automatic rollback refused" in escalated[-1].summary
    assert steps.notices and steps.notices[0].severity == "error"


def rehearsed(option: str, **entry: Any) -> tuple[Drill, Procedure, AutomaticRollback]:
    drill = Drill("pulse-messages")
    auto = AutomaticRollback(option=option, triggers=["error-rate"], **entry)
    procedure = drill.procedure.model_copy(update={"automatic": [auto]})
    drill.sample(DEPLOY_AT + 10)
    assert drill.firing(), "the drill's bad deploy fired"
    return drill, procedure, auto


def test_the_countdown_ends_in_a_verified_rollback_on_the_drills_platform(
    timeline: Timeline,
) -> None:
    drill, procedure, auto = rehearsed("feature-flags")
    try:
        incident = timeline.open_incident("Drill", "P1", procedure.name, drill=True)
        recorder = TimelineRecorder(timeline, incident.id)
        provider = drill.platforms.actions["feature_flags"]
        kind, reason = run_automatic(
            auto, procedure, provider, recorder, Report(deadline_seconds=60), busy=lambda: False
        )
        assert kind == auto_rollback.VERIFIED, reason
        drill.sample(10)
        assert drill.firing() == set(), "production recovered"
        recorded = kinds(timeline, incident.id)
        assert recorded.index(auto_rollback.STARTED) < recorded.index("action.intent")
    finally:
        drill.stop()


def test_a_destructive_plan_runs_unattended_only_where_the_procedure_allows_it(
    timeline: Timeline,
) -> None:
    drill, procedure, auto = rehearsed("feature-flags")
    try:
        # The same option, marked destructive by the procedure: stricter than its provider.
        options = [
            o.model_copy(update={"destructive": True}) if o.id == "feature-flags" else o
            for o in procedure.options
        ]
        strict = procedure.model_copy(update={"options": options})
        incident = timeline.open_incident("Drill", "P1", procedure.name, drill=True)
        recorder = TimelineRecorder(timeline, incident.id)
        provider = drill.platforms.actions["feature_flags"]
        report = Report(deadline_seconds=60)
        kind, reason = run_automatic(auto, strict, provider, recorder, report, busy=lambda: False)
        assert kind == auto_rollback.REFUSED and "destructive" in reason, reason
        assert "action.intent" not in kinds(timeline, incident.id), "nothing ran"
        busy = run_automatic(auto, procedure, provider, recorder, report, busy=lambda: True)
        assert busy[0] == auto_rollback.REFUSED and "a human acted" in busy[1]
        assert "action.intent" not in kinds(timeline, incident.id), "nothing ran"
        allowed = AutomaticRollback(
            option="feature-flags", triggers=["error-rate"], destructive_allowed=True
        )
        kind, reason = run_automatic(
            allowed, strict, provider, recorder, report, busy=lambda: False
        )
        assert kind == auto_rollback.VERIFIED, reason
    finally:
        drill.stop()


async def breach_until_announced(app: CockpitApp, pilot: Any, clock: FixedClock) -> None:
    """Five one-minute samples at 9 % error rate through the App, then wait for the
    announcement to come back from the timeline."""
    from cockpit.messages import MetricsSampled

    await pilot.pause()
    for _ in range(5):
        clock.advance(60)
        sample = Sample("error_rate", 9.0, clock.now(), "scrape")
        app.post_message(MetricsSampled("scrape", [sample]))
        await pilot.pause()
    for _ in range(50):
        if app.state.auto is not None:
            break
        await pilot.pause(0.05)


async def test_k_cancels_the_countdown_on_screen_and_the_banner_says_it(
    tmp_path: Path, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    procedure = opted_in(pulse_procedure)
    with Timeline(tmp_path / "t.db", clock=clock, actor="alice") as timeline:
        incident = timeline.open_incident("Checkout errors", "P1", procedure.name)
        session = Session(
            timeline=timeline,
            incident=incident,
            procedure=procedure,
            clock=clock,
            poll_interval=60.0,
        )
        app = CockpitApp(session, start_pollers=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await breach_until_announced(app, pilot, clock)
            assert app.state.auto is not None and app.state.auto.counting_down
            assert app.banner_text().startswith("AUTO ROLLBACK in 60 s · k cancels · w to decide")
            await pilot.press("k")
            for _ in range(50):
                if not app.state.auto.counting_down:
                    break
                await pilot.pause(0.05)
            assert app.state.auto.phase == "cancelled"
            clock.advance(120)
            app.tick()
            await pilot.pause(0.2)
        events = timeline.events(incident.id)
    cancelled = next(e for e in events if e.kind == auto_rollback.CANCELLED)
    assert cancelled.actor == "alice", "the responder's, not the cockpit's"
    assert "action.intent" not in [e.kind for e in events]
    assert load_builtin("pulse-messages") is not None
    assert timedelta(0) == timedelta(0)


async def test_when_the_countdown_ends_the_app_runs_it_and_a_refusal_escalates(
    tmp_path: Path, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    procedure = opted_in(pulse_procedure)
    with Timeline(tmp_path / "t.db", clock=clock, actor="alice") as timeline:
        incident = timeline.open_incident("Checkout errors", "P1", procedure.name)
        session = Session(
            timeline=timeline,
            incident=incident,
            procedure=procedure,
            clock=clock,
            poll_interval=60.0,
        )  # no feature_flags provider configured: the guard rail refuses
        app = CockpitApp(session, start_pollers=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await breach_until_announced(app, pilot, clock)
            clock.advance(60)
            app.tick()
            for _ in range(100):
                if app.state.auto is not None and app.state.auto.phase == "refused":
                    break
                await pilot.pause(0.05)
            assert app.state.auto is not None and app.state.auto.phase == "refused"
            await pilot.pause(0.2)
        events = timeline.events(incident.id)
    refused = next(e for e in events if e.kind == auto_rollback.REFUSED)
    assert refused.actor == auto_rollback.AUTOMATIC and "not configured" in refused.summary
    assert any(e.kind == "escalation.due" and e.payload["key"].startswith("auto:") for e in events)


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ("{option: nope, triggers: [error-rate]}", "unknown option 'nope'"),
        ("{option: feature-flags, triggers: [nope]}", "unknown trigger 'nope'"),
        ("{option: feature-flags, triggers: [error-rate], countdown_seconds: 1}", "countdown"),
    ],
)
def test_an_automatic_rollback_names_what_exists(entry: str, said: str) -> None:
    from cockpit.core.procedure_loader import ProcedureFileError, parse_procedure

    text = (Path(__file__).parent.parent / "checklists" / "pulse-messages.yaml").read_text()
    before, _, after = text.partition("\nautomatic:\n")
    text = before + "\n" + after.partition("\n\n")[2]  # the procedure's own entry, out
    with pytest.raises(ProcedureFileError) as refused:
        parse_procedure(f"{text}\nautomatic:\n  - {entry}\n", "pulse.yaml")
    assert said in str(refused.value) and "automatic" in str(refused.value)


def test_backtest_says_when_the_automatic_rollback_would_have_started(
    pulse_procedure: Procedure, clock: FixedClock
) -> None:
    from cockpit.core.backtest import RecordedSample, format_report, replay_procedure

    procedure = opted_in(pulse_procedure)
    start = clock.now()
    samples = [
        RecordedSample(start.replace(minute=start.minute + n), "error_rate", 9.0) for n in range(6)
    ]
    lines = format_report(procedure, replay_procedure(procedure, samples))
    # Fired on the fifth breaching minute, then the 60 s countdown.
    starts = start.replace(minute=start.minute + 5)
    said = f"automatic rollback: feature-flags would have started at {starts:%Y-%m-%dT%H:%M}:"
    assert any(line.startswith(said) for line in lines), lines
    quiet = format_report(procedure, replay_procedure(procedure, samples[:2]))
    assert "automatic rollback: would not have started (none of its triggers fired)" in quiet
