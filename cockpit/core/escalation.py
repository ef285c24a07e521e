"""The escalation clock: who is due to be pulled in, and when the next status update is owed.

Counted from the incident's opening, in the procedure's minutes (on-call at 5, manager at 10,
CTO at 15, ...; a status update every 5 minutes). Each due step has a key; the App records
`escalation.due` with it once, so a restarted cockpit does not announce a step twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.core.procedure import Escalation

DUE = "escalation.due"


@dataclass(frozen=True)
class Due:
    """Something the escalation path asks for at a given moment."""

    key: str
    at: datetime
    summary: str
    role: str = ""
    """Who is pulled in (escalation steps only)."""


class EscalationClock:
    """What is due, from the incident's opening time."""

    def __init__(self, escalation: Escalation, opened_at: datetime) -> None:
        self.escalation = escalation
        self.opened_at = opened_at

    def steps(self) -> list[Due]:
        """The path's timed steps, in order (steps without minutes are never due by time)."""
        due = []
        for step in self.escalation.steps:
            if step.after_minutes is None:
                continue
            at = self.opened_at + timedelta(minutes=step.after_minutes)
            minutes = f"{step.after_minutes:g} min"
            due.append(
                Due(
                    f"step:{step.level}",
                    at,
                    f"Escalate to {step.role} (level {step.level}, {minutes})",
                    step.role,
                )
            )
        return sorted(due, key=lambda d: d.at)

    def updates_until(self, now: datetime) -> list[Due]:
        """Status updates owed from the opening up to `now`, one per cadence period."""
        every = self.escalation.status_update_every_minutes
        if every is None:
            return []
        period = timedelta(minutes=every)
        count = int((now - self.opened_at) / period)
        return [
            Due(
                f"update:{n}",
                self.opened_at + n * period,
                f"Status update #{n} due (every {every:g} min)",
            )
            for n in range(1, count + 1)
        ]

    def due(self, now: datetime, recorded: set[str]) -> list[Due]:
        """Everything due by `now` and not yet recorded, oldest first."""
        items = [d for d in self.steps() if d.at <= now] + self.updates_until(now)
        return sorted((d for d in items if d.key not in recorded), key=lambda d: d.at)

    def next_step(self, now: datetime) -> Due | None:
        """The next escalation step still ahead, for the countdown."""
        return next((d for d in self.steps() if d.at > now), None)
