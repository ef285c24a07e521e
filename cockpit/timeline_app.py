"""Provides TimelineApp: the one flow of an incident's events, written and read off this thread.

Writes go to the one writer (cockpit.core.writer): nothing on this thread waits on SQLite,
fsync or another process's lock, and a held lock delays a write but never loses it (the screen
says so while it lasts). What is committed, by this process or any other (a second cockpit, the
CLI), comes back through the change feed (cockpit.core.feed), in order, and only then is folded
into the incident's state (cockpit.core.state.IncidentState) and published to the views: a
cockpit's own writes show up the way anyone else's do. GuardedApp, below it, holds on when
something goes wrong; IncidentApp, above it, adds the incident's sources and automation.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from textual import on
from textual.signal import Signal

from cockpit.core.errors import CockpitError
from cockpit.core.feed import Feed, feed_for
from cockpit.core.roles import OBSERVER, person_of
from cockpit.core.state import IncidentState
from cockpit.core.timeline import Event, Timeline
from cockpit.core.writer import WRITER_BUSY_TIMEOUT, TimelineWriter
from cockpit.guarded_app import GuardedApp
from cockpit.journal_link import JournalLink
from cockpit.messages import (
    EventsArrived,
    FeedFailed,
    FeedResumed,
    TimelineOffline,
    TimelineOnline,
    TimelineStalled,
    WriteDone,
    WriteFailed,
)

if TYPE_CHECKING:
    from cockpit.core.writer import WriterTimeline
    from cockpit.session import Session

T = TypeVar("T")

DRAIN_AT_EXIT = 1.0
"""Leaving, how long the App waits for its queued writes before the screen goes."""

SAMPLE_PERIOD_CAP = 5.0
"""Readings are written once per poll interval, but at least every this many seconds (what a
crash could lose of them; events are written at once)."""


class TimelineApp(GuardedApp):
    """One incident's timeline, written through one writer and read back through the feed."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        events = session.timeline.events(session.incident.id)
        self.state = IncidentState.replay(session.incident, events, session.procedure)
        """The incident as its events say, folded one event at a time as they arrive."""
        timeline = session.timeline
        self.link: JournalLink | None = None
        """A team's PostgreSQL: the local journal the cockpit falls back on when it is gone."""
        connect: Callable[[], WriterTimeline]
        if isinstance(timeline, Timeline):
            connect = partial(timeline.sibling, busy_timeout=WRITER_BUSY_TIMEOUT)
        else:
            self.link = JournalLink(self, timeline)
            connect = self.link.connect
        self.writer = TimelineWriter(
            connect,
            on_commit=self._committed,
            on_stall=lambda stall: self.post_message(TimelineStalled(stall)),
            sample_period=min(session.poll_interval, SAMPLE_PERIOD_CAP),
        )
        """The one writer of this process: every write of the incident is queued to it."""
        self.feed = self.new_feed(self.arrived)
        """Every event committed to the incident, by anyone, in order."""
        self.mine: set[int] = set()
        """Ids of the events this cockpit wrote (the views tell them from others')."""
        self.waiting: dict[int, list[Callable[[Event], None]]] = {}
        """What to run once an event this cockpit wrote has come back through the feed."""
        self.stalled = False
        """Whether writes are waiting for the timeline (another process holds its lock)."""
        self.samples_dropped_told = 0
        """Readings the writer gave up on that the responder was already told of."""
        self.event_recorded: Signal[Event] = Signal(self, "event-recorded")
        self.timeline_reloaded: Signal[None] = Signal(self, "timeline-reloaded")
        """The events were read again (a team database back after an outage): views that
        keep events of their own rebuild them from `events`."""
        self.connection_changed: Signal[None] = Signal(self, "connection-changed")
        """The team database went away or came back (`offline`)."""

    def new_feed(self, after_id: int) -> Feed:
        """The change feed of the incident from `after_id` on."""
        return feed_for(
            self.session.timeline,
            self.session.incident.id,
            after_id,
            lambda batch: self.post_message(EventsArrived(batch)),
            failed=lambda error: self.post_message(FeedFailed(error)),
            resumed=lambda said: self.post_message(FeedResumed(said)),
        )

    @property
    def arrived(self) -> int:
        """The last event id folded into the state (0: none); the writer's thread reads it
        too, to show what went to the journal after it."""
        events = self.state.events
        return events[-1].id if events else 0

    @property
    def events(self) -> list[Event]:
        """The incident's events so far, in id order (the state's)."""
        return self.state.events

    @property
    def read_only(self) -> bool:
        """Writes nothing, follows everything live: a watcher (`cockpit --watch`), or, by its
        role in the incident, an observer's cockpit (the role may arrive live, by the feed)."""
        return self.session.watching or self.role == OBSERVER

    @property
    def role(self) -> str | None:
        """This cockpit's role in the incident (its actor's: `cockpit.core.roles`), if any."""
        return self.state.roles.role_of(person_of(self.session.timeline.actor))

    @property
    def read_only_reason(self) -> str:
        """What a key that would write says in a read-only cockpit: "observer: read-only in
        incident 3 (lead: alice)"."""
        incident = self.session.incident.id
        if self.session.watching:
            return f"watching: read-only in incident {incident} (cockpit --watch)"
        return f"observer: read-only in incident {incident} (lead: {self.state.roles.lead})"

    def on_mount(self) -> None:
        self.feed.start()

    def on_unmount(self) -> None:
        self.feed.stop()
        # What is queued goes now (the interval's readings too); a lock held elsewhere is
        # waited for after the screen is gone, saying so on the terminal (commands/run.py).
        self.writer.flush()
        self.writer.stop(DRAIN_AT_EXIT)

    def _committed(self) -> None:
        # On the writer's thread: the feed reads what was just committed, now.
        self.feed.poke()
        if self.link is not None:
            self.link.committed(self.arrived)

    @property
    def offline(self) -> str | None:
        """Why this cockpit writes to its local journal, while the team database is gone."""
        return self.link.offline if self.link is not None else None

    def offline_changed(self) -> None:
        self.connection_changed.publish(None)

    @on(TimelineOffline)
    def timeline_offline(self, message: TimelineOffline) -> None:
        if self.link is not None:
            self.link.went_offline(message.reason)

    @on(TimelineOnline)
    def timeline_online(self, message: TimelineOnline) -> None:
        if self.link is not None:
            self.link.came_back(message.report)

    def reload(self, events: list[Event], renumbered: Mapping[int, int]) -> None:
        """The incident as read again (after a replay): the state rebuilt in place (whoever
        holds it keeps it), this cockpit's events known by their real ids, the views told."""
        fresh = IncidentState.replay(self.state.incident, events, self.state.procedure)
        scale = self.state.time_scale
        for name in (f.name for f in dataclasses.fields(IncidentState)):
            setattr(self.state, name, getattr(fresh, name))
        self.state.time_scale = scale
        self.session.incident = self.state.incident
        self.mine = {renumbered.get(event_id, event_id) for event_id in self.mine}
        waiting, self.waiting = self.waiting, {}
        by_id = {event.id: event for event in events}
        for provisional, thens in waiting.items():
            found = by_id.get(renumbered.get(provisional, provisional))
            if found is not None:
                for then in thens:
                    then(found)
        # The old feed stops on a thread of its own (it may be finishing a statement); what it
        # still delivers is at or below `arrived`, or read again by the new one: skipped.
        threading.Thread(target=self.feed.stop, name="old-feed-stop", daemon=True).start()
        self.feed = self.new_feed(self.arrived)
        self.feed.start()
        self.timeline_reloaded.publish(None)

    # --- reading ------------------------------------------------------------------------------

    @on(EventsArrived)
    def events_arrived(self, message: EventsArrived) -> None:
        """Fold each new event into the state, let the incident react, tell the views."""
        last = self.arrived
        if self.link is not None:
            self.link.note(message.events)
        for event in message.events:
            if event.id <= last:
                continue  # the initial read and the feed's first look may overlap
            last = event.id
            self.survive("reading the timeline", partial(self.state.apply, event))
            if event.kind.startswith("incident."):
                self.session.incident = self.state.incident
            self.note_event(event)
            self.event_recorded.publish(event)
            for then in self.waiting.pop(event.id, ()):
                then(event)

    def note_event(self, event: Event) -> None:
        """What the incident does when an event arrives (a hook for IncidentApp)."""

    @property
    def quiet(self) -> bool:
        """Nothing of this cockpit's is on its way: every write committed and read back, and
        what was to follow it done (tests wait for this; so does leaving)."""
        written = max(self.mine, default=0)
        return not self.writer.waiting and not self.waiting and written <= self.arrived

    @on(FeedFailed)
    def feed_failed(self, message: FeedFailed) -> None:
        if self.offline is not None:
            return  # said already: writes go to the journal, its events are shown
        self.notify(
            f"Cannot read the timeline: {message.error}. What others record will show once it "
            "can be read again.",
            title="Timeline unreadable",
            severity="error",
            timeout=60,
        )

    @on(FeedResumed)
    def feed_resumed(self, message: FeedResumed) -> None:
        self.notify(message.said, title="Timeline readable again", timeout=15)

    # --- writing ------------------------------------------------------------------------------

    def write(
        self,
        run: Callable[[WriterTimeline], T],
        what: str,
        *,
        then: Callable[[T], None] | None = None,
    ) -> Future[T]:
        """Queue one write; `then(result)` runs on this thread once it is committed (and, when
        the result is an event, once that event has come back through the feed).

        A write refused for good (the incident closed meanwhile) is announced; a write that
        waits for the lock is shown as waiting, never dropped.
        """
        future = self.writer.submit(run, what)
        future.add_done_callback(partial(self._written, what, then))
        return future

    def _written(self, what: str, then: Callable[[Any], None] | None, future: Future[Any]) -> None:
        # On the writer's thread: only post.
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self.post_message(WriteFailed(what, error))
        elif then is not None or isinstance(future.result(), Event):
            # Posted before the feed can deliver the event (the writer pokes the feed after
            # its batch): `mine` knows it by then.
            self.post_message(WriteDone(then, future.result()))

    @on(WriteDone)
    def write_done(self, message: WriteDone) -> None:
        result, then = message.result, message.then
        if isinstance(result, Event):
            self.mine.add(result.id)
        if then is None:
            return
        if isinstance(result, Event) and result.id > self.arrived:
            self.waiting.setdefault(result.id, []).append(then)
        else:
            then(result)

    @on(WriteFailed)
    def write_failed(self, message: WriteFailed) -> None:
        self.notify(
            f"{message.what}: {message.error}", title="Not recorded", severity="error", timeout=30
        )

    @on(TimelineStalled)
    def timeline_stalled(self, message: TimelineStalled) -> None:
        """Say once that writes wait, and once that they went through: never a silent freeze."""
        stall = message.stall
        if stall.seconds and not self.stalled:
            self.stalled = True
            self.notify(
                f"{stall.reason}. {stall.waiting} event(s) wait and will be recorded as soon as "
                "it is free; the cockpit keeps working.",
                title="Timeline busy",
                severity="warning",
                timeout=30,
            )
        elif not stall.seconds and self.stalled:
            self.stalled = False
            dropped = self.writer.samples_dropped - self.samples_dropped_told
            self.samples_dropped_told += dropped
            kept = f" ({dropped} metric readings were not kept: too many waited)" if dropped else ""
            self.notify(f"The timeline is free again: every waiting event is recorded.{kept}")
            if dropped:
                self.record(
                    "samples.dropped",
                    f"{dropped} metric readings not kept while the timeline was locked",
                    {"count": dropped},
                )

    def record(
        self,
        kind: str,
        summary: str,
        payload: Mapping[str, object] | None = None,
        *,
        command: str | None = None,
        then: Callable[[Event], None] | None = None,
        actor: str | None = None,
    ) -> Future[Event] | None:
        """Queue an event for the timeline, stamped now; None when this cockpit is read-only.

        The views hear of it once it is read back, as they hear of anyone else's events;
        `then(event)` runs on this thread at that moment. `actor`: when not the responder
        (the cockpit by itself).
        """
        if self.read_only:
            return None
        incident, at, body = self.session.incident.id, self.session.clock.now(), dict(payload or {})
        return self.write(
            lambda timeline: timeline.record(
                incident, kind, summary, body, command=command, at=at, actor=actor
            ),
            kind,
            then=then,
        )

    def begin_action(self, action: str, summary: str, payload: dict[str, Any], command: str) -> str:
        """From a worker: record an action's intent, wait until it is committed, return its id."""
        return str(
            self.begin_action_later(action, summary, payload, command).result().payload["action_id"]
        )

    def begin_action_later(
        self,
        action: str,
        summary: str,
        payload: dict[str, Any],
        command: str,
        actor: str | None = None,
    ) -> Future[Event]:
        """Queue an action's intent; the future is done when it is durably committed."""
        if self.read_only:
            raise CockpitError(self.read_only_reason)
        incident, at = self.session.incident.id, self.session.clock.now()
        return self.write(
            lambda timeline: timeline.begin_action(
                incident, action, summary, payload, command=command, at=at, actor=actor
            ),
            "action.intent",
        )

    def finish_action_later(
        self,
        action_id: str,
        outcome: str,
        summary: str,
        payload: dict[str, Any],
        actor: str | None = None,
    ) -> Future[Event]:
        """Queue how an action ended; items its verified result ticks tick as it is read back."""
        incident, at = self.session.incident.id, self.session.clock.now()
        return self.write(
            lambda timeline: timeline.finish_action(
                incident,
                action_id,
                outcome,  # type: ignore[arg-type]
                summary,
                payload,
                at=at,
                actor=actor,
            ),
            "action.result",
        )
