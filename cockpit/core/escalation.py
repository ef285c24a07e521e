"""The escalation clock: who is due to be pulled in, and when the next status update is owed.

Counted from the incident's opening, in the procedure's minutes (on-call at 5, manager at 10,
CTO at 15, ...; a status update every 5 minutes). Each due step has a key; the App records
`escalation.due` with it once, so a restarted cockpit does not announce a step twice.

A status update is missed when nothing was given within half a period of its due time (so the
windows of two updates never overlap and an update given a little early still counts); the App
records `escalation.missed` once for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.core.procedure import Escalation

DUE = "escalation.due"
MISSED = "escalation.missed"
UPDATE_KINDS = frozenset({"draft.saved", "outbox.sent"})
"""Events that count as a status update given: a saved draft, a sent message."""


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

    def missed_updates(self, now: datetime, given: list[datetime], recorded: set[str]) -> list[Due]:
        """Status updates whose window closed by `now` with no update given in it."""
        every = self.escalation.status_update_every_minutes
        if every is None:
            return []
        half = timedelta(minutes=every) / 2
        missed = []
        for update in self.updates_until(now - half):
            key = "missed:" + update.key.split(":")[1]
            if key in recorded:
                continue
            if not any(update.at - half <= at < update.at + half for at in given):
                summary = (
                    f"{update.summary.split(' due')[0]} missed: nothing sent between "
                    f"{(update.at - half):%H:%M:%S} and {(update.at + half):%H:%M:%S} UTC"
                )
                missed.append(Due(key, update.at + half, summary))
        return missed
