"""Provides TimelineApp: an App whose writes go through one writer thread, and that holds on.

Every write of the incident is queued to the one writer (cockpit.core.writer): nothing on this
thread waits on SQLite, fsync or another process's lock, and a held lock delays a write but
never loses it (the screen says so while it lasts). What was committed, by this process or any
other, is read back after each commit and once a second (`pull`), and published to the views.

It is also where whatever goes wrong goes: a worker that raises, a bug in a step of the live
data path (`survive`), a crash (kept for commands/run.py, which records it). Notifications are
plain text and scrubbed of every configured secret, whoever raises them. IncidentApp adds the
incident itself on top.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from textual import on
from textual.app import App
from textual.signal import Signal

from cockpit.core.errors import CockpitError
from cockpit.core.redact import scrub
from cockpit.core.timeline import Event, Timeline
from cockpit.core.writer import WRITER_BUSY_TIMEOUT, TimelineWriter
from cockpit.messages import TimelineCommitted, TimelineStalled, WriteDone, WriteFailed
from widgets.plain import visible

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel
    from textual.worker import Worker

    from cockpit.session import Session

T = TypeVar("T")


class TimelineApp(App[int]):
    """One incident's timeline, written through one writer and read back live."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.read_only = session.held_by is not None
        self.events: list[Event] = session.timeline.events(session.incident.id)
        """The incident's events, rebuilt from the timeline at start and appended live."""
        self.writer = TimelineWriter(
            partial(session.timeline.sibling, busy_timeout=WRITER_BUSY_TIMEOUT),
            on_commit=lambda: self.post_message(TimelineCommitted()),
            on_stall=lambda stall: self.post_message(TimelineStalled(stall)),
        )
        """The one writer of this process: every write of the incident is queued to it."""
        self.stalled = False
        """Whether writes are waiting for the timeline (another process holds its lock)."""
        self.samples_dropped_told = 0
        """Readings the writer gave up on that the responder was already told of."""
        self.survived: set[str] = set()
        """Steps of the data path that raised and were told (once each)."""
        self.crashed: BaseException | None = None
        """The exception that ended the App, if one did (commands/run.py saves it)."""
        self.event_recorded: Signal[Event] = Signal(self, "event-recorded")

    def note_event(self, event: Event) -> None:
        """Keep the state derived from events current, as each one is read back (a hook)."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification, whoever raised it: plain text (a platform's message or a typed
        note is never markup), its control characters shown, scrubbed of every configured
        secret."""
        super().notify(
            visible(scrub(str(message))),
            title=visible(scrub(title), one_line=True),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        from textual.worker import WorkerState

        if event.state is WorkerState.ERROR:
            self.worker_failed(event.worker)

    def worker_failed(self, worker: Worker[Any]) -> None:
        """The one route of a worker that raised: shown, recorded, its traceback kept."""
        from cockpit.crash import save_traceback

        error = worker.error
        name = worker.name or worker.group or "a background task"
        reason = f"{type(error).__name__}: {error}" if error is not None else "failed"
        where = save_traceback(self.session.timeline.path.parent, error, f"worker-{name}")
        payload = {"worker": name, "error": reason, "traceback_file": str(where) if where else None}
        self.record("worker.failed", f"{name} failed: {reason}", payload)
        self.notify(
            f"{name} failed: {reason}" + (f" (traceback: {where})" if where else ""),
            title="Something failed",
            severity="error",
            timeout=60,
        )

    def _handle_exception(self, error: Exception) -> None:
        # Textual ends the App on an exception nothing handled; keep it for commands/run.py,
        # which records session.crashed, saves the traceback and exits non-zero.
        if self.crashed is None:
            self.crashed = error
        super()._handle_exception(error)

    def write(
        self,
        run: Callable[[Timeline], T],
        what: str,
        *,
        then: Callable[[T], None] | None = None,
    ) -> Future[T]:
        """Queue one write; `then(result)` runs on this thread once it is committed.

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
        elif then is not None:
            self.post_message(WriteDone(then, future.result()))

    @on(WriteDone)
    def write_done(self, message: WriteDone) -> None:
        self.pull()  # what `then` does may read the state the write changed
        message.then(message.result)

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

    @on(TimelineCommitted)
    def timeline_committed(self) -> None:
        self.pull()

    def tell_last_crash(self) -> None:
        """If the last session of this incident crashed, say so, and where its traceback is."""
        last = next((e for e in reversed(self.events) if e.kind.startswith("session.")), None)
        if last is None or last.kind != "session.crashed":
            return
        where = last.payload.get("traceback_file")
        self.notify(
            f"The last session crashed at {last.ts[11:19]} UTC: {last.summary}."
            + (f" Traceback: {where}" if where else "")
            + " Check any action it was running before acting again.",
            title="Last session crashed",
            severity="warning",
            timeout=60,
        )

    def record(
        self,
        kind: str,
        summary: str,
        payload: Mapping[str, object] | None = None,
        *,
        command: str | None = None,
        then: Callable[[Event], None] | None = None,
    ) -> Future[Event] | None:
        """Queue an event for the timeline, stamped now; None when this cockpit is read-only.

        The views hear of it once it is committed, as they hear of anyone else's events;
        `then(event)` runs on this thread at that moment.
        """
        if self.read_only:
            return None
        incident, at, body = self.session.incident.id, self.session.clock.now(), dict(payload or {})
        return self.write(
            lambda timeline: timeline.record(incident, kind, summary, body, command=command, at=at),
            kind,
            then=then,
        )

    def begin_action(self, action: str, summary: str, payload: dict[str, Any], command: str) -> str:
        """From a worker: record an action's intent, wait until it is committed, return its id."""
        return str(
            self.begin_action_later(action, summary, payload, command).result().payload["action_id"]
        )

    def begin_action_later(
        self, action: str, summary: str, payload: dict[str, Any], command: str
    ) -> Future[Event]:
        """Queue an action's intent; the future is done when it is durably committed."""
        if self.read_only:
            raise CockpitError("read-only: this cockpit does not hold the incident")
        incident, at = self.session.incident.id, self.session.clock.now()
        return self.write(
            lambda timeline: timeline.begin_action(
                incident, action, summary, payload, command=command, at=at
            ),
            "action.intent",
        )

    def finish_action_later(
        self, action_id: str, outcome: str, summary: str, payload: dict[str, Any]
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
            ),
            "action.result",
        )

    def pull(self) -> None:
        """Bring in events committed since the last one we know (by this process or any
        other), and publish each to the views."""
        last = self.events[-1].id if self.events else 0
        fresh = self.session.timeline.events(self.session.incident.id, after_id=last)
        if any(event.kind.startswith("incident.") for event in fresh):
            self.session.incident = self.session.timeline.incident(self.session.incident.id)
        for event in fresh:
            self.events.append(event)
            self.note_event(event)
            self.event_recorded.publish(event)

    def survive(self, what: str, step: Callable[[], None]) -> None:
        """Run one step of the live data path; a bug in it is shown and recorded (traceback
        kept) and the cockpit carries on. Readings and events flow in all the time: one bad
        one must not end the session that is running a rollback."""
        try:
            step()
        except Exception as error:
            from cockpit.crash import save_traceback

            if what in self.survived:
                return  # told once per kind of step; the traceback of the first is kept
            self.survived.add(what)
            reason = f"{type(error).__name__}: {error}"
            where = save_traceback(self.session.timeline.path.parent, error, "error")
            self.record(
                "cockpit.error",
                f"error in {what}: {reason}",
                {"step": what, "error": reason, "traceback_file": str(where) if where else None},
            )
            self.notify(
                f"Error in {what}: {reason}. The cockpit goes on; check what it shows."
                + (f" Traceback: {where}" if where else ""),
                title="Internal error",
                severity="error",
                timeout=60,
            )
