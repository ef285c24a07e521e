"""What the driving cockpit does by itself, tested without Textual: a trigger that fires is
recorded and paged once; escalation comes due once per step, with one notice; items tick
themselves only on readings after the decision, and once; a verified rollback ticks what
waits for it; acknowledging and closing page, whoever wrote them; a responder's automation
feeds its board and writes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cockpit.core.automation import Automation, Steps
from cockpit.core.board import Board
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import Sample
from cockpit.core.procedure import Procedure
from cockpit.core.state import IncidentState
from cockpit.core.timeline import Timeline


class Incident:
    """One incident: its timeline, its state and its automation, events folded as they come."""

    def __init__(
        self, timeline: Timeline, clock: FixedClock, procedure: Procedure, *, driving: bool = True
    ) -> None:
        self.timeline, self.clock = timeline, clock
        opened = timeline.open_incident("Checkout errors", "P1", procedure.name)
        self.id = opened.id
        self.state = IncidentState.replay(opened, timeline.events(opened.id), procedure)
        self.automation = Automation(self.state, driving=driving)
        self.automation.use(Board(procedure, 60.0))

    def arrive(self, kind: str, summary: str = "", payload: dict[str, Any] | None = None) -> Steps:
        """An event committed (by anyone) and read back: the state folds it, then the
        automation hears of it."""
        event = self.timeline.record(self.id, kind, summary or kind, payload or {})
        self.state.apply(event)
        return self.automation.event(event)

    def last(self) -> Steps:
        """The event a Timeline method just wrote arrives."""
        event = self.timeline.events(self.id)[-1]
        self.state.apply(event)
        return self.automation.event(event)

    def close(self, resolution: str) -> Steps:
        self.timeline.close_incident(self.id, resolution)
        return self.last()

    def result(self, payload: dict[str, Any]) -> Steps:
        """A rollback action begun and finished as succeeded, with this result payload."""
        begun = self.timeline.begin_action(
            self.id, "vercel.instant_rollback", "Roll back", {}, command="vercel rollback"
        )
        self.state.apply(begun)
        action_id = begun.payload["action_id"]
        self.timeline.finish_action(self.id, action_id, "succeeded", "done", payload)
        return self.last()

    def perform(self, steps: Steps) -> list[Steps]:
        """What the App does: write each event, which then arrives."""
        return [self.arrive(w.kind, w.summary, w.payload) for w in steps.writes]

    def reading(self, metric: str, value: float | None) -> Steps:
        self.clock.advance(60)
        answered = self.automation.source_answered("scrape")
        answered += self.automation.readings([Sample(metric, value, self.clock.now(), "scrape")])
        return answered

    def failure(self, metric: str, reason: str) -> Steps:
        """What the App does when the source fails: said once, then a reading with no value."""
        steps = self.automation.source_failed("scrape", reason)
        now = self.clock.now()
        steps += self.automation.readings([Sample(metric, None, now, "scrape", reason)])
        return steps


@pytest.fixture
def incident(timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure) -> Incident:
    # Without its automatic rollback (tests/test_auto_rollback.py): what a fired trigger does
    # by itself, and nothing more.
    return Incident(timeline, clock, pulse_procedure.model_copy(update={"automatic": []}))


def kinds(steps: Steps) -> list[str]:
    return [write.kind for write in steps.writes]


def test_a_trigger_that_fires_is_recorded_rung_and_paged_once(incident: Incident) -> None:
    incident.automation.paging = True
    assert kinds(incident.reading("critical_bug_reports_1h", 3.0)) == []
    fired = incident.reading("critical_bug_reports_1h", 12.0)
    assert kinds(fired) == ["trigger.fired", "outbox.queued"] and fired.bell
    assert fired.writes[0].payload["rule"] == "critical-bug-reports"
    assert fired.writes[0].payload["value"] == 12.0
    paged = fired.writes[1].payload["message"]
    assert paged["channel"] == "pagerduty" and paged["stage"] == "trigger"
    assert paged["key"] == f"cockpit-incident-{incident.id}"
    assert kinds(incident.reading("critical_bug_reports_1h", 13.0)) == [], "fired once"
    cleared = incident.reading("critical_bug_reports_1h", 2.0)
    assert kinds(cleared) == ["trigger.cleared"] and not cleared.bell


def test_without_a_paging_service_nothing_is_paged(incident: Incident) -> None:
    assert kinds(incident.reading("critical_bug_reports_1h", 12.0)) == ["trigger.fired"]


def test_a_responder_feeds_its_board_and_writes_nothing(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    responder = Incident(timeline, clock, pulse_procedure, driving=False)
    responder.automation.paging = True
    fired = responder.reading("critical_bug_reports_1h", 12.0)
    assert fired.writes == [] and not fired.bell
    board = responder.automation.board
    assert board is not None and [r.id for r, _ in board.firing()] == ["critical-bug-reports"]
    clock.advance(3600)
    assert responder.automation.due(clock.now()).writes == []
    failed = responder.failure("error_rate", "timed out")
    assert failed.writes == [] and "scrape" in responder.automation.failing
    closed = responder.close("fixed")
    assert closed.writes == [] and closed.stop_sources, "every cockpit stops its sources"


def test_escalation_comes_due_once_per_step_with_one_notice(
    incident: Incident, clock: FixedClock
) -> None:
    assert incident.automation.due(clock.now()).writes == []
    assert incident.automation.next_escalation(clock.now()) == "→ On-call Engineer in 05:00"
    clock.advance(16 * 60)  # three steps, three updates due and two missed behind
    due = incident.automation.due(clock.now())
    assert kinds(due).count("escalation.due") == 6
    assert kinds(due).count("escalation.missed") == 2
    assert len(due.notices) == 1 and due.notices[0].severity == "error"
    assert "CTO" in due.notices[0].message and "earlier, in the timeline" in due.notices[0].message
    assert incident.automation.due(clock.now()).writes == [], "on their way: not asked again"
    incident.perform(due)
    assert incident.automation.escalating == set(), "read back: no longer on their way"
    assert incident.automation.due(clock.now()).writes == [], "recorded: not again"
    assert incident.automation.next_escalation(clock.now()) == "→ CEO in 04:00"
    incident.close("fixed")
    clock.advance(3600)
    assert incident.automation.due(clock.now()).writes == [], "a closed incident escalates no more"


def test_items_tick_themselves_only_on_readings_after_the_rollback(incident: Incident) -> None:
    """A metric healthy all along verifies nothing: not before the decision, not after it,
    not after a checklist item's own check; only readings after a rollback succeeded count."""
    for _ in range(5):
        assert incident.reading("auth_check_failed", 0.0).writes == [], "before the decision"
    incident.arrive("wizard.decided", "Decided", {"options": ["vercel-instant"]})
    for _ in range(5):
        assert incident.reading("auth_check_failed", 0.0).writes == [], "before the rollback"
    incident.result({"checklist": ["verification", "app-health"]})  # a health check, no rollback
    for _ in range(5):
        assert incident.reading("auth_check_failed", 0.0).writes == [], "still no rollback"
    incident.result({"option": "vercel-instant"})  # rolled back (not verified by the provider)
    steps = [incident.reading("auth_check_failed", 0.0) for _ in range(3)]
    assert steps[0].writes == [] and steps[1].writes == [], "three readings after it"
    ticked = [w.payload for s in steps for w in s.writes if w.kind == "checklist.auto_ticked"]
    assert [(t["list"], t["item"]) for t in ticked] == [("verification", "flow-login")]
    assert incident.reading("auth_check_failed", 0.0).writes == [], "asked once while on its way"
    incident.perform(steps[-1])
    assert incident.automation.ticking == set()
    assert incident.reading("auth_check_failed", 0.0).writes == [], "ticked: not again"


