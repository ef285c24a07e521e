"""The one reducer, without Textual: folding the events one at a time as they are written gives
exactly what replaying the timeline gives, and what each older derivation gave, for every kind
of event; a procedure known late gives the same; two responders' answers to one question are
both kept, the later winning."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from cockpit.core.actions import Delivered, Outgoing
from cockpit.core.checklist_state import ChecklistState, Recorded
from cockpit.core.clock import FixedClock
from cockpit.core.drafts import saved_drafts
from cockpit.core.outbox import Outbox
from cockpit.core.postmortem import written
from cockpit.core.procedure import Procedure
from cockpit.core.state import MILESTONE_KINDS, IncidentState
from cockpit.core.timeline import Event, Timeline
from cockpit.core.wizard import ANSWERED, Wizard


def snapshot(state: IncidentState) -> dict[str, Any]:
    """Everything the state holds, comparable."""
    assert state.checklists is not None and state.wizard is not None
    return {
        "incident": asdict(state.incident),
        "events": [e.id for e in state.events],
        "rolled_back_at": state.rolled_back_at,
        "decision": state.decision,
        "escalation": sorted(state.escalation_keys),
        "updates": state.updates_given,
        "pending": sorted(state.outbox.pending),
        "references": state.outbox.references,
        "drafts": state.drafts,
        "sections": state.sections,
        "actions": {k: asdict(v) for k, v in state.actions.items()},
        "in_flight": [a.action_id for a in state.in_flight],
        "conflicts": [(c.node, c.earlier.key, c.later.key) for c in state.conflicts],
        "last_session": state.last_session.id if state.last_session else None,
        "wizard": [(s.node, s.key, s.actor) for s in state.wizard.path],
        "checklists": dict(state.checklists.items),
        "milestones": state.milestones(),
        "recovered": state.recovered_at,
    }


def every_kind(timeline: Timeline, clock: FixedClock, procedure: Procedure) -> int:
    """An incident with an event of every kind the cockpit writes; returns its id."""
    incident = timeline.open_incident("Checkout errors", "P2", procedure.name).id
    record = timeline.record
    record(incident, "session.started", "cockpit attached", {"read_only": False})
    record(incident, "trigger.fired", "Error rate > 5%", {"rule": "error-rate"})
    clock.advance(30)
    timeline.acknowledge(incident)
    timeline.set_severity(incident, "P1")
    start = procedure.tree.start
    first = procedure.tree.nodes[start].answers[0]  # type: ignore[union-attr]
    record(incident, ANSWERED, "Decision", {"node": start, "key": first.key, "label": first.label})
    record(incident, "wizard.back", "Changed", {"node": start})
    wizard = Wizard(procedure)
    while not wizard.done:
        step = wizard.answer(wizard.question.answers[0].key)  # type: ignore[union-attr]
        record(incident, ANSWERED, f"Decision: {step.label}", Wizard.payload(step))
    options = [o.id for o in wizard.recommendation().options]
    record(incident, "wizard.decided", "Decided", {"options": options})
    checklists = ChecklistState(procedure)
    kind = next(iter(procedure.checklists))
    items = [item.id for item in procedure.checklists[kind].items]
    for action, item in (("tick", items[0]), ("skip", items[1]), ("tick", items[2])):
        event_kind, summary, payload = checklists.event_for(kind, item, action, "because")  # type: ignore[arg-type]
        record(incident, event_kind, summary, payload)
        checklists.replay([Recorded(event_kind, payload, "me", "t")])
    event_kind, summary, payload = checklists.event_for(kind, items[2], "untick")
    record(incident, event_kind, summary, payload)
    record(incident, "checklist.auto_ticked", "By itself", {"list": kind, "item": items[3]})
    record(incident, "escalation.due", "→ CTO", {"key": "step:1", "due_at": "x"})
    record(incident, "escalation.missed", "missed", {"key": "update:1", "at": "x"})
    message = Outgoing(channel="slack", subject="Rolling back", body="now", key="k")
    queued_kind, summary, queued = Outbox.queue(message)
    record(incident, queued_kind, summary, queued)
    second_kind, summary, second = Outbox.queue(Outgoing("statuspage", "Down", "b", "k2"))
    record(incident, second_kind, summary, second)
    box = Outbox()
    box.apply(queued_kind, queued, clock.now())
    box.apply(second_kind, second, clock.now())
    pending = box.pending[queued["id"]]
    failed = Outbox.failed(pending, "503", clock.now(), None)
    record(incident, *failed[:2], failed[2])
    record(
        incident,
        *Outbox.sent(pending, Delivered("ok", "ref-1"))[:2],
        Outbox.sent(pending, Delivered("ok", "ref-1"))[2],
    )
    refused = Outbox.refused(box.pending[second["id"]], "revoked")
    record(incident, refused[0], refused[1], refused[2])
    record(incident, "draft.saved", "Draft", {"template": "internal", "subject": "s", "body": "b"})
    record(
        incident, "draft.saved", "Draft", {"template": "internal", "subject": "s2", "body": "b2"}
    )
    record(incident, "postmortem.written", "Root cause", {"section": "root-cause", "text": "x"})
    done = timeline.begin_action(
        incident,
        "vercel.instant_rollback",
        "Roll back",
        {"target": "shop", "option": options[0]},
        command="vercel rollback",
    )
    clock.advance(60)
    timeline.finish_action(
        incident, done.payload["action_id"], "succeeded", "Done", {"verified": True}
    )
    timeline.begin_action(incident, "git.revert", "Revert", {"target": "repo"}, command="git")
    failed_action = timeline.begin_action(incident, "k8s.scale", "Scale", {}, command="kubectl")
    timeline.finish_action(incident, failed_action.payload["action_id"], "failed", "No", {})
    record(incident, "session.hangup", "cockpit detached", {})
    timeline.close_incident(incident, "rolled back")
    return incident


def test_folding_as_written_equals_replaying_and_the_older_derivations(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    incident = every_kind(timeline, clock, pulse_procedure)
    events = timeline.events(incident)
    opened = timeline.incident(incident)
    live = IncidentState(_opened(events, opened), pulse_procedure)
    for event in events:  # as the feed delivers them, one by one
        live.apply(event)
    replayed = IncidentState.replay(_opened(events, opened), events, pulse_procedure)
    assert snapshot(live) == snapshot(replayed)
    # And what the scattered derivations it replaces say.
    assert live.incident == timeline.incident(incident)
    assert live.incident.status == "closed" and live.incident.severity == "P1"
    checklists = ChecklistState(pulse_procedure)
    checklists.replay(Recorded(e.kind, e.payload, e.actor, e.ts) for e in events)
    assert live.checklists is not None and live.checklists.items == checklists.items
    assert live.drafts == saved_drafts((e.kind, e.payload) for e in events)
    assert live.sections == written((e.kind, e.payload) for e in events)
    unresolved = {e.payload["action_id"] for e in timeline.unresolved_actions(incident)}
    assert {a.action_id for a in live.in_flight} == unresolved and len(unresolved) == 1
    outbox = Outbox()
    outbox.replay((e.kind, e.payload, e.at) for e in events)
    assert live.outbox.pending == outbox.pending == {}
    assert live.outbox.references == outbox.references
    assert live.escalation_keys == {"step:1", "update:1"}
    assert len(live.updates_given) == 3  # two drafts saved and one message sent
    assert live.last_session is not None and live.last_session.kind == "session.hangup"
    assert live.decision and live.rolled_back_at is not None
    verified = [a for a in live.actions.values() if a.verified]
    assert len(verified) == 1 and verified[0].option == live.decision[0]
    succeeded = next(
        e for e in events if e.kind == "action.result" and e.payload["outcome"] == "succeeded"
    )
    assert live.rolled_back_at == succeeded.at, "checks count from the last successful rollback"
    # The post-mortem's Durations table and `cockpit stats` read these milestones.
    first = {kind: next((e.ts for e in events if e.kind == kind), None) for kind in MILESTONE_KINDS}
    assert live.milestones() == {
        "impact": None,  # the fired events of this test name no breach start
        "detect": first["trigger.fired"],
        "acknowledge": live.incident.acknowledged_at,
        "decide": first["wizard.decided"],
        "rollback_start": first["action.intent"],
        "rollback_end": succeeded.ts,  # the first action's result
        "verify": succeeded.ts,
        "total": live.incident.closed_at,
    }
    assert live.recovered_at == succeeded.ts
    only_milestones = [e for e in events if e.kind in MILESTONE_KINDS]
    assert IncidentState.replay(live.incident, only_milestones).milestones() == live.milestones()


def test_a_procedure_known_late_gives_the_same_state(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    incident = every_kind(timeline, clock, pulse_procedure)
    events = timeline.events(incident)
    opened = _opened(events, timeline.incident(incident))
    early = IncidentState.replay(opened, events, pulse_procedure)
    late = IncidentState.replay(opened, events)
    assert late.wizard is None and late.checklists is None
    late.use_procedure(pulse_procedure)
    assert snapshot(late) == snapshot(early)


def test_two_responders_answering_one_question_are_both_kept_the_later_winning(
    timeline: Timeline, pulse_procedure: Procedure
) -> None:
    incident = timeline.open_incident("x", "P1", pulse_procedure.name).id
    start = pulse_procedure.tree.start
    question = pulse_procedure.tree.nodes[start]
    yes, no = question.answers[0], question.answers[1]  # type: ignore[union-attr]
    timeline.record(incident, ANSWERED, "a", {"node": start, "key": yes.key}, actor="alice")
    timeline.record(incident, ANSWERED, "b", {"node": start, "key": no.key}, actor="bob")
    timeline.record(incident, ANSWERED, "again", {"node": start, "key": no.key}, actor="carol")
    state = IncidentState.replay(
        timeline.incident(incident), timeline.events(incident), pulse_procedure
    )
    assert state.wizard is not None
    assert [(s.node, s.key, s.actor) for s in state.wizard.path] == [(start, no.key, "bob")]
    (conflict,) = state.conflicts  # carol agreed with bob: no second conflict
    assert (conflict.earlier.actor, conflict.earlier.key) == ("alice", yes.key)
    assert (conflict.later.actor, conflict.later.key) == ("bob", no.key)


def _opened(events: list[Event], incident: Any) -> Any:
    """The incident as it was opened (the state folds the rest itself)."""
    from cockpit.core.incidents import project

    first = events[0]
    return project([(first.incident, first.kind, first.ts, first.payload)])[incident.id]


def test_a_checklist_item_s_check_is_no_rollback(timeline: Timeline, clock: FixedClock) -> None:
    """A health check or a backup run from a checklist before the rollback starts no clock."""
    incident = timeline.open_incident("x", "P1", "pulse-messages")
    check = timeline.begin_action(
        incident.id, "verification.health_check", "Check", {"checklist": ["v", "h"]}, command="c"
    )
    timeline.finish_action(incident.id, check.payload["action_id"], "succeeded", "ok", {})
    clock.advance(60)
    rollback = timeline.begin_action(incident.id, "vercel.instant_rollback", "R", {}, command="v")
    clock.advance(60)
    timeline.finish_action(incident.id, rollback.payload["action_id"], "succeeded", "ok", {})
    state = IncidentState.replay(incident, timeline.events(incident.id))
    assert [a.action for a in state.rollbacks] == ["vercel.instant_rollback"]
    reached = state.milestones()
    assert reached["rollback_start"] == rollback.ts
    assert state.recovered_at == reached["rollback_end"] != check.ts
