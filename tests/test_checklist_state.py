"""Checklist state round-trips through the timeline; automatic items tick only when earned."""

from __future__ import annotations

import pytest

from cockpit.core.checklist_state import AUTO_TICKED, ChecklistState, Recorded
from cockpit.core.procedure import Procedure
from cockpit.core.procedure_loader import builtin_names, load_builtin
from cockpit.core.timeline import Timeline


def first_items(procedure: Procedure) -> tuple[str, list[str]]:
    kind, checklist = next(iter(procedure.checklists.items()))
    return kind, [item.id for item in checklist.items]


def recorded(timeline: Timeline, incident: int) -> list[Recorded]:
    return [Recorded(e.kind, e.payload, e.actor, e.ts) for e in timeline.events(incident)]


@pytest.mark.parametrize("name", builtin_names())
def test_ticks_unticks_and_skips_round_trip_through_the_timeline(
    timeline: Timeline, name: str
) -> None:
    procedure = load_builtin(name)
    incident = timeline.open_incident("x", "P1", name).id
    kind, items = first_items(procedure)
    live = ChecklistState(procedure)
    for action, item, reason in [
        ("tick", items[0], ""),
        ("skip", items[1], "no staging here"),
        ("tick", items[-1], ""),
        ("untick", items[-1], ""),
    ]:
        event_kind, summary, payload = live.event_for(kind, item, action, reason)  # type: ignore[arg-type]
        event = timeline.record(
            incident, event_kind, summary, payload, actor="alice via ssh 203.0.113.7"
        )
        live.replay([Recorded(event.kind, event.payload, event.actor, event.ts)])
    rebuilt = ChecklistState(procedure)
    rebuilt.replay(recorded(timeline, incident))
    assert rebuilt.items == live.items
    first = rebuilt.state(kind, items[0])
    assert first.status == "done" and first.actor == "alice via ssh 203.0.113.7" and first.at
    assert rebuilt.state(kind, items[1]).reason == "no staging here"
    assert rebuilt.state(kind, items[-1]).status == "open"
    progress = rebuilt.progress(kind)
    assert (progress.done, progress.skipped, progress.total) == (1, 1, len(items))


def test_nonsense_is_refused_with_a_reason() -> None:
    procedure = load_builtin("pulse-messages")
    state = ChecklistState(procedure)
    kind, items = first_items(procedure)
    with pytest.raises(ValueError, match="needs a reason"):
        state.event_for(kind, items[0], "skip", "  ")
    with pytest.raises(ValueError, match="is not ticked"):
        state.event_for(kind, items[0], "untick")
    with pytest.raises(ValueError, match="no item 'nope'"):
        state.event_for(kind, "nope", "tick")


def automatic_item(procedure: Procedure) -> tuple[str, str, str, str, float, int]:
    for kind, checklist in procedure.checklists.items():
        for item in checklist.items:
            auto = item.auto
            if auto is not None and auto.metric is not None:
                assert auto.comparison is not None and auto.threshold is not None
                return kind, item.id, auto.metric, auto.comparison, auto.threshold, auto.samples
    raise AssertionError("no automatic metric item")


def test_an_automatic_item_ticks_only_when_its_rule_holds_for_n_samples() -> None:
    procedure = load_builtin("huntaze")
    kind, item, metric, comparison, threshold, samples = automatic_item(procedure)
    state = ChecklistState(procedure)
    good, bad = {
        "<": (threshold - 0.5, threshold + 5),
        "<=": (threshold, threshold + 5),
        ">": (threshold + 0.5, threshold - 5),
        ">=": (threshold, threshold - 5),
        "==": (threshold, threshold + 1),
    }[comparison]
    assert not [d for d in state.automatic_due({metric: [good] * (samples - 1)}) if d[1] == item]
    assert not [
        d for d in state.automatic_due({metric: [good] * (samples - 1) + [bad]}) if d[1] == item
    ]
    assert not [
        d for d in state.automatic_due({metric: [None] + [good] * (samples - 1)}) if d[1] == item
    ]
    due = [d for d in state.automatic_due({metric: [bad] + [good] * samples}) if d[1] == item]
    assert due and due[0][0] == kind and f"for the last {samples} samples" in due[0][2]
    state.replay([Recorded(AUTO_TICKED, {"list": kind, "item": item}, "cockpit", "t")])
    assert state.state(kind, item).automatic
    assert not [d for d in state.automatic_due({metric: [good] * samples}) if d[1] == item]