def test_a_verified_rollback_ticks_the_items_waiting_for_its_check(incident: Incident) -> None:
    item = ["verification", "app-health"]
    unverified = incident.result({"checklist": item})
    assert unverified.writes == [], "not verified: nothing ticks"
    verified = incident.result({"verified": True, "checklist": item})
    assert [(w.kind, w.payload) for w in verified.writes] == [
        ("checklist.auto_ticked", {"list": "verification", "item": "app-health"})
    ]
    assert "its check passed" in verified.writes[0].summary


def test_acknowledging_and_closing_page_whoever_wrote_them(incident: Incident) -> None:
    incident.automation.paging = True
    incident.timeline.acknowledge(incident.id)
    steps = incident.last()
    assert incident.state.incident.acknowledged_at is not None
    assert [w.payload["message"]["stage"] for w in steps.writes] == ["acknowledge"]
    closed = incident.close("rolled back")
    assert [w.payload["message"]["stage"] for w in closed.writes] == ["resolve"]
    assert closed.writes[0].payload["message"]["body"] == "rolled back"
    assert closed.stop_sources


def test_a_failing_source_is_said_once_and_its_recovery_once(
    incident: Incident, clock: FixedClock
) -> None:
    first = incident.failure("error_rate", "timed out")
    assert [(w.kind, w.summary) for w in first.writes] == [("source.failed", "scrape: timed out")]
    again = incident.failure("error_rate", "timed out")
    assert again.writes == []
    board = incident.automation.board
    assert board is not None
    view = next(v for v in board.views(clock.now()) if v.metric == "error_rate")
    assert view.value is None and "timed out" in view.detail
    recovered = incident.reading("error_rate", 0.5)
    assert kinds(recovered) == ["source.recovered"]
    assert kinds(incident.reading("error_rate", 0.5)) == []


