"""The escalation clock fires each step at its minute, and status updates on their cadence."""

from __future__ import annotations

from datetime import timedelta

from cockpit.core.clock import FixedClock
from cockpit.core.escalation import EscalationClock
from cockpit.core.procedure_loader import load_builtin


def test_each_step_is_due_at_its_minute_and_only_once() -> None:
    clock = FixedClock()
    procedure = load_builtin("pulse-messages")
    escalation = EscalationClock(procedure.escalation, clock.now())
    recorded: set[str] = set()
    seen: dict[int, list[str]] = {}
    for minute in range(0, 21):
        now = clock.now() + timedelta(minutes=minute)
        for due in escalation.due(now, recorded):
            recorded.add(due.key)
            seen.setdefault(minute, []).append(due.summary)
    steps = {m: [s for s in summaries if s.startswith("Escalate")] for m, summaries in seen.items()}
    assert [m for m, s in steps.items() if s] == [5, 10, 15, 20]  # the seed's 5 / 10 / 15 / 20
    assert steps[15] == ["Escalate to CTO (level 3, 15 min)"]
    updates = [m for m, summaries in seen.items() if any("Status update" in s for s in summaries)]
    assert updates == [5, 10, 15, 20]  # "status updates every 5 minutes"


def test_the_countdown_names_the_next_step() -> None:
    clock = FixedClock()
    escalation = EscalationClock(load_builtin("pulse-messages").escalation, clock.now())
    upcoming = escalation.next_step(clock.now() + timedelta(minutes=7))
    assert upcoming is not None and "Engineering Manager" in upcoming.summary
    assert escalation.next_step(clock.now() + timedelta(minutes=21)) is None


def test_steps_without_minutes_are_never_due_by_time() -> None:
    clock = FixedClock()
    escalation = EscalationClock(load_builtin("pitchey").escalation, clock.now())
    assert not [
        d
        for d in escalation.due(clock.now() + timedelta(hours=5), set())
        if d.key.startswith("step:")
    ]


async def test_the_app_records_each_step_once_and_counts_down(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cockpit.app import CockpitApp
    from cockpit.core.timeline import Timeline
    from cockpit.session import Session

    clock = FixedClock()
    timeline = Timeline(tmp_path / "t.db", clock=clock)
    procedure = load_builtin("pulse-messages")
    incident = timeline.open_incident("x", "P1", "pulse-messages")

    def app() -> CockpitApp:
        session = Session(timeline=timeline, incident=incident, procedure=procedure, clock=clock)
        return CockpitApp(session, start_pollers=False)

    def shown(cockpit: CockpitApp) -> str:
        return str(cockpit.screen.query_one("#escalation").render())

    first = app()
    async with first.run_test(size=(100, 30)) as pilot:
        first.tick()
        await pilot.pause(0.3)
        assert "→ On-call Engineer in 05:00" in shown(first)
        for _ in range(10):  # to minute 10, one minute at a time
            clock.advance(60)
            first.tick()
            await pilot.pause()
        await pilot.pause(0.3)
        assert "→ CTO in 05:00" in shown(first)
        messages = [str(n.message) for n in first._notifications]
        assert any("Escalate to Engineering Manager" in m for m in messages)
        clock.advance(600)  # ten minutes without a tick: four items at once, one reminder
        before = len(first._notifications)
        first.tick()
        await pilot.pause()
        assert len(first._notifications) == before + 1
        last = str(list(first._notifications)[-1].message)
        assert "Escalate to CEO" in last and "Status update #4" in last and "+3 earlier" in last
        assert "Status update #3 missed" in last  # no update was given all along
    due = [e.summary for e in timeline.events(incident.id) if e.kind == "escalation.due"]
    assert due[:4] == [
        "Escalate to On-call Engineer (level 1, 5 min)",
        "Status update #1 due (every 5 min)",
        "Escalate to Engineering Manager (level 2, 10 min)",
        "Status update #2 due (every 5 min)",
    ]
    assert len(due) == 8  # every item is in the timeline, even those announced together
    again = app()
    async with again.run_test(size=(100, 30)) as pilot:
        again.tick()
        await pilot.pause()
    assert len([e for e in timeline.events(incident.id) if e.kind == "escalation.due"]) == 8
    missed = [
        e.payload["key"] for e in timeline.events(incident.id) if e.kind == "escalation.missed"
    ]
    assert missed == ["missed:1", "missed:2", "missed:3"]  # #4's window is still open at 20:00


def test_a_status_update_is_missed_only_when_nothing_was_sent_in_its_window() -> None:
    clock = FixedClock()
    opened = clock.now()
    escalation = EscalationClock(load_builtin("pulse-messages").escalation, opened)  # every 5 min
    given = [opened + timedelta(minutes=4)]  # a little early for update #1 (due at 5): counts
    recorded: set[str] = set()
    missed_at: dict[int, list[str]] = {}
    for second in range(0, 16 * 60, 30):
        now = opened + timedelta(seconds=second)
        for late in escalation.missed_updates(now, given, recorded):
            recorded.add(late.key)
            missed_at.setdefault(second, []).append(late.key)
    # #1 was given; #2 (due 10:00, window 07:30-12:30) was not: missed at 12:30, once; #3's
    # window closes at 17:30, after the end of this run.
    assert missed_at == {12 * 60 + 30: ["missed:2"]}


def test_an_update_given_late_in_its_window_still_counts() -> None:
    clock = FixedClock()
    opened = clock.now()
    escalation = EscalationClock(load_builtin("pulse-messages").escalation, opened)
    late_but_within = [opened + timedelta(minutes=7, seconds=20)]  # #1's window ends at 07:30
    now = opened + timedelta(minutes=8)
    assert escalation.missed_updates(now, late_but_within, set()) == []
    assert [d.key for d in escalation.missed_updates(now, [], set())] == ["missed:1"]
