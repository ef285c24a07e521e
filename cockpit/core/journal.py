"""Losing the team's database mid-incident does not stop the responder: a local journal.

`JournaledTimeline` is the timeline the writer (`cockpit.core.writer.TimelineWriter`) gets for a
``postgresql://`` timeline: the write methods its jobs call, delegated to a `PgTimeline`. When
the server cannot be reached (`TimelineUnavailable`: gone, refused, failed over for longer than
its own retries), it goes offline: it copies the incident's events known so far into a local
SQLite `Timeline` file, the journal, once (so an action begun on PostgreSQL can be finished
while apart, and the journal's chain holds on its own), and makes this write and every later
one there. While offline it tries the server again at most every `retry_seconds`; once it
answers, the journal is replayed (`cockpit.core.journal_replay`) and writes go to PostgreSQL
again. `on_offline(reason)` and `on_online(report)` tell the App, which says so on every screen.

Events written to the journal are returned in the PostgreSQL incident's terms, with
provisional ids continuing after the last PostgreSQL id known at the split
(`cockpit.core.journal_split`): provisional until replay, which gives each its real id.
`offline_events(after_id)` lets the App's feed read what was journaled meanwhile, translated
the same way.

Every write fixes its time and actor before the first try, on either side: the write that
found the server gone may have committed there (its answer lost), and replay recognises it by
its content instead of appending it twice. An action's id is chosen here for the same reason.

Used by one thread (the writer's), like a Timeline; `offline_events` may be called from another
(it opens its own connection to the journal). Pure Python, no Textual, no Rich.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cockpit.core.clock import Clock, SystemClock
from cockpit.core.errors import TimelineError, TimelineUnavailable
from cockpit.core.event_log import Event
from cockpit.core.journal_split import REPLAYED, Split, start_split, unreplayed
from cockpit.core.journal_writes import JournaledWrites

if TYPE_CHECKING:
    from cockpit.core.journal_replay import ReplayReport
    from cockpit.core.pg_timeline import PgTimeline
    from cockpit.core.timeline import Timeline

T = TypeVar("T")

RETRY_SECONDS = 5.0
"""While offline, the server is tried again at most this often (at a write, or `try_primary`)."""


def default_journal(incident: int) -> Path:
    """A new journal's file: ``journals/`` in the data directory, one per cockpit process."""
    from cockpit.core.paths import data_dir

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return data_dir() / "journals" / f"incident-{incident}-{stamp}-{os.getpid()}.db"


