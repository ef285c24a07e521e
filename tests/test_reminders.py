"""A checklist item the runbook gives a deadline shows it while open, and says when it is
overdue (ai-saas: "Post-mortem scheduled (within 24h)")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.reminders import deadline_text
from cockpit.core.timeline import Timeline
from cockpit.session import Session

AT = datetime(2026, 1, 15, 3, 12, tzinfo=UTC)


def test_a_deadline_reads_as_the_time_left_then_as_overdue() -> None:
    assert deadline_text(AT, AT - timedelta(hours=23, minutes=55)) == (
        "due 03:12 UTC, in 23 h 55 min"
    )
    assert deadline_text(AT, AT + timedelta(minutes=1)) == "OVERDUE since 03:12 UTC"


async def test_the_checklist_shows_the_items_deadline_until_it_is_done(tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = FixedClock(AT)
    timeline = Timeline(tmp_path / "t.db", clock=clock)
    incident = timeline.open_incident("x", "P1", "ai-saas")
    session = Session(
        timeline=timeline, incident=incident, procedure=load_builtin("ai-saas"), clock=clock
    )
    app = CockpitApp(session, start_pollers=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen

        def line() -> str:
            found = [o for o in screen.options("during") if o.id == "postmortem"]  # type: ignore[attr-defined]
            return str(found[0].prompt)

        opened = datetime.fromisoformat(incident.opened_at.replace("Z", "+00:00"))
        due = (opened + timedelta(hours=24)).strftime("%H:%M")
        assert f"due {due} UTC, in 24 h 00 min" in line()
        clock.advance(25 * 3600)
        assert f"OVERDUE since {due} UTC" in line()


DEADLINES = {"< 1 hour": 1, "< 24 hours": 24, "within 24h": 24, "< 1 week": 168}


def test_every_deadline_a_runbook_words_is_one_the_checklist_keeps() -> None:
    """A deadline in an item's words or section ("Short-term (< 24 hours)") is its
    within_hours, in every built-in: none is left as prose only."""
    worded = 0
    for name in ("ai-saas", "five-levels", "huntaze", "pitchey", "pulse-messages"):
        for kind, checklist in load_builtin(name).checklists.items():
            for item in checklist.items:
                said = [
                    h for words, h in DEADLINES.items() if words in f"{item.section} {item.text}"
                ]
                if said:
                    worded += 1
                    assert item.within_hours == said[0], f"{name} {kind}.{item.id}"
    assert worded >= 16, "ai-saas's post-mortem and five-levels' fifteen follow-ups"
