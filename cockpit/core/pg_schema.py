"""The PostgreSQL timeline's schema: tables, the server's chain rules, versions, roles.

Everything lives in the ``cockpit`` schema of the team's database:

- ``schema_version``: one row per migration applied (version, when, by whom); the schema's
  version is the largest. It is append-only like the events. A version newer than this code
  knows is refused, with the upgrade named (`SchemaTooNew`).
- ``events``: the same columns as the SQLite timeline plus ``idem_key`` (unique: an append
  retried after a lost connection or a failover is committed once). ``id`` is the chain's
  position, global across incidents and contiguous from 1, as on SQLite: it is *not* a
  sequence, whose numbers are lost by a rolled-back transaction and would look like removed
  rows. The appender computes ``head + 1`` under the append lock (see below).
- ``chain_head``: one row, the newest event's id and hash, kept by the server.
- ``samples`` (version 2): metric readings, as SQLite's ``samples`` table; outside the chain
  and prunable (by the owner: a responder may INSERT and SELECT them, not DELETE).
- ``action_locks`` (version 3): who holds each per-target action lock, written by the holder
  (`cockpit.core.pg_lock`); outside the chain. The lock itself is a session advisory lock; a
  row counts only while its backend holds that lock. Every role that may use the schema may
  write it (granted to PUBLIC: only USAGE on the schema lets anyone reach it), so existing
  responder roles need no new grant.
- ``sample_batches`` (version 4): the idempotency key of each batch of samples a writer's job
  stored, inserted in the batch's transaction (``ON CONFLICT DO NOTHING``): a batch retried
  after its commit answer was lost is stored once. SELECT and INSERT granted to PUBLIC, as
  ``action_locks``.

The server enforces the chain, whoever inserts: a BEFORE INSERT trigger (``SECURITY DEFINER``,
so a responder needs no right on ``chain_head``) locks the head row, refuses an event that
does not extend it (its id is not head + 1 or its prev_hash not the head's hash) or whose hash
is not `cockpit.core.chain.chain_hash` of its columns (the same version-1 encoding, in
PL/pgSQL), moves the head and sends ``NOTIFY cockpit_events, '<id> <incident or ->'`` (delivered
at commit: the change feed's wake-up). Statement triggers refuse UPDATE, DELETE and TRUNCATE
on ``events`` and ``schema_version``. The head row doubles as the truncation hint SQLite's
AUTOINCREMENT counter gives: events removed behind the triggers' back leave it ahead.

Appends take ``pg_advisory_xact_lock(APPEND_LOCK)`` first, so two processes never compute the
same next id (the trigger's row lock alone would make the second fail and retry). Migrations
take `MIGRATE_LOCK`. Both are in the two-integer key space under the class `LOCK_CLASS`
('Ckpt'). Per-target action locks (`cockpit.core.pg_lock`) use the one-bigint key space
instead, which PostgreSQL keeps apart from the two-integer one (``objsubid`` 1 and 2 in
``pg_locks``), so no target's hash can ever be the append or the migration lock.

Roles: whoever creates the schema owns it (a deployment's owner role); responders log in as
members of a group role made by `responder_role_sql`, which may INSERT and SELECT events and
read the rest, nothing more (no UPDATE, DELETE, TRUNCATE, and no ALTER TABLE to disable a
trigger: that takes the owner).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from cockpit.core.errors import SchemaTooNew, TimelineError

SCHEMA = "cockpit"
SCHEMA_VERSION = 4
LOCK_CLASS = 0x436B7074  # 'Ckpt': the first key of the cockpit's two-integer advisory locks
APPEND_LOCK = (LOCK_CLASS, 1)
MIGRATE_LOCK = (LOCK_CLASS, 2)
NOTIFY_CHANNEL = "cockpit_events"
# SQLSTATEs the server's rules raise (class CK: the cockpit's own).
APPEND_ONLY = "CK001"
NOT_THE_HEAD = "CK002"
BAD_HASH = "CK003"
PG_EVENT_COLUMNS = "id, incident, ts, kind, actor, summary, payload, command, prev_hash, hash"

_V1 = r"""
CREATE SCHEMA IF NOT EXISTS cockpit;

CREATE TABLE cockpit.schema_version (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL DEFAULT current_user
);

