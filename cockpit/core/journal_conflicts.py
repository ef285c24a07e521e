"""Conflicts found while replaying a journal (`cockpit.core.journal_replay`): the same target
acted on from both sides while apart, an ``action.intent`` recorded on PostgreSQL by someone
else after the split and one in the journal. Both stay as recorded; a ``journal.conflict``
event after the replayed intent names both. Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cockpit.core.event_log import Event, clean_fields
from cockpit.core.journal_split import CONFLICT

if TYPE_CHECKING:
    from pathlib import Path

    from cockpit.core.journal_split import Split


@dataclass(frozen=True)
class Conflict:
    """The same target acted on from both sides while apart."""

    target: str
    provider: str
    primary_id: int
    primary_actor: str
    primary_at: str
    journal_id: int
    journal_local_id: int
    journal_actor: str
    journal_at: str


def target_of(payload: dict[str, Any]) -> tuple[str, str] | None:
    """``(provider, target)`` of an intent's payload, None when it names no target."""
    plan = payload.get("plan") if isinstance(payload.get("plan"), dict) else {}
    assert isinstance(plan, dict)
    target = payload.get("target") or plan.get("target")
    if not isinstance(target, str) or not target:
        return None
    action = str(payload.get("action") or "")
    provider = payload.get("provider") or plan.get("provider") or action.partition(".")[0]
    return str(provider), target


def conflict_fields(
    split: Split, conflict: Conflict, when: str, journal: Path, actor: str
) -> tuple[Any, ...]:
    """The ``journal.conflict`` event's columns on PostgreSQL (as `_fields`)."""
    summary = (
        f"Conflict on {conflict.target}: {conflict.primary_actor} acted at "
        f"{conflict.primary_at} (event {conflict.primary_id}) while "
        f"{conflict.journal_actor}, apart, acted at {conflict.journal_at} "
        f"(event {conflict.journal_id}); both kept as recorded"
    )
    payload = {
        "target": conflict.target,
        "provider": conflict.provider,
        "primary": {
            "id": conflict.primary_id,
            "actor": conflict.primary_actor,
            "at": conflict.primary_at,
        },
        "journal": {
            "id": conflict.journal_id,
            "local_id": conflict.journal_local_id,
            "actor": conflict.journal_actor,
            "at": conflict.journal_at,
            "file": str(journal),
            "journal_id": split.journal_id,
        },
    }
    summary, text, command, actor = clean_fields(summary, payload, None, actor)
    return (split.primary_incident, when, CONFLICT, actor, summary, text, command)


def rivals(event: Event, others: dict[tuple[str, str], list[Event]]) -> list[Event]:
    """The intents on PostgreSQL that conflict with journal event `event`."""
    if event.kind != "action.intent":
        return []
    target = target_of(event.payload)
    return [] if target is None else others.get(target, [])


def conflict_key(split: Split, local_id: int, primary_id: int) -> str:
    return f"{split.key_prefix}conflict:{local_id}:{primary_id}"


def conflict_of(event: Event, event_id: int, rival: Event) -> Conflict:
    target = target_of(event.payload)
    assert target is not None
    return Conflict(
        target=target[1],
        provider=target[0],
        primary_id=rival.id,
        primary_actor=rival.actor,
        primary_at=rival.ts,
        journal_id=event_id,
        journal_local_id=event.id,
        journal_actor=event.actor,
        journal_at=event.ts,
    )
