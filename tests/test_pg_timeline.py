"""What `PgTimeline` adds to the behaviours tests/test_timeline.py runs on both backends: its
samples (schema version 2), the procedure's copy, steps, a version-1 database migrated, and
two responders closing one incident at once.

Against the test process's throwaway PostgreSQL (tests/postgres_server.py); skipped, with the
reason, where its server binaries are missing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import postgres_server
import pytest

from cockpit.core.chain import GENESIS_HASH, VerifyReport, chain_hash
from cockpit.core.clock import FixedClock
from cockpit.core.errors import IncidentError
from cockpit.core.metrics import Sample
from cockpit.core.pg_schema import MIGRATIONS, PG_EVENT_COLUMNS, SCHEMA_VERSION
from cockpit.core.pg_timeline import PgTimeline
from cockpit.core.procedure_copy import RECORDED, read_copy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ACTOR = "alice via ssh 203.0.113.7"


server = postgres_server.server


@pytest.fixture
def url(server: Any) -> Iterator[str]:
    """A fresh database's URL (the password apart), dropped afterwards."""
    with postgres_server.fresh_database(server, "tl_pg_") as made:
        yield made


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def opened(url: str, server: Any, clock: FixedClock, **options: Any) -> PgTimeline:
    options.setdefault("actor", ACTOR)
    return PgTimeline(url, password=server.password, clock=clock, retry_pause=0.0, **options)


def test_samples_round_trip_are_scrubbed_and_pruned(
    url: str, server: Any, clock: FixedClock
) -> None:
    with opened(url, server, clock) as tl:
        incident = tl.open_incident("x", "P1", "pulse-messages").id
        later, earlier = clock.now() + timedelta(minutes=1), clock.now()
        old = clock.now() - timedelta(days=40)
        assert (
            tl.record_samples(
                incident,
                [
                    Sample("error_rate", 6.5, later, "scrape"),
                    Sample("error_rate", 0.4, earlier, "scrape"),
                    Sample("error_rate", 9.0, old, "scrape"),
                    Sample("p95_latency_ms", None, earlier, "scrape", "Bearer abcdef1234567"),
                ],
            )
            == 4
        )
        rows = tl.samples(incident, metric="error_rate")
        assert [(r.at, r.value) for r in rows] == [
            ("2025-12-06T03:12:00.000Z", 9.0),
            ("2026-01-15T03:12:00.000Z", 0.4),
            ("2026-01-15T03:13:00.000Z", 6.5),
        ]
        (missing,) = tl.samples(incident, metric="p95_latency_ms")
        assert missing.value is None and "abcdef1234567" not in missing.error
        assert tl.verify().count == 1  # samples are not events
        assert tl.prune_samples(clock.now() - timedelta(days=30)) == 1
        assert [r.value for r in tl.samples(incident)] == [0.4, None, 6.5]
        assert tl.samples(incident + 1) == []


def test_the_procedure_copy_is_recorded_once(url: str, server: Any, clock: FixedClock) -> None:
    copy = read_copy("pulse-messages")
    with opened(url, server, clock) as tl:
        with_copy = tl.open_incident("a", "P1", "pulse-messages", copy=copy).id
        without = tl.open_incident("b", "P1", "pulse-messages").id
        kinds = [event.kind for event in tl.events(with_copy)]
        assert kinds == ["incident.opened", RECORDED]
        first = tl.record_procedure(without, copy)
        assert first.kind == RECORDED and first.incident == without
        assert tl.record_procedure(without, copy) == first  # already there: unchanged
        assert tl.record_procedure(with_copy, copy) == tl.events(with_copy)[1]
        with pytest.raises(IncidentError, match="no incident 9"):
            tl.record_procedure(9, copy)
        assert tl.verify().count == 4


def test_steps_belong_between_intent_and_result(url: str, server: Any, clock: FixedClock) -> None:
    with opened(url, server, clock) as tl:
        incident = tl.open_incident("t", "P1", None).id
        intent = tl.begin_action(incident, "manual.restore", "Restore by hand", command=None)
        action_id = intent.payload["action_id"]
        step = tl.step_action(incident, action_id, "stopped writes", {"step": 1})
        assert step.payload == {"action": "manual.restore", "action_id": action_id, "step": 1}
        tl.finish_action(incident, action_id, "succeeded", "restored")
        with pytest.raises(IncidentError, match="already has a result"):
            tl.step_action(incident, action_id, "too late")
        with pytest.raises(IncidentError, match="no action"):
            tl.step_action(incident, "nope", "never begun")
        assert tl.unresolved_actions(incident) == []


