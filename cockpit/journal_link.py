"""A team timeline's local journal, on the App's side: the cockpit keeps working when the
team's PostgreSQL cannot be reached, says so on every screen, and catches up when it answers.

The writer's timeline is a `cockpit.core.journal.JournaledTimeline`: while the server is gone it
writes to a SQLite journal in the data directory. Those events cannot come through the change
feed (it reads the server), so after each of the writer's commits they are read from the journal
(with provisional ids after the last one known) and delivered as the feed would. While offline
the server is tried every `PROBE_SECONDS` even when nobody writes. Once it answers, the journal
is replayed (each event keeping its time and actor, marked delayed; conflicts recorded), and the
App rebuilds its state from the server: the others' events of the outage and the replayed ones
take their real ids and order there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cockpit.core.errors import TimelineError
from cockpit.messages import EventsArrived, TimelineOffline, TimelineOnline

if TYPE_CHECKING:
    from textual.timer import Timer

    from cockpit.core.event_log import Event
    from cockpit.core.journal import JournaledTimeline
    from cockpit.core.journal_replay import ReplayReport
    from cockpit.core.journal_split import Split
    from cockpit.core.pg_timeline import PgTimeline
    from cockpit.timeline_app import TimelineApp

PROBE_SECONDS = 5.0
"""While offline, how often the server is tried when nothing is being written."""


class JournalLink:
    """The App's link to its journaled writer (see the module)."""

    def __init__(self, app: TimelineApp, primary: PgTimeline) -> None:
        self.app = app
        self.primary = primary
        self.journaled: JournaledTimeline | None = None
        """The writer's timeline, once the writer has opened it."""
        self.offline: str | None = None
        """Why writes go to the journal, while they do (shown on every screen)."""
        self.split: Split | None = None
        self._probe: Timer | None = None

    # --- on the writer's thread ---------------------------------------------------------------

    def connect(self) -> JournaledTimeline:
        """The writer's timeline: PostgreSQL, with its journal to fall back on."""
        from cockpit.core.journal import JournaledTimeline

        app = self.app
        self.journaled = JournaledTimeline(
            self.primary.sibling,
            app.session.incident.id,
            clock=app.session.clock,
            actor=self.primary.actor,
            on_offline=lambda reason: app.post_message(TimelineOffline(reason)),
            on_online=lambda report: app.post_message(TimelineOnline(report)),
            known=list(app.state.events),
        )
        return self.journaled

    def committed(self, arrived: int) -> None:
        """After a commit: what went to the journal reaches the App as the feed's would."""
        journaled = self.journaled
        if journaled is None or not journaled.offline:
            return
        try:
            found = journaled.offline_events(arrived)
        except TimelineError:
            return  # read again after the next commit
        if found:
            self.app.post_message(EventsArrived(found))

    # --- on the App's thread ------------------------------------------------------------------

    def note(self, events: list[Event]) -> None:
        """Events the feed delivered: the journal copies them should the server go."""
        if self.journaled is not None and self.offline is None:
            self.journaled.note_events(events)

    def went_offline(self, reason: str) -> None:
        first = self.offline is None
        self.offline = reason
        if self.journaled is not None:
            self.split = self.journaled.split or self.split
        if self._probe is None:
            self._probe = self.app.set_interval(PROBE_SECONDS, self.probe)
        if first:
            self.app.clear_notifications()  # "cannot read the timeline": this says it all
            self.app.notify(
                f"The team database cannot be reached: {reason}. This cockpit keeps working; "
                "everything is recorded here and appended to the team's timeline, marked "
                "delayed, as soon as it answers.",
                title="Working offline",
                severity="warning",
                timeout=30,
            )
        self.app.offline_changed()

    def probe(self) -> None:
        """Try the server through the writer (its thread owns the journaled timeline)."""
        journaled = self.journaled
        if journaled is None or not journaled.offline:
            return
        self.app.writer.submit(lambda _: journaled.try_primary(now=True), "reconnecting")

    def came_back(self, report: ReplayReport) -> None:
        """The journal is replayed: read the incident again from the server, then say so."""
        if self._probe is not None:
            self._probe.stop()
            self._probe = None
        split, self.split, self.offline = self.split, None, None
        self._reread_later(report, split)

    def _reread(self, report: ReplayReport, split: Split | None) -> None:
        """Worker: the incident's events as the server has them now (gone again before they
        could be read: tried again shortly, the replay itself is done)."""
        try:
            with self.primary.sibling() as reader:
                events = reader.events(self.app.session.incident.id)
        except TimelineError:
            self.app.call_from_thread(
                self.app.set_timer, PROBE_SECONDS, lambda: self._reread_later(report, split)
            )
            return
        self.app.call_from_thread(self.app.reload, events, self._ids(report, split))
        self.app.call_from_thread(self._tell, report)

    def _reread_later(self, report: ReplayReport, split: Split | None) -> None:
        """Read the incident again in a worker."""
        self.app.run_worker(
            lambda: self._reread(report, split),
            thread=True,
            group="journal-replayed",
            exit_on_error=False,
        )

    @staticmethod
    def _ids(report: ReplayReport, split: Split | None) -> dict[int, int]:
        """Provisional id (as the App knew the journal's events) → the server's id."""
        if split is None:
            return {}
        mapped: dict[int, int] = {}
        for local, real in report.ids.items():
            try:
                mapped[split.primary_id(local)] = real
            except ValueError:
                continue
        return mapped

    def _tell(self, report: ReplayReport) -> None:
        app = self.app
        app.offline_changed()
        said = (
            f"The team database answers again: {report.appended} event(s) written here while "
            f"apart were appended, each with its own time and actor, marked delayed"
        )
        app.notify(said + ".", title="Back online", timeout=20)
        for conflict in report.conflicts:
            app.notify(
                f"{conflict.target} ({conflict.provider}) was acted on from both sides while "
                f"apart: by {conflict.primary_actor} at {conflict.primary_at[11:19]} on the team "
                f"database, and by {conflict.journal_actor} at {conflict.journal_at[11:19]} "
                "here. Both are recorded, neither was merged: check the target's state.",
                title="Conflict",
                severity="error",
                timeout=120,
            )
