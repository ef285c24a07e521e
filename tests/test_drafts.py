"""Drafts: every built-in template renders from recorded facts; gaps stay visible."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cockpit.core.clock import FixedClock
from cockpit.core.drafts import incident_facts, missing, render
from cockpit.core.procedure_loader import builtin_names, load_builtin
from cockpit.core.recovery_text import recovery_words
from cockpit.core.timeline import Timeline


def facts_for(
    timeline: Timeline, clock: FixedClock, name: str, decide: bool = True
) -> dict[str, str]:
    procedure = load_builtin(name)
    incident = timeline.open_incident("Checkout errors after deploy", "P1", name)
    clock.advance(60)
    timeline.record(incident.id, "trigger.fired", "Error rate > 5%: error_rate 9% breaches > 5%")
    if decide:
        option = procedure.options[0]
        timeline.record(incident.id, "wizard.decided", "Decided", {"options": [option.id]})
    clock.advance(12 * 60)
    events = [(e.kind, e.summary, e.payload, e.ts) for e in timeline.events(incident.id)]
    return incident_facts(procedure, timeline.incident(incident.id), events, clock.now())


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_template_renders_from_the_timeline(
    timeline: Timeline, clock: FixedClock, name: str
) -> None:
    procedure = load_builtin(name)
    facts = facts_for(timeline, clock, name)
    assert facts["duration"] == "13 minutes" and facts["severity"] == "P1"
    assert facts["reason"] == "Error rate > 5%"
    assert facts["eta"] == recovery_words(procedure.options[0].recovery_time)  # said once
    for template in procedure.templates.values():
        subject, body = render(template, facts)
        for fact in ("severity", "reason", "duration", "eta"):
            if fact in template.placeholders():
                assert facts[fact] in subject + body
        for gap in missing(template, facts):  # what the timeline cannot know stays visible
            assert f"[{gap}]" in subject + body


def test_nothing_is_invented_before_a_decision(timeline: Timeline, clock: FixedClock) -> None:
    facts = facts_for(timeline, clock, "pulse-messages", decide=False)
    assert "eta" not in facts and "level" not in facts
    template = next(
        t for t in load_builtin("pulse-messages").templates.values() if "eta" in t.placeholders()
    )
    _, body = render(template, facts)
    assert "[eta]" in body


def test_a_closed_incident_has_its_end_time(timeline: Timeline, clock: FixedClock) -> None:
    incident = timeline.open_incident("x", "P2", "pulse-messages")
    clock.advance(timedelta(minutes=42).total_seconds())
    timeline.close_incident(incident.id, "rolled back")
    closed = timeline.incident(incident.id)
    facts = incident_facts(
        load_builtin("pulse-messages"), closed, [], clock.now() + timedelta(hours=1)
    )
    assert facts["duration"] == "42 minutes" and facts["end_time"] == "03:54"


def test_pitchey_s_status_page_line_says_what_the_outbox_did(
    timeline: Timeline, clock: FixedClock
) -> None:
    """The runbook's "Status Page: [Updated/Updating]", not the incident's status ("open")."""
    from cockpit.core.actions import Delivered, Outgoing
    from cockpit.core.outbox import Outbox

    procedure = load_builtin("pitchey")
    incident = timeline.open_incident("Worker errors", "P1", "pitchey").id

    def line() -> str:
        events = [(e.kind, e.summary, e.payload, e.ts) for e in timeline.events(incident)]
        facts = incident_facts(procedure, timeline.incident(incident), events, clock.now())
        _, body = render(procedure.templates["internal"], facts)
        return next(row for row in body.splitlines() if "Status Page" in row)

    assert line() == "- Status Page: Not updated yet"
    slack = Outgoing("slack", "Rolling back", "now", "k", extra={"template": "internal"})
    timeline.record(incident, *Outbox.queue(slack)[:2], Outbox.queue(slack)[2])
    assert line() == "- Status Page: Not updated yet", "a Slack message is not the status page"
    update = Outgoing("statuspage", "Down", "b", "k2", extra={"template": "status-investigating"})
    kind, summary, queued = Outbox.queue(update)
    timeline.record(incident, kind, summary, queued)
    assert line() == "- Status Page: Updating"
    box = Outbox()
    box.apply(kind, queued, clock.now())
    sent = Outbox.sent(box.pending[queued["id"]], Delivered("ok", "ref"))
    timeline.record(incident, sent[0], sent[1], sent[2])
    assert line() == "- Status Page: Updated"