def test_the_next_escalation_is_blank_when_nothing_timed_is_ahead(
    incident: Incident, clock: FixedClock
) -> None:
    clock.advance(timedelta(hours=2).total_seconds())
    assert incident.automation.next_escalation(clock.now()) == ""


def test_a_verified_rollback_ticks_execute_rollback_procedure(incident: Incident) -> None:
    assert incident.result({"option": "vercel-instant"}).writes == [], "not verified"
    verified = incident.result({"option": "vercel-instant", "verified": True})
    ticked = {(w.payload["list"], w.payload["item"]) for w in verified.writes}
    assert ("quick", "execute") in ticked and ("during", "execute-rollback") in ticked
    assert all("vercel-instant verified" in w.summary for w in verified.writes)


def test_an_item_past_its_deadline_is_reminded_once_unless_done(
    timeline: Timeline, clock: FixedClock
) -> None:
    """ai-saas: "Post-mortem scheduled (within 24h)"; reminded once it passes still open."""
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.core.reminders import OVERDUE

    ai_saas = Incident(timeline, clock, load_builtin("ai-saas"))
    clock.advance(23 * 3600)

    def overdue(steps: Steps) -> list[str]:
        return [w.payload["item"] for w in steps.writes if w.kind == OVERDUE]

    assert overdue(ai_saas.automation.due(clock.now())) == [], "not yet"
    clock.advance(3600 + 1)
    due = ai_saas.automation.due(clock.now())
    assert overdue(due) == ["postmortem"]
    assert any("Post-mortem scheduled" in notice.message for notice in due.notices)
    assert overdue(ai_saas.automation.due(clock.now())) == [], "on its way: not asked again"
    ai_saas.perform(due)
    assert overdue(ai_saas.automation.due(clock.now())) == [], "recorded: once"


def test_an_item_done_in_time_is_never_reminded(timeline: Timeline, clock: FixedClock) -> None:
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.core.reminders import OVERDUE

    ai_saas = Incident(timeline, clock, load_builtin("ai-saas"))
    ai_saas.arrive(
        "checklist.ticked", "Post-mortem scheduled", {"list": "during", "item": "postmortem"}
    )
    assert ai_saas.state.checklists is not None
    assert ai_saas.state.checklists.state("during", "postmortem").status == "done"
    clock.advance(25 * 3600)
    assert [w for w in ai_saas.automation.due(clock.now()).writes if w.kind == OVERDUE] == []