class JournaledTimeline(JournaledWrites):
    """A PostgreSQL incident's writes, kept in a local journal while the server is gone.

    Args:
        connect: Opens the PostgreSQL timeline (again, after an outage); raises
            `TimelineUnavailable` while the server cannot be reached.
        incident: The PostgreSQL incident written to.
        journal: The journal's file (default: `default_journal`); created when first needed.
        clock: Times the writes that give none, and the retries (monotonic).
        actor: Who writes; default: the PostgreSQL timeline's actor.
        retry_seconds: The least time between two tries of the server while offline.
        on_offline: Told why, each time writes start going to the journal.
        on_online: Told the replay's report, each time the server is back.
        known: The incident's events the caller already has (a feed's); those written on
            the server by others and seen nowhere else are read from it at start and copied
            from this list when the server is gone.

    Raises:
        TimelineUnavailable: The server cannot be reached at start and nothing of the
            incident is known (no event to start a journal from).
    """

    def __init__(
        self,
        connect: Callable[[], PgTimeline],
        incident: int,
        journal: str | os.PathLike[str] | None = None,
        *,
        clock: Clock | None = None,
        actor: str | None = None,
        retry_seconds: float = RETRY_SECONDS,
        on_offline: Callable[[str], object] = lambda _: None,
        on_online: Callable[[ReplayReport], object] = lambda _: None,
        known: Iterable[Event] = (),
    ) -> None:
        self.incident_id = incident
        self.journal_path = Path(journal) if journal is not None else default_journal(incident)
        self.retry_seconds = retry_seconds
        self._connect = connect
        self._clock: Clock = clock or SystemClock()
        self._actor = actor
        self._on_offline = on_offline
        self._on_online = on_online
        self._seen: dict[int, Event] = {e.id: e for e in known if e.incident == incident}
        self._primary: PgTimeline | None = None
        self._journal: Timeline | None = None
        self._split: Split | None = None
        self._lock = threading.Lock()  # the feed's thread reads the split, notes events
        self._tried_at = self._clock.monotonic()
        self._job_key: str | None = None
        self._where_shown = ""
        self.last_report: ReplayReport | None = None
        """The last replay's report."""
        try:
            primary = connect()
        except TimelineUnavailable as error:
            self._part(str(error), in_doubt=False)
            return
        self._online(primary)
        self._replay_leftover()

    # --- state ----------------------------------------------------------------------------

    @property
    def offline(self) -> bool:
        """True while writes go to the journal."""
        return self._primary is None

    @property
    def split(self) -> Split | None:
        """The current split, while offline (None online)."""
        with self._lock:
            return self._split

    def close(self) -> None:
        """Close both connections (the journal stays on disk, replayable by `cockpit
        timeline replay` if the server never came back)."""
        for each in (self._primary, self._journal):
            if each is not None:
                with contextlib.suppress(TimelineError):
                    each.close()
        self._primary = self._journal = None

    def __enter__(self) -> JournaledTimeline:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def keyed(self, job_key: str | None) -> None:
        """Pass the writer's job key to the PostgreSQL timeline when it takes one (its
        retries then find a lost commit); the journal has no use for it."""
        self._job_key = job_key
        keyed = getattr(self._primary, "keyed", None)
        if callable(keyed):
            keyed(job_key)

    def note_events(self, events: Iterable[Event]) -> None:
        """Events of the incident read elsewhere (the App's feed): copied into the journal
        should the server go, so the journal knows what others did before the split."""
        with self._lock:
            for event in events:
                if event.incident == self.incident_id and self._primary is not None:
                    self._seen[event.id] = event

    # --- going offline and back -----------------------------------------------------------

    def _online(self, primary: PgTimeline) -> None:
        self._primary = primary
        self._where_shown = primary.where  # named in the split, once the server is gone
        if self._job_key is not None:
            self.keyed(self._job_key)
        if self._actor is None:
            self._actor = primary._actor_name()
        with self._lock:
            after = max(self._seen, default=0)
        found = primary.events(self.incident_id, after_id=after)
        with self._lock:
            self._seen.update((event.id, event) for event in found)

    def _actor_name(self) -> str:
        if self._actor is None:
            from cockpit.core.actor import current_actor

            self._actor = current_actor()
        return self._actor

    def _journal_timeline(self) -> Timeline:
        if self._journal is None:
            from cockpit.core.timeline import Timeline

            self._journal = Timeline(self.journal_path, clock=self._clock, actor=self._actor_name())
        return self._journal

    def _part(self, reason: str, *, in_doubt: bool) -> None:
        """Go offline: the split made (the incident copied) unless one is still open."""
        if self._primary is not None:
            with contextlib.suppress(TimelineError):
                self._primary.close()
            self._primary = None
        self._tried_at = self._clock.monotonic()
        if self._split is None:
            # Only a cockpit that has not reached the server in this run goes on with a split
            # left in the file: one that has since wrote there what that split lacks.
            split = (None if self._where_shown else self._resumable()) or self._copy(
                reason, in_doubt
            )
            with self._lock:
                self._split = split
        self._on_offline(f"{reason}; writing to the journal {self.journal_path}")

    def _resumable(self) -> Split | None:
        """A split of this incident the journal file holds and has not replayed."""
        if not self.journal_path.exists():
            return None
        return unreplayed(self._journal_timeline(), self.incident_id)

    def _replay_leftover(self) -> None:
        """Started online with a split of this incident in the journal file not replayed
        (the cockpit stopped while offline): replay it now, before anything else is written.
        A refusal is kept in `leftover_error`; the file stays for `cockpit timeline replay`."""
        if self._primary is None or self._resumable() is None:
            return
        from cockpit.core.journal_replay import replay_journal

        try:
            report = replay_journal(self._journal_timeline(), self._primary, self.incident_id)
        except TimelineError as error:
            self.leftover_error = error
            return
        self.last_report = report
        self._online(self._primary)  # what the replay appended, known
        self._on_online(report)

    leftover_error: TimelineError | None = None
    """Why a journal left by an earlier run could not be replayed at start, if it could not."""

    def _copy(self, reason: str, in_doubt: bool) -> Split:
        """Copy the incident's known events into the journal, ending with the split's marker."""
        with self._lock:
            events = sorted(self._seen.values(), key=lambda e: e.id)
        if not events:
            raise TimelineUnavailable(
                f"{reason}; and nothing of incident {self.incident_id} is known to keep a "
                "journal of"
            )
        return start_split(self._journal_timeline(), events, self._where_shown, in_doubt)

    def try_primary(self, *, now: bool = False) -> bool:
        """While offline, try the server (at most every `retry_seconds` unless `now`); when
        it answers, replay the journal and go online. True when online."""
        if self._primary is not None:
            return True
        moment = self._clock.monotonic()
        if not now and moment - self._tried_at < self.retry_seconds:
            return False
        self._tried_at = moment
        try:
            primary = self._connect()
        except TimelineUnavailable:
            return False
        if self._split is None:  # no journal was started (nothing known): nothing to replay
            self._online(primary)
            return True
        from cockpit.core.journal_replay import replay_journal

        try:
            report = replay_journal(self._journal_timeline(), primary, self.incident_id)
        except TimelineError as error:
            with contextlib.suppress(TimelineError):
                primary.close()
            if not isinstance(error, TimelineUnavailable):
                # Refused (tampered, another timeline): said, and the journal kept as it is.
                self._on_offline(f"the journal cannot be replayed: {error}")
            return False
        with self._lock:
            self._split = None
        self.last_report = report
        # Not needed until the next outage, which opens it again.
        with contextlib.suppress(TimelineError):
            self._journal_timeline().close()
        self._journal = None
        self._online(primary)
        self._on_online(report)
        return True

    # --- the writes -----------------------------------------------------------------------

    def _write(
        self,
        incident: int,
        online: Callable[[PgTimeline], T],
        offline: Callable[[Timeline, Split], T],
    ) -> T:
        """`online` on PostgreSQL; on the journal when the server is gone (or goes now)."""
        if self._primary is None:
            self.try_primary()
        if self._primary is not None:
            try:
                result = online(self._primary)
            except TimelineUnavailable as error:
                self._part(str(error), in_doubt=True)
            else:
                if isinstance(result, Event) and result.incident == self.incident_id:
                    with self._lock:
                        self._seen[result.id] = result
                return result
        split = self._split
        if split is None:  # no journal could be started (nothing of the incident known)
            raise TimelineUnavailable(f"incident {incident}: the timeline cannot be reached")
        if incident != split.primary_incident:
            raise TimelineUnavailable(
                f"incident {incident}: the timeline cannot be reached and this journal keeps "
                f"incident {split.primary_incident} only"
            )
        return offline(self._journal_timeline(), split)

    def _both(self, method: str, incident: int, *args: Any, **kwargs: Any) -> Any:
        """The Timeline method `method` (the same on both backends) on whichever side is
        written to, the journal's answer in the PostgreSQL incident's terms. Its time and
        actor are fixed first, the same on either side (see the module's docstring)."""
        kwargs["at"] = kwargs.get("at") or self._clock.now()
        kwargs["actor"] = kwargs.get("actor") or self._actor_name()
        return self._write(
            incident,
            lambda pg: getattr(pg, method)(incident, *args, **kwargs),
            lambda j, s: s.translate(getattr(j, method)(s.local_incident, *args, **kwargs)),
        )

    # --- reading what was journaled ---------------------------------------------------------

    def offline_events(self, after_id: int) -> list[Event]:
        """The events written to the journal while offline with a (provisional) id above
        `after_id`, in the PostgreSQL incident's terms; [] while online. Safe from another
        thread: it opens its own connection to the journal."""
        split = self.split
        if split is None:
            return []
        from cockpit.core.timeline import Timeline

        with Timeline(self.journal_path, create=False) as reader:
            found = reader.events(split.local_incident, after_id=split.local_after(after_id))
        return [split.to_primary(e) for e in found if e.kind != REPLAYED]
