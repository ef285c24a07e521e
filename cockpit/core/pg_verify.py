"""Proving a PostgreSQL timeline's chain: the same walk and the same verdicts as on SQLite.

`verify_pg` reads the events and the server's chain head in one REPEATABLE READ, READ ONLY
snapshot, through a server-side cursor (a long timeline is never held in memory at once), and
`walk` checks every event with `cockpit.core.chain.chain_hash`: its id follows the previous one,
its prev_hash is the previous hash, its hash is the hash of its columns; then that it reads as
written (a JSON object as payload, a canonical UTC time). The first event that fails decides.

PostgreSQL keeps the column types (no blob where text belongs), so what SQLite's damage scan
looks for cannot happen here; values can still be edited by whoever may disable the triggers
(the owner, a superuser), which is what the walk finds.

The head row (kept by the server's insert trigger) is the truncation hint SQLite's
AUTOINCREMENT counter is: a head ahead of the last event means the newest events were removed,
behind it that events were inserted with the trigger disabled. Whoever can edit the events can
edit it too, so the report's head hash is still what proves nothing was cut off.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from cockpit.core.chain import GENESIS_HASH, VerifyReport, chain_hash
from cockpit.core.damage import event_name, payload_problem, ts_problem
from cockpit.core.errors import ChainBroken, TimelineDamaged
from cockpit.core.pg_schema import PG_EVENT_COLUMNS

VERIFY_BATCH = 5000
"""Rows fetched per round trip by the verify cursor."""


def verify_pg(conn: psycopg.Connection[Any], where: str, up_to: int | None = None) -> VerifyReport:
    """Walk the chain of the timeline `conn` is connected to (autocommit; a transaction of its
    own is opened). Errors are psycopg's or the walk's (see `walk`)."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        head = conn.execute("SELECT id, hash FROM cockpit.chain_head").fetchone()
        with conn.cursor(name="cockpit_verify") as cursor:
            cursor.itersize = VERIFY_BATCH
            cursor.execute(
                f"SELECT {PG_EVENT_COLUMNS} FROM cockpit.events WHERE id <= %s ORDER BY id",
                (up_to if up_to is not None else 2**63 - 1,),
            )
            return walk(cursor, where, up_to, None if up_to is not None else head)


def walk(
    rows: Iterable[Sequence[Any]],
    where: str,
    up_to: int | None = None,
    head: Sequence[Any] | None = None,
) -> VerifyReport:
    """Check rows selected as `PG_EVENT_COLUMNS`, in id order.

    Args:
        rows: The events (all of them, or those up to `up_to`).
        where: The timeline, for messages.
        up_to: The head an export names: fewer events than that means some are gone.
        head: The server's ``(id, hash)`` chain head, compared with the last event.

    Returns:
        How many events verified and the head hash (64 zeros when empty).

    Raises:
        ChainBroken: Names the first bad event: an id gap (the missing id), an id out of
            sequence, a prev_hash or hash mismatch, or newest events removed.
        TimelineDamaged: The first event that chains but cannot be read as written.
    """
    expected_id = 1
    prev = GENESIS_HASH
    count = 0
    for row in rows:
        event_id, incident, ts, kind, actor, summary, payload, command, prev_hash, digest = row
        if event_id != expected_id:
            if event_id > expected_id:
                raise ChainBroken(
                    expected_id,
                    f"missing (event {event_id} follows event {expected_id - 1}): "
                    "a row was removed",
                )
            raise ChainBroken(event_id, "id out of sequence: a row was inserted")
        if prev_hash != prev:
            raise ChainBroken(event_id, "prev_hash does not match the previous event's hash")
        computed = chain_hash(
            prev_hash, event_id, incident, ts, kind, actor, summary, payload, command
        )
        if computed != digest:
            raise ChainBroken(event_id, "hash mismatch: the row was altered")
        problem = payload_problem(payload) or ts_problem(ts)
        if problem is not None:
            raise TimelineDamaged(where, problem, event_name(event_id))
        prev = digest
        expected_id += 1
        count += 1
    if up_to is not None and count < up_to:
        raise ChainBroken(count + 1, f"missing: events {count + 1}..{up_to} are gone")
    if head is not None:
        head_id, head_hash = head
        if head_id > count:
            raise ChainBroken(
                count + 1,
                f"missing: events {count + 1}..{head_id} were written but are gone "
                "(newest rows removed)",
            )
        if head_id < count:
            raise ChainBroken(
                head_id + 1,
                f"not extended by the server (its chain head is event {head_id}): "
                "inserted with the trigger disabled",
            )
        if head_hash != prev:
            raise ChainBroken(count, "the server's chain head holds another hash: replaced")
    return VerifyReport(count=count, head_hash=prev)