CREATE TABLE cockpit.events (
    id bigint PRIMARY KEY CHECK (id > 0),
    incident bigint,
    ts text NOT NULL,
    kind text NOT NULL,
    actor text NOT NULL,
    summary text NOT NULL,
    payload text NOT NULL,
    command text,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    idem_key text NOT NULL UNIQUE
);
CREATE INDEX events_incident_id ON cockpit.events (incident, id);
CREATE INDEX events_incident_kind ON cockpit.events (incident, kind);
CREATE INDEX events_kind ON cockpit.events (kind);

CREATE TABLE cockpit.chain_head (
    single boolean PRIMARY KEY DEFAULT true CHECK (single),
    id bigint NOT NULL,
    hash text NOT NULL
);
INSERT INTO cockpit.chain_head (id, hash) VALUES (0, repeat('0', 64));

-- cockpit.core.chain's version-1 encoding: prev_hash, "id,incident,", then each text as
-- "<utf-8 length>:<utf-8 bytes>" or "-" for NULL.
CREATE FUNCTION cockpit.chain_hash(
    p_prev text, p_id bigint, p_incident bigint, p_ts text, p_kind text, p_actor text,
    p_summary text, p_payload text, p_command text
) RETURNS text LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog AS $$
DECLARE
    message bytea := convert_to(
        p_prev || p_id::text || ',' || coalesce(p_incident::text, '-') || ',', 'UTF8');
    part text;
    raw bytea;
BEGIN
    FOREACH part IN ARRAY ARRAY[p_ts, p_kind, p_actor, p_summary, p_payload, p_command] LOOP
        IF part IS NULL THEN
            message := message || convert_to('-', 'UTF8');
        ELSE
            raw := convert_to(part, 'UTF8');
            message := message || convert_to(length(raw)::text || ':', 'UTF8') || raw;
        END IF;
    END LOOP;
    RETURN encode(sha256(message), 'hex');
END $$;

CREATE FUNCTION cockpit.extend_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    head_id bigint;
    head_hash text;
BEGIN
    SELECT h.id, h.hash INTO head_id, head_hash FROM cockpit.chain_head AS h FOR UPDATE;
    IF NEW.id IS DISTINCT FROM head_id + 1 OR NEW.prev_hash IS DISTINCT FROM head_hash THEN
        RAISE EXCEPTION 'event % does not extend the chain: its head is event %',
            NEW.id, head_id USING ERRCODE = 'CK002';
    END IF;
    IF NEW.hash IS DISTINCT FROM cockpit.chain_hash(NEW.prev_hash, NEW.id, NEW.incident,
            NEW.ts, NEW.kind, NEW.actor, NEW.summary, NEW.payload, NEW.command) THEN
        RAISE EXCEPTION 'event %: its hash is not the hash of its columns', NEW.id
            USING ERRCODE = 'CK003';
    END IF;
    UPDATE cockpit.chain_head SET id = NEW.id, hash = NEW.hash;
    PERFORM pg_notify('cockpit_events', NEW.id::text || ' ' || coalesce(NEW.incident::text, '-'));
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION cockpit.extend_chain() FROM PUBLIC;

CREATE FUNCTION cockpit.refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION 'the timeline is append-only: % on %.% is refused',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'CK001';
END $$;

CREATE TRIGGER events_extend_chain BEFORE INSERT ON cockpit.events
    FOR EACH ROW EXECUTE FUNCTION cockpit.extend_chain();
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON cockpit.events
    FOR EACH STATEMENT EXECUTE FUNCTION cockpit.refuse_change();
CREATE TRIGGER schema_version_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON cockpit.schema_version
    FOR EACH STATEMENT EXECUTE FUNCTION cockpit.refuse_change();
