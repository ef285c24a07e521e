"""The PostgreSQL change feed (cockpit.core.pg_feed) against a real PostgreSQL 15.

Each test gets a fresh database on the test process's throwaway cluster (tests/postgres_server.py)
holding a timeline; another connection (another `PgTimeline`, as a second cockpit or the CLI
would) appends. Skipped, with the reason, where the PostgreSQL server binaries are missing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import postgres_server
import pytest

from cockpit.core.errors import TimelineError, TimelineUnavailable
from cockpit.core.event_log import Event
from cockpit.core.pg_connect import PgTarget, Timeouts
from cockpit.core.pg_feed import PgFeed
from cockpit.core.pg_timeline import PgTimeline

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ACTOR = "alice via ssh 203.0.113.7"


server = postgres_server.server


@pytest.fixture
def url(server: Any) -> Iterator[str]:
    """A fresh database's URL (the password apart), dropped afterwards."""
    with postgres_server.fresh_database(server, "feed_") as made:
        yield made


class Received:
    """What a feed delivered and reported, with when, read from the test's thread."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.at: dict[int, float] = {}
        self.batches = 0
        self.failures: list[TimelineError] = []
        self.resumed: list[str] = []
        self._changed = threading.Condition()

    def deliver(self, batch: list[Event]) -> None:
        with self._changed:
            now = time.monotonic()
            self.batches += 1
            self.events.extend(batch)
            self.at.update((event.id, now) for event in batch)
            self._changed.notify_all()

    def failed(self, error: TimelineError) -> None:
        with self._changed:
            self.failures.append(error)
            self._changed.notify_all()

    def resume(self, message: str) -> None:
        with self._changed:
            self.resumed.append(message)
            self._changed.notify_all()

    def wait_for(self, done: Callable[[], bool], timeout: float = 10.0) -> None:
        with self._changed:
            assert self._changed.wait_for(done, timeout), (self.events, self.failures)

    def ids(self) -> list[int]:
        return [event.id for event in self.events]


def timeline(url: str, server: Any) -> PgTimeline:
    return PgTimeline(url, password=server.password, actor=ACTOR, retry_pause=0.0)


def feed_on(url: str, server: Any, incident: int, after: int, got: Received, **kw: Any) -> PgFeed:
    return PgFeed(
        PgTarget.parse(url, password=server.password),
        incident,
        after,
        got.deliver,
        failed=got.failed,
        resumed=got.resume,
        **kw,
    )


def test_another_connections_events_arrive_in_order_woken_by_notify(url: str, server: Any) -> None:
    with timeline(url, server) as mine, timeline(url, server) as other:
        incident = mine.open_incident("checkout 5xx", "P1", None).id
        elsewhere = mine.open_incident("another incident", "P3", None).id
        head = mine.head()[0]
        got = Received()
        # A period far longer than the wait below: only a NOTIFY can explain a delivery.
        feed = PgFeed(mine.target, incident, head, got.deliver, failed=got.failed, period=30.0)
        feed.start()
        try:
            time.sleep(0.3)  # let it connect and LISTEN (a test of the wake-up, not the start)
            committed: dict[int, float] = {}
            for n in range(5):
                event = other.record(incident, "note", f"from the other host {n}", {"n": n})
                committed[event.id] = time.monotonic()
                other.record(elsewhere, "note", "not followed")
            got.wait_for(lambda: len(got.events) == 5, timeout=5.0)
            assert got.ids() == sorted(committed)
            assert [event.summary for event in got.events] == [
                f"from the other host {n}" for n in range(5)
            ]
            assert all(event.incident == incident for event in got.events)
            late = max(got.at[event_id] - at for event_id, at in committed.items())
            assert late < 1.0, late
            assert got.failures == [] and feed.connections == 1
        finally:
            feed.stop()


def test_the_safety_net_reads_without_a_notification(url: str, server: Any) -> None:
    """A notification that never comes (sent on another channel here) costs one period."""
    with timeline(url, server) as tl:
        incident = tl.open_incident("quiet", "P2", None).id
        got = Received()
        feed = feed_on(url, server, incident, tl.head()[0], got, period=0.3)
        feed.start()
        try:
            time.sleep(0.2)
            # Written behind the trigger's NOTIFY: the row arrives through the period alone.
            with server.admin(url.rpartition("/")[2]) as admin:
                admin.execute("ALTER TABLE cockpit.events DISABLE TRIGGER events_extend_chain")
                try:
                    head_id, head_hash = tl.head()
                    tl.record(incident, "note", "seen by the period")
                finally:
                    admin.execute("ALTER TABLE cockpit.events ENABLE TRIGGER events_extend_chain")
            got.wait_for(lambda: len(got.events) == 1, timeout=3.0)
            assert got.events[0].summary == "seen by the period"
            assert head_id + 1 == got.events[0].id and head_hash
        finally:
            feed.stop()


def test_a_killed_connection_is_reported_reopened_and_caught_up(url: str, server: Any) -> None:
    dbname = url.rpartition("/")[2]
    with timeline(url, server) as tl:
        incident = tl.open_incident("failover", "P1", None).id
        got = Received()
        feed = PgFeed(
            PgTarget.parse(f"{url}?application_name=feed-under-test", password=server.password),
            incident,
            tl.head()[0],
            got.deliver,
            failed=got.failed,
            resumed=got.resume,
            period=5.0,  # longer than every wait below: only NOTIFY and the reconnect deliver
        )
        feed.start()
        try:
            tl.record(incident, "note", "before the cut")
            got.wait_for(lambda: len(got.events) == 1)
            killed = server.scalar(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name = 'feed-under-test'",
                dbname,
                (dbname,),
            )
            assert killed == 1
            # Committed while the feed is down: their notifications go to nobody.
            for n in range(3):
                tl.record(incident, "note", f"while it was down {n}")
            got.wait_for(lambda: len(got.events) == 4 and bool(got.resumed), timeout=10.0)
            assert [event.summary for event in got.events] == [
                "before the cut",
                *(f"while it was down {n}" for n in range(3)),
            ]
            assert got.ids() == sorted(set(got.ids()))  # in order, none twice
            assert len(got.failures) == 1 and isinstance(got.failures[0], TimelineUnavailable)
            assert "connection" in str(got.failures[0])
            assert server.password not in str(got.failures[0])
            assert "caught up from event" in got.resumed[0]
            assert feed.connections == 2
            tl.record(incident, "note", "after")  # and it listens again
            got.wait_for(lambda: len(got.events) == 5, timeout=2.0)
        finally:
            feed.stop()


def test_it_stops_within_a_second_listening_or_reconnecting(url: str, server: Any) -> None:
    with timeline(url, server) as tl:
        incident = tl.open_incident("stop", "P2", None).id
    got = Received()
    feed = feed_on(url, server, incident, 0, got, period=30.0)
    feed.start()
    got.wait_for(lambda: len(got.events) == 1)  # connected: the opening event arrived
    started = time.monotonic()
    feed.stop()
    assert time.monotonic() - started < 1.0
    assert not feed._thread.is_alive()

    # A server that cannot be reached: reported once, and stop still cuts the pause short.
    import postgres_server

    nowhere = f"postgresql://cockpit@127.0.0.1:{postgres_server.free_port()}/nothing"
    down = Received()
    feed = PgFeed(
        PgTarget.parse(nowhere, password="x"),
        1,
        0,
        down.deliver,
        failed=down.failed,
        period=30.0,
        timeouts=Timeouts(connect=1.0),
    )
    feed.start()
    down.wait_for(lambda: bool(down.failures))
    started = time.monotonic()
    feed.stop()
    assert time.monotonic() - started < 1.0 and not feed._thread.is_alive()
    assert isinstance(down.failures[0], TimelineUnavailable) and down.events == []
    assert "cannot connect" in str(down.failures[0])


def test_a_feed_never_started_stops_quietly(url: str, server: Any) -> None:
    feed = feed_on(url, server, 1, 0, Received())
    feed.stop()
    feed.poke()  # a late poke after the stop is harmless


def test_a_burst_comes_in_slices_and_a_poke_reads_at_once(
    url: str, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cockpit.core.pg_feed.BATCH", 3)
    dbname = url.rpartition("/")[2]
    with timeline(url, server) as tl:
        incident = tl.open_incident("burst", "P2", None).id
        after = tl.head()[0]
        for n in range(7):
            tl.record(incident, "note", f"burst {n}")
        got = Received()
        feed = feed_on(url, server, incident, after, got, period=30.0)
        feed.start()
        try:
            got.wait_for(lambda: len(got.events) == 7)
            assert got.batches == 3  # slices of 3, 3 and 1, in order
            assert [event.summary for event in got.events] == [f"burst {n}" for n in range(7)]
            with server.admin(dbname) as admin:  # no NOTIFY: only the poke can wake it
                admin.execute("ALTER TABLE cockpit.events DISABLE TRIGGER events_extend_chain")
                try:
                    tl.record(incident, "note", "poked")
                finally:
                    admin.execute("ALTER TABLE cockpit.events ENABLE TRIGGER events_extend_chain")
            feed.poke()
            got.wait_for(lambda: len(got.events) == 8, timeout=1.0)
            assert got.events[-1].summary == "poked"
        finally:
            feed.stop()
