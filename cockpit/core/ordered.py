"""The steps a decision orders before any rollback, kept in the runbook's order.

ai-saas's Critical leaf reads "Notify stakeholders → Capture evidence → Execute rollback
procedure → Verify restoration → Post-mortem within 24h". An outcome's `before:` steps are the
part before the rollback: once the wizard decided that outcome, a rollback option (run by a
provider or done by hand) waits until each step is done or skipped with a reason, in order. The
last two parts are already the cockpit's: the action's verification and the checklist's dated
post-mortem item.

A step is settled by a `plan.step` event naming the outcome (the action screen's Enter, or
`skip <why>`), or by its checklist items once each is ticked or skipped. Settling a step on the
action screen ticks (or skips, with the same reason) its items still open, so the checklist and
the steps never disagree. Pure Python: the action screen asks, this module says what is settled
and what settling records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cockpit.core.manual import BEFORE, StepMark, Steps, StepStatus
from cockpit.core.procedure import OutcomeNode
from cockpit.core.wizard import DECIDED

if TYPE_CHECKING:
    from cockpit.core.checklist_state import ChecklistState
    from cockpit.core.event_log import Event
    from cockpit.core.procedure import Procedure

Item = tuple[str, str]
"""A checklist item as (list, item)."""


@dataclass(frozen=True)
class Ordered:
    """The decided outcome's steps before any rollback, and how far they are."""

    node: str
    """The outcome node the wizard decided."""
    outcome: str
    """Its words ("ROLLBACK IMMEDIATELY")."""
    steps: Steps
    items: list[list[Item]]
    """Per step, the checklist items that settle it."""

    @property
    def open(self) -> bool:
        """Whether a step is still neither done nor skipped."""
        return self.steps.next_open is not None


def decided_node(events: Iterable[Event]) -> str | None:
    """The outcome node of the incident's latest decision, if the wizard reached one."""
    node = None
    for event in events:
        if event.kind == DECIDED:
            node = str(event.payload.get("node") or "") or None
    return node


def outcome_steps(
    procedure: Procedure,
    events: list[Event],
    checklists: ChecklistState | None,
    *,
    node: str | None = None,
) -> Ordered | None:
    """The steps the latest decision (or `node`, decided but maybe not yet read back from
    the timeline) orders before any rollback; None when it orders none."""
    node = node or decided_node(events)
    outcome = procedure.tree.nodes.get(node) if node is not None else None
    if node is None or not isinstance(outcome, OutcomeNode) or not outcome.before:
        return None
    steps = Steps([step.text for step in outcome.before])
    items: list[list[Item]] = []
    for step in outcome.before:
        items.append([(ref.partition(".")[0], ref.partition(".")[2]) for ref in step.items])
    for event in events:
        if event.kind == BEFORE and event.payload.get("outcome") == node:
            mark = StepMark.from_payload(event.payload, event.actor, event.ts)
            if mark is not None:
                steps.mark(mark)
    if checklists is not None:
        for index, refs in enumerate(items):
            states = [checklists.state(*ref) for ref in refs]
            if states and all(state.status != "open" for state in states):
                last = max(states, key=lambda state: state.at)
                steps.mark(StepMark(index, "done", last.actor, last.at, "its checklist items"))
    return Ordered(node, outcome.outcome, steps, items)


def settle(
    ordered: Ordered,
    checklists: ChecklistState | None,
    index: int,
    status: StepStatus,
    reason: str = "",
) -> list[tuple[str, str, dict[str, Any]]]:
    """What settling one step records, in order: the step, then its checklist items still
    open (ticked when the step is done, skipped with the same reason when it is skipped)."""
    summary, payload = ordered.steps.event(index, status, reason)
    payload["outcome"] = ordered.node
    records: list[tuple[str, str, dict[str, Any]]] = [
        (BEFORE, f"Before any rollback ({ordered.outcome}): {summary}", payload)
    ]
    if checklists is None:
        return records
    for kind, item_id in ordered.items[index]:
        if checklists.state(kind, item_id).status != "open":
            continue
        action: Literal["tick", "skip"] = "tick" if status == "done" else "skip"
        event_kind, item_summary, item_payload = checklists.event_for(kind, item_id, action, reason)
        records.append((event_kind, item_summary, dict(item_payload)))
    return records
