"""Checklist items a runbook gives a deadline ("post-mortem scheduled within 24h"): when each
falls due, which are overdue and still open, and how the deadline reads on screen.

The deadline counts from the incident's opening (`within_hours` of the item). An overdue item
is reminded of once (`reminder.overdue`, its key in the payload); ticking or skipping it ends
it. Pure: the procedure, the checklists' state and the time in, deadlines out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.core.checklist_state import ChecklistState
    from cockpit.core.procedure import ChecklistItem, Procedure

OVERDUE = "reminder.overdue"
"""An item passed its deadline still open (payload: key, list, item, due_at)."""


@dataclass(frozen=True)
class Deadline:
    """One item's deadline."""

    kind: str
    item: ChecklistItem
    at: datetime

    @property
    def key(self) -> str:
        return f"overdue:{self.kind}/{self.item.id}"


def due_at(item: ChecklistItem, opened_at: datetime) -> datetime | None:
    """When `item` is due, or None when the runbook gives it no deadline."""
    if item.within_hours is None:
        return None
    return opened_at + timedelta(hours=item.within_hours)


def deadlines(procedure: Procedure, opened_at: datetime) -> list[Deadline]:
    """Every item with a deadline, soonest first."""
    found = [
        Deadline(kind, item, due)
        for kind, checklist in procedure.checklists.items()
        for item in checklist.items
        if (due := due_at(item, opened_at)) is not None
    ]
    return sorted(found, key=lambda deadline: deadline.at)


def overdue(
    checklists: ChecklistState, opened_at: datetime, now: datetime, known: set[str]
) -> list[Deadline]:
    """Items past their deadline, still open, not reminded of yet (`known` keys)."""
    return [
        deadline
        for deadline in deadlines(checklists.procedure, opened_at)
        if deadline.at <= now
        and deadline.key not in known
        and checklists.state(deadline.kind, deadline.item.id).status == "open"
    ]


def deadline_text(at: datetime, now: datetime) -> str:
    """'due 03:12 UTC, in 23 h 05 min' or 'OVERDUE since 03:12 UTC'."""
    when = at.strftime("%H:%M UTC")
    if at <= now:
        return f"OVERDUE since {when}"
    left = int((at - now).total_seconds() // 60)
    return f"due {when}, in {left // 60} h {left % 60:02d} min"