def test_a_version_1_database_migrates_and_keeps_its_chain(
    url: str, server: Any, clock: FixedClock
) -> None:
    dbname = url.rpartition("/")[2]
    payload = '{"drill":false,"procedure":null,"severity":"P1","title":"before"}'
    fields = (1, "2026-01-15T03:12:00.000Z", "incident.opened", ACTOR, "Incident opened: before")
    digest = chain_hash(GENESIS_HASH, 1, *fields, payload, None)
    with server.app(dbname) as owner:  # version 1, and its first event, as it was released
        owner.autocommit = True
        owner.execute(MIGRATIONS[0][1])
        owner.execute("INSERT INTO cockpit.schema_version (version) VALUES (1)")
        owner.execute(
            f"INSERT INTO cockpit.events ({PG_EVENT_COLUMNS}, idem_key)"
            " VALUES (1, %s, %s, %s, %s, %s, %s, NULL, %s, %s, 'v1')",
            (*fields, payload, GENESIS_HASH, digest),
        )
    with opened(url, server, clock) as tl:
        assert tl.incident(1).title == "before"
        tl.record_samples(1, [Sample("error_rate", 1.0, clock.now(), "s")])
        assert len(tl.samples(1)) == 1
        assert tl.verify() == VerifyReport(count=1, head_hash=digest)
    assert server.scalar("SELECT max(version) FROM cockpit.schema_version", dbname) == 4
    assert SCHEMA_VERSION == 4


def test_two_responders_closing_at_once_close_it_once(
    url: str, server: Any, clock: FixedClock
) -> None:
    with opened(url, server, clock) as tl:
        incident = tl.open_incident("race", "P1", None).id
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def close(index: int) -> None:
        with opened(url, server, clock, actor=f"responder {index}") as mine:
            start.wait(timeout=30)
            try:
                mine.close_incident(incident, f"closed by {index}")
                outcomes.append("closed")
            except IncidentError as error:
                outcomes.append(str(error))

    threads = [threading.Thread(target=close, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["closed"] + [f"incident {incident} is already closed"] * 5
    with opened(url, server, clock) as tl:
        kinds = [event.kind for event in tl.events(incident)]
        assert kinds == ["incident.opened", "incident.closed"]
        assert tl.verify().count == 2


def test_a_responder_runs_an_incident_and_keeps_samples_but_cannot_prune(
    url: str, server: Any, clock: FixedClock
) -> None:
    import postgres_server
    from psycopg import sql

    from cockpit.core.errors import TimelineError
    from cockpit.core.pg_schema import responder_role_sql

    dbname = url.rpartition("/")[2]
    with opened(url, server, clock):  # the owner creates the schema
        pass
    group, member = postgres_server.unique("responders_"), postgres_server.unique("carol_")
    secret = "pw-" + member
    try:
        with server.admin(dbname) as admin:
            for statement in responder_role_sql(group):
                admin.execute(statement)
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                    sql.Identifier(member), sql.Literal(secret), sql.Identifier(group)
                )
            )
        mine = url.replace(f"{postgres_server.APP_USER}@", f"{member}@", 1)
        with PgTimeline(mine, password=secret, clock=clock, create=False, actor="carol") as tl:
            incident = tl.open_incident("by a responder", "P2", None).id
            assert tl.record_samples(incident, [Sample("error_rate", 3.0, clock.now(), "s")]) == 1
            assert [row.value for row in tl.samples(incident)] == [3.0]
            tl.close_incident(incident, "done")
            with pytest.raises(TimelineError, match="lacks the privilege"):
                tl.prune_samples(clock.now() + timedelta(days=1))
            assert tl.verify().count == 2
    finally:
        server.drop_database(dbname)
        for role in (member, group):
            server.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        server.create_database(dbname)  # the fixture drops it again
