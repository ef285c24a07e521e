"""The outbox: messages to send, kept in the incident's timeline until they are delivered.

A message is queued (an `outbox.queued` event holding all of it) before any attempt, so nothing
is lost when the network, the platform or the cockpit goes down. Each attempt ends as
`outbox.sent` (with the platform's reference), `outbox.refused` (a permanent refusal: no retry,
the responder is told) or `outbox.failed` with when it will be retried: exponential backoff from
`BASE_SECONDS` to `MAX_SECONDS`, or the platform's Retry-After when it gave one. The pending set
is rebuilt from those events, so a restarted cockpit carries on where the last one stopped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from cockpit.core.actions import Delivered, Outgoing
from cockpit.core.clock import iso_ms, parse_iso

QUEUED = "outbox.queued"
SENT = "outbox.sent"
FAILED = "outbox.failed"
REFUSED = "outbox.refused"
KINDS = (QUEUED, SENT, FAILED, REFUSED)

BASE_SECONDS = 5.0
MAX_SECONDS = 300.0


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after `attempts` failed ones (Retry-After wins)."""
    if retry_after is not None:
        return max(0.0, retry_after)
    return min(MAX_SECONDS, BASE_SECONDS * 2.0 ** max(0, attempts - 1))


@dataclass
class Pending:
    """A queued message not yet delivered or refused."""

    id: str
    message: Outgoing
    attempts: int
    next_at: datetime
    last_error: str = ""


class Outbox:
    """What is waiting to be sent, rebuilt from the timeline's outbox events."""

    def __init__(self) -> None:
        self.pending: dict[str, Pending] = {}
        self.references: dict[tuple[str, str], str] = {}
        """(channel, key) → the platform's reference from the last delivery (a Statuspage
        incident id), so later messages for the same incident update it."""

    def replay(self, events: Iterable[tuple[str, Mapping[str, Any], datetime]]) -> None:
        """Apply (kind, payload, at) events in order."""
        for kind, payload, at in events:
            self.apply(kind, payload, at)

    def apply(self, kind: str, payload: Mapping[str, Any], at: datetime) -> None:
        """Apply one event."""
        message_id = str(payload.get("id", ""))
        if kind == QUEUED:
            self.pending[message_id] = Pending(message_id, _message(payload), 0, at)
            return
        pending = self.pending.get(message_id)
        if pending is None:
            return
        if kind == FAILED:
            attempt = payload.get("attempt")
            pending.attempts = attempt if isinstance(attempt, int) else pending.attempts + 1
            pending.next_at = _retry_at(payload.get("retry_at"), at)
            pending.last_error = str(payload.get("reason", ""))
        elif kind in (SENT, REFUSED):
            del self.pending[message_id]
            if kind == SENT and payload.get("reference"):
                channel, key = pending.message.channel, pending.message.key
                self.references[(channel, key)] = str(payload["reference"])

    def due(self, now: datetime) -> list[Pending]:
        """Pending messages whose next attempt is due, oldest first."""
        return sorted(
            (p for p in self.pending.values() if p.next_at <= now), key=lambda p: p.next_at
        )

    # -- the events to record --------------------------------------------------------------

    @staticmethod
    def queue(message: Outgoing) -> tuple[str, str, dict[str, Any]]:
        """The event that puts a message in the outbox."""
        payload = {"id": uuid.uuid4().hex, "message": asdict(message)}
        return QUEUED, f"Queued for {message.channel}: {message.subject}", payload

    @staticmethod
    def sent(pending: Pending, delivered: Delivered) -> tuple[str, str, dict[str, Any]]:
        """The event for a delivery."""
        summary = (
            f"Sent to {pending.message.channel}: {pending.message.subject} ({delivered.summary})"
        )
        payload = {
            "id": pending.id,
            "attempt": pending.attempts + 1,
            "reference": delivered.reference,
        }
        return SENT, summary, payload

    @staticmethod
    def refused(pending: Pending, reason: str) -> tuple[str, str, dict[str, Any]]:
        """The event for a permanent refusal."""
        summary = f"Refused by {pending.message.channel}: {pending.message.subject}: {reason}"
        return (
            REFUSED,
            summary,
            {"id": pending.id, "attempt": pending.attempts + 1, "reason": reason},
        )

    @staticmethod
    def failed(
        pending: Pending, reason: str, now: datetime, retry_after: float | None = None
    ) -> tuple[str, str, dict[str, Any]]:
        """The event for a failed attempt, with when it is retried."""
        attempt = pending.attempts + 1
        retry_at = now + timedelta(seconds=backoff(attempt, retry_after))
        summary = (
            f"Not sent to {pending.message.channel} (attempt {attempt}): {reason}; "
            f"retrying at {retry_at:%H:%M:%S} UTC"
        )
        payload = {
            "id": pending.id,
            "attempt": attempt,
            "reason": reason,
            "retry_at": iso_ms(retry_at),
        }
        return FAILED, summary, payload


def _message(payload: Mapping[str, Any]) -> Outgoing:
    """The queued message, whatever the event holds (a field missing is empty, not a crash:
    every cockpit folds every event, whoever wrote it)."""
    found = payload.get("message")
    data: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    extra = data.get("extra")
    return Outgoing(
        channel=str(data.get("channel", "")),
        subject=str(data.get("subject", "")),
        body=str(data.get("body", "")),
        key=str(data.get("key", "")),
        stage=str(data.get("stage", "")),
        severity=str(data.get("severity", "")),
        extra=dict(extra) if isinstance(extra, Mapping) else {},
    )


def _retry_at(value: object, failed_at: datetime) -> datetime:
    """When to try again: as recorded, or (a failure written without it, by hand or by an
    older cockpit) one base backoff after the failure, rather than a reducer that raises."""
    if isinstance(value, str):
        try:
            parsed = parse_iso(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    return failed_at + timedelta(seconds=BASE_SECONDS)
