"""The change feed: every event committed to one incident, by anyone, delivered in order.

A cockpit learns of events the same way whoever wrote them: itself (through the one writer),
a second cockpit on the same database, `cockpit incident close` from a shell, a process killed
just after it committed. A thread of its own reads them, so the screen never waits on SQLite.

On SQLite the feed watches `PRAGMA data_version`, which changes when any other connection
commits (this connection only ever reads), every `period` seconds, and at once when poked (the
writer pokes it after each commit). On PostgreSQL, `cockpit.core.pg_feed.PgFeed` waits on
LISTEN/NOTIFY instead; the App sees only `Feed`: start, poke, stop, and batches delivered in id
order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from cockpit.core.errors import TimelineError

if TYPE_CHECKING:
    from cockpit.core.event_log import Event
    from cockpit.core.timeline import Timeline
    from cockpit.core.timeline_open import AnyTimeline

FEED_PERIOD = 0.2
"""Seconds between two looks at the database when nobody pokes the feed."""

BATCH = 2000
"""At most this many events per delivery: a second writer's burst arrives in slices the screen
can take between two paints."""


class Feed(Protocol):
    """What the App needs of a change feed, whatever the backend."""

    def start(self) -> None:
        """Begin delivering events after the last one the App already has."""

    def poke(self) -> None:
        """Something was committed here: look now rather than at the next period."""

    def stop(self) -> None:
        """Stop delivering (the thread ends after its current read)."""


class SqliteFeed:
    """Reads an incident's new events from SQLite on its own thread and delivers them.

    Args:
        connect: Opens the feed's own (read-only in use) Timeline, on the feed's thread.
        incident: The incident followed.
        after_id: The last event id already known.
        deliver: Called on the feed's thread with each batch, in id order (must only post).
        failed: Called on the feed's thread when reading fails (the feed keeps trying).
    """

    def __init__(
        self,
        connect: Callable[[], Timeline],
        incident: int,
        after_id: int,
        deliver: Callable[[list[Event]], object],
        *,
        failed: Callable[[TimelineError], object] = lambda _: None,
        period: float = FEED_PERIOD,
    ) -> None:
        self._connect = connect
        self.incident = incident
        self.last_id = after_id
        self._deliver = deliver
        self._failed = failed
        self.period = period
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)

    def start(self) -> None:
        """Start the thread (once); it reads what is new at once, then on each period or poke."""
        if not self._thread.is_alive() and not self._stopped.is_set():
            self._wake.set()
            self._thread.start()

    def poke(self) -> None:
        """Look now."""
        self._wake.set()

    def stop(self) -> None:
        """Stop; waits a moment for the thread to finish its read."""
        self._stopped.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def _run(self) -> None:
        timeline: Timeline | None = None
        seen_version: int | None = None
        reported = False
        try:
            while not self._stopped.is_set():
                poked = self._wake.wait(self.period)
                self._wake.clear()
                if self._stopped.is_set():
                    return
                try:
                    if timeline is None:
                        timeline = self._connect()
                    version = timeline.data_version()
                    if poked or version != seen_version:
                        self._read(timeline)
                        seen_version = version
                    reported = False
                except TimelineError as error:
                    if not reported:  # once per failing streak, as sources are reported
                        reported = True
                        self._failed(error)
        finally:
            if timeline is not None:
                timeline.close()

    def _read(self, timeline: Timeline) -> None:
        while True:
            found = timeline.events(self.incident, after_id=self.last_id, limit=BATCH)
            if not found:
                return
            self.last_id = found[-1].id
            self._deliver(found)
            if len(found) < BATCH:
                return


def feed_for(
    timeline: AnyTimeline,
    incident: int,
    after_id: int,
    deliver: Callable[[list[Event]], object],
    *,
    failed: Callable[[TimelineError], object] = lambda _: None,
    resumed: Callable[[str], object] = lambda _: None,
) -> Feed:
    """The change feed of `timeline`'s backend: SQLite's `data_version`, or PostgreSQL's
    LISTEN/NOTIFY (`resumed` is told when it is back after a failure)."""
    from cockpit.core.timeline import Timeline

    if isinstance(timeline, Timeline):
        return SqliteFeed(timeline.sibling, incident, after_id, deliver, failed=failed)
    from cockpit.core.pg_feed import PgFeed

    return PgFeed(
        timeline.target,
        incident,
        after_id,
        deliver,
        failed=failed,
        resumed=resumed,
    )
