"""Drafts: every built-in template renders from recorded facts; gaps stay visible."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cockpit.core.clock import FixedClock
from cockpit.core.drafts import incident_facts, missing, render
from cockpit.core.procedure_loader import builtin_names, load_builtin
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
    assert facts["eta"] == procedure.options[0].recovery_time.text
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
