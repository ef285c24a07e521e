"""The post-mortem's long lists, scrubbed directly: every event's timeline row, and records
(messages) with fixed, harmless keys.

A long incident has 100,000 events and thousands of messages: walking them with `redact` took
a second, so their texts are scrubbed directly, each distinct one once. Pure Python.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from cockpit.core.redact import scrub

if TYPE_CHECKING:
    from cockpit.core.event_log import Event


def scrub_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records with every string value scrubbed (their keys name nothing secret)."""
    clean = functools.cache(scrub)  # in one export texts repeat: each is scrubbed once
    for record in records:
        for key, value in record.items():
            if isinstance(value, str):
                record[key] = clean(value)
    return records


Row = tuple[int, str, str, str, str, str | None]
"""One line of the full timeline: (id, ts, kind, actor, summary, command)."""


def as_rows(events: Sequence[Event]) -> Iterator[Row]:
    """The timeline's rows from events (when they are at hand, as in the app)."""
    for event in events:
        yield event.id, event.ts, event.kind, event.actor, event.summary, event.command


def timeline_rows(rows: Iterable[Row]) -> Iterator[Row]:
    """The rows with their texts scrubbed.

    A long incident has 100,000 events: the texts are scrubbed directly, each distinct one
    once, rather than walked by `redact`; the Markdown renders these rows without a document.
    """
    clean = functools.cache(scrub)  # in one export texts repeat: each is scrubbed once
    for event_id, ts, kind, actor, summary, command in rows:
        yield event_id, ts, clean(kind), clean(actor), clean(summary), command and clean(command)