"""

_V2 = r"""
CREATE TABLE cockpit.samples (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident bigint NOT NULL,
    at text COLLATE "C" NOT NULL,  -- byte order, as SQLite compares the ISO times
    metric text NOT NULL,
    value double precision,
    source text NOT NULL,
    error text NOT NULL
);
CREATE INDEX samples_incident_metric_at ON cockpit.samples (incident, metric, at);
CREATE INDEX samples_at ON cockpit.samples (at);
"""

_V3 = r"""
CREATE TABLE cockpit.action_locks (
    lock_key bigint PRIMARY KEY,
    target text NOT NULL,
    backend_pid integer NOT NULL,
    pid integer NOT NULL,
    host text NOT NULL,
    actor text NOT NULL,
    since text NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON cockpit.action_locks TO PUBLIC;
"""

_V4 = r"""
CREATE TABLE cockpit.sample_batches (
    batch_key text PRIMARY KEY,
    incident bigint NOT NULL,
    count integer NOT NULL
);
GRANT SELECT, INSERT ON cockpit.sample_batches TO PUBLIC;
"""

# Append only: a released version's migration is never edited, a new one is added.
MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _V1), (2, _V2), (3, _V3), (4, _V4))


def schema_version(conn: psycopg.Connection[Any]) -> int | None:
    """The schema's version; 0 when there is no timeline (no ``cockpit`` schema, or an empty
    one); None when the schema holds tables but no version table (not a timeline)."""
    # From the catalogs, which every role may read (to_regclass needs USAGE on the schema).
    row = conn.execute(
        "SELECT coalesce(bool_or(c.relname = 'schema_version' AND c.relkind = 'r'), false),"
        " count(c.oid) > 0"
        " FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'cockpit'"
    ).fetchone()
    assert row is not None
    if not row[0]:
        # An empty schema is fine: a deployment may create it for its owner role beforehand.
        return None if row[1] else 0
    found = conn.execute("SELECT max(version) FROM cockpit.schema_version").fetchone()
    return int(found[0]) if found is not None and found[0] is not None else None


def check_version(version: int | None, where: str) -> None:
    """Refuse what this code cannot read.

    Raises:
        SchemaTooNew: A newer schema (upgrade the cockpit).
        TimelineError: A ``cockpit`` schema that is not a timeline.
    """
    if version is None:
        raise TimelineError(
            f"{where}: the schema 'cockpit' exists but holds no timeline (no schema_version)"
        )
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"{where}: timeline schema version {version} is newer than this cockpit "
            f"understands ({SCHEMA_VERSION}); upgrade rollback-cockpit to open it"
        )


def migrate(
    conn: psycopg.Connection[Any], where: str, *, create: bool, run: Callable[[str], object]
) -> None:
    """Bring the schema up to `SCHEMA_VERSION` (`conn` is in autocommit mode).

    Cheap when nothing is to do (one query, no lock). Otherwise one transaction per
    migration under `MIGRATE_LOCK`, re-reading the version there: two cockpits opening a new
    database at once create it once. The owner runs migrations; a responder's role cannot
    (its CREATE is refused, reported with what to do).

    Args:
        conn: An autocommit connection.
        where: ``user@host:port/db``, for messages.
        create: If False, a database without a timeline is an error.
        run: Executes one migration's SQL on `conn` (the caller's error translation).

    Raises:
        SchemaTooNew: The schema is newer than this code.
        TimelineError: No timeline and `create` is False, or something else is there.
    """
    version = schema_version(conn)
    check_version(version, where)
    if version == SCHEMA_VERSION:
        return
    if version == 0 and not create:
        raise TimelineError(f"{where}: no cockpit timeline in this database")
    for target, statements in MIGRATIONS:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", MIGRATE_LOCK)
            version = schema_version(conn)
            check_version(version, where)
            assert version is not None
            if version >= target:
                continue
            run(statements)
            # Recorded in the migration's own transaction: both happen or neither.
            conn.execute("INSERT INTO cockpit.schema_version (version) VALUES (%s)", (target,))


def responder_role_sql(role: str) -> list[sql.Composed]:
    """The statements that create the responders' group role, for the schema's owner (or a
    superuser) to run once. Members log in as themselves, e.g.
    ``CREATE ROLE alice LOGIN PASSWORD '...' IN ROLE <role>``.

    The role may read everything and INSERT events and samples; nothing may UPDATE, DELETE or
    TRUNCATE events (the triggers refuse it even to the owner), and only the owner could disable a
    trigger.
    """
    name = sql.Identifier(role)
    return [
        sql.SQL("CREATE ROLE {} NOLOGIN").format(name),
        sql.SQL("GRANT USAGE ON SCHEMA cockpit TO {}").format(name),
        sql.SQL("GRANT SELECT, INSERT ON cockpit.events TO {}").format(name),
        sql.SQL("GRANT SELECT ON cockpit.schema_version, cockpit.chain_head TO {}").format(name),
        sql.SQL("GRANT SELECT, INSERT ON cockpit.samples TO {}").format(name),
    ]
