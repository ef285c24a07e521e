"""Provides IncidentApp: an App that holds one incident, with no screens of its own.

It routes: it validates the procedure (after the first paint when it can), starts the metric
sources and their pollers, and hands what arrives (readings, a source's failure, the clock's
tick, an event read back from the timeline) to the incident's Automation
(cockpit/core/automation.py, headless), then performs what it asks: records events, notifies,
rings, stops the sources. Writing and reading back the timeline, and holding on when something
goes wrong, are TimelineApp's (cockpit/timeline_app.py). Widgets read the state and the board,
told by two Signals (board_changed, event_recorded). CockpitApp adds screens, keys and modals.
"""

from __future__ import annotations

import gc
from concurrent.futures import Future
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from textual import events, on
from textual.signal import Signal

from cockpit.core.actions import Outgoing
from cockpit.core.auto_rollback import seconds_left
from cockpit.core.automation import Automation, Steps, chat_notifier
from cockpit.core.checklist_state import ChecklistState
from cockpit.core.errors import CockpitError
from cockpit.core.incidents import Incident
from cockpit.core.manual import is_manual
from cockpit.core.metrics import Sample
from cockpit.core.outbox import QUEUED as OUTBOX_QUEUED
from cockpit.core.outbox import Outbox
from cockpit.core.procedure_copy import RECORDED
from cockpit.core.timeline import Event
from cockpit.driving import Driving
from cockpit.idle_gc import IdleCollector
from cockpit.key_count import KeyCount
from cockpit.messages import (
    MetricsSampled,
    ProcedureDiffers,
    ProcedureFailed,
    ProcedureLoaded,
    SourceFailed,
)
from cockpit.outbox_driver import OutboxDriver
from cockpit.session import Session, StartedSources
from cockpit.sources_app import SourcesApp

if TYPE_CHECKING:
    from cockpit.core.board import Board
    from cockpit.core.locks import DriverLock
    from cockpit.core.procedure import AutomaticRollback, Procedure


SETTLE_SECONDS = 3.0
"""When the start-up objects are frozen out of garbage collection (see `settle`)."""

SAMPLE_RETENTION = timedelta(days=30)
"""Samples older than this are dropped when a session starts; events are kept for ever."""


class IncidentApp(SourcesApp):
    """The incident, its procedure, its sources and its timeline; no screens."""

    def __init__(
        self, session: Session, *, lock: DriverLock | None = None, start_pollers: bool = True
    ) -> None:
        super().__init__(session, start_pollers=start_pollers)
        self.driver = Driving(self, lock)
        """Whether and how this cockpit drives the incident (its lock)."""
        self.automation = Automation(
            self.state, driving=not self.read_only and session.held_by is None
        )
        """What the driver does by itself: triggers, escalation, self-ticking items, paging."""
        self.automation.paging = "pagerduty" in session.notifiers
        self.automation.chat = chat_notifier(session.notifiers)
        self.acknowledging = False
        """An acknowledgement is on its way to the timeline."""
        self.outbox = OutboxDriver(self)
        """Sends what the state's outbox holds, from background workers."""
        self.procedure_error: str | None = None
        """Why the procedure did not load, once it failed (the screens that show it say so)."""
        self.board_changed: Signal[None] = Signal(self, "board-changed")
        self.second_ticked: Signal[None] = Signal(self, "second-ticked")
        """Once a second, for what shows time (the top bar's clock and countdown): the board
        changes with every sample, a dozen times a second with twelve sources."""
        self.collector = IdleCollector()
        """Runs the full garbage collection when no key is waiting (cockpit/idle_gc.py)."""
        self.keys = KeyCount(session.incident.drill and not self.read_only)
        """A drill's keys, for its score (cockpit/key_count.py)."""

    def start_watching(self) -> None:
        """Validate the procedure (after the first paint if needed), then start the sources."""
        if self.session.procedure is not None:
            self.procedure_ready(self.session.procedure)
        if self.session.procedure is None or self.session.procedure_copy is not None:
            self.call_after_refresh(
                self.run_worker,
                self.load_procedure,
                name="load-procedure",
                group="startup",
                thread=True,
                exit_on_error=False,
            )
        self.set_interval(1.0, self.tick)
        self.set_timer(SETTLE_SECONDS, self.settle)

    def settle(self) -> None:
        """Once started, move what exists to the GC's permanent generation.

        Everything built at start (widgets, the procedure, the library modules) lives as long
        as the process; without this, each full collection walked all of it again and a key
        pressed at that moment waited up to ~0.25 s (make bench: input latency).
        """
        gc.enable()  # `cockpit.cli.main` turned it off for the first frame
        gc.collect()
        gc.freeze()
        self.collector.start()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.collector.input_seen()
            self.keys.seen(event)
        await super().on_event(event)

    def load_procedure(self) -> None:
        """Worker: validate the procedure after the first paint (`cockpit.session_procedure`)."""
        from cockpit.session_procedure import load_session_procedure

        found = load_session_procedure(self.session)
        if found.procedure is None:
            self.post_message(ProcedureFailed(found.error or "the procedure did not load"))
            return
        if found.procedure is not self.session.procedure:
            self.post_message(ProcedureLoaded(found.procedure, found.fallback))
        if found.note is not None:  # the file on disk is not what runs
            self.post_message(ProcedureDiffers(found.note))

    @on(ProcedureLoaded)
    def procedure_loaded(self, message: ProcedureLoaded) -> None:
        """The procedure is valid: build the board and start the sources."""
        self.session.procedure = message.procedure
        self.session.procedure_fallback = message.fallback
        self.procedure_ready(message.procedure)

    @on(ProcedureDiffers)
    def procedure_differs(self, message: ProcedureDiffers) -> None:
        """Stays up a while: the incident runs a procedure its file no longer says."""
        self.notify(message.note, title="Procedure file", severity="warning", timeout=60)

    def record_copy(self) -> None:
        """The first session on an incident opened without a copy of its procedure records the
        one it runs, so it is stable from then on."""
        session, copy = self.session, self.session.procedure_copy
        if session.record_copy and copy is not None and not self.read_only:
            session.record_copy = False
            incident, at = session.incident.id, session.clock.now()
            self.write(lambda timeline: timeline.record_procedure(incident, copy, at=at), RECORDED)

    @on(ProcedureFailed)
    def procedure_failed(self, message: ProcedureFailed) -> None:
        """Without a valid procedure there are no triggers: say so and keep the timeline open."""
        self.procedure_error = message.reason
        self.record("procedure.failed", message.reason)
        # stays up: without a procedure there are no triggers, and that must not go unseen
        self.notify(
            message.reason, title="Procedure does not validate", severity="error", timeout=3600
        )

    def procedure_ready(self, procedure: Procedure) -> None:
        """Build the board, then start the sources (now, or in a worker after the paint)."""
        from cockpit.core.board import Board  # after the first paint, with the procedure

        if self.state.procedure is not procedure:
            self.state.use_procedure(procedure)
        self.start_drill_clock(procedure)
        self.automation.use(Board(procedure, self.session.poll_interval))
        if self.session.sources:
            self.use_sources(StartedSources(self.session.sources))
        elif self.session.start_sources is not None:
            self.run_worker(
                self.start_sources,
                name="start-sources",
                group="startup",
                thread=True,
                exit_on_error=False,
            )
        else:  # no sources: the providers are all there is to prepare
            self.run_worker(
                self.warm_up, name="warm-up", group="startup", thread=True, exit_on_error=False
            )
        self.board_changed.publish(None)

    def start_drill_clock(self, procedure: Procedure) -> None:
        """A compressed drill says its scale once (cockpit.auto_app.start_drill_clock)."""
        from cockpit.auto_app import start_drill_clock

        start_drill_clock(self, procedure)

    def sources_changed(self, started: StartedSources) -> None:
        self.automation.paging = "pagerduty" in self.session.notifiers
        self.automation.chat = chat_notifier(self.session.notifiers)
        assert self.board is not None
        for source in started.sources:
            self.board.expect(source.source_id, source.metric_names)
        self.board_changed.publish(None)

    def on_unmount(self) -> None:  # Textual calls SourcesApp's too (each class's handler)
        self.collector.stop()
        # Before TimelineApp's handler (Textual calls the subclass's first), which drains the
        # writer: the session's keys are queued while it still takes writes.
        keys = self.keys.take()
        if keys is not None:
            self.record(*keys)

    def begin_session(self) -> None:
        """Record that this cockpit joined the incident, and what it found unresolved."""
        if self.driving and self.link is None:  # a team database's retention is its admin's
            cutoff = self.session.clock.now() - SAMPLE_RETENTION
            self.write(lambda timeline: timeline.prune_samples(cutoff), "sample retention")
        self.tell_last_crash()
        self.record_copy()
        size = f"{self.size.width}x{self.size.height}"
        role = "" if self.driving else ", responding"
        self.record(
            "session.started",
            f"cockpit attached ({size}{role})",
            {"read_only": self.read_only, "driving": self.driving},
        )
        for intent in self.state.in_flight:
            self.notify(
                f"Not marked done or failed yet: {intent.summary}. r opens it: its steps are "
                "where they were."
                if is_manual(intent.action)
                else f"Outcome unknown: {intent.summary}. Verify it before acting again.",
                title="Unfinished action",
                severity="warning",
                timeout=30,
            )

    def close_incident(self, resolution: str) -> Future[Any]:
        """Close the incident: recorded, then the paging service told and the sources stopped
        (nothing more is sampled or fires for a closed incident; the post-mortem can still be
        written). A close refused (closed meanwhile by `cockpit incident close`) is announced.
        """
        if self.read_only:
            raise CockpitError(self.read_only_reason)
        incident_id, at = self.session.incident.id, self.session.clock.now()
        return self.write(
            lambda timeline: timeline.close_incident(incident_id, resolution, at=at),
            "incident.closed",
            then=lambda incident: self.closed(incident, resolution),
        )

    def closed(self, incident: Incident, resolution: str) -> None:
        """This cockpit closed the incident (what follows happens as the event arrives, in
        every cockpit: the sources stop; the driver tells the paging service)."""
        self.session.incident = incident  # the state follows when the event is read back

    def set_severity(self, severity: str) -> None:
        """Record the incident's new severity (the wizard's outcome sets it); nothing is
        recorded when it already is that severity, or when this cockpit only watches."""
        if self.read_only or severity == self.state.incident.severity:
            return
        incident_id, at = self.session.incident.id, self.session.clock.now()
        self.write(
            lambda timeline: timeline.set_severity(incident_id, severity, at=at),
            "incident.severity_changed",
        )

    def acknowledge(self) -> bool:
        """Acknowledge once (the first acknowledgement sets time-to-acknowledge); False when
        it already was, or is on its way."""
        if self.session.incident.acknowledged_at is not None or self.acknowledging:
            return False
        self.acknowledging = True
        incident_id, at = self.session.incident.id, self.session.clock.now()

        def acknowledged(_: object) -> None:
            self.acknowledging = False  # the driver pages as the event arrives

        self.write(
            lambda timeline: timeline.acknowledge(incident_id, at=at),
            "incident.acknowledged",
            then=acknowledged,
        )
        return True

    @property
    def driving(self) -> bool:
        """Whether this cockpit runs the incident's automation: records samples and triggers,
        pages, reminds of escalation, ticks items that tick themselves, sends the outbox. One
        cockpit drives (the incident's lock); the others respond: what they do is recorded and
        seen everywhere, and one of them drives when the driver ends."""
        return self.automation.driving

    @driving.setter
    def driving(self, driving: bool) -> None:
        self.automation.driving = driving

    @property
    def board(self) -> Board | None:
        """Windows and trigger evaluators; None until the procedure is validated."""
        return self.automation.board

    def perform(self, steps: Steps) -> None:
        """Do what the automation asked: record its events, say its notices, ring its bell."""
        for write in steps.writes:
            sent = write.kind == OUTBOX_QUEUED
            then = self._pump if sent else None
            self.record(write.kind, write.summary, write.payload, then=then, actor=write.actor)
        if steps.start_automatic is not None:
            self.run_worker(
                partial(self.run_automatic, steps.start_automatic),
                name="automatic-rollback",
                group="automatic-rollback",
                thread=True,
                exit_on_error=False,
            )
        for notice in steps.notices:
            self.notify(notice.message, title=notice.title, severity=notice.severity, timeout=30)
        if steps.bell:
            self.bell()
        if steps.stop_sources:
            self.run_worker(self.stop_sources, thread=True, group="close", exit_on_error=False)

    def run_automatic(self, entry: AutomaticRollback) -> None:
        """Worker: plan and run the automatic rollback whose countdown ended."""
        from cockpit.auto_app import run_automatic

        run_automatic(self, entry)

    def automatic_ended(self, kind: str, reason: str) -> None:
        self.perform(self.automation.automatic_ended(kind, reason, self.session.clock.now()))

    def cancel_automatic(self) -> bool:
        """A responder cancels the countdown (recorded as theirs); False when none runs."""
        from cockpit.auto_app import cancel_automatic

        return cancel_automatic(self)

    def _pump(self, _: Event) -> None:
        self.outbox.pump()

    def queue_message(self, message: Outgoing) -> Future[Event] | None:
        """Put a message in the outbox (recorded first), then try to send it at once."""
        kind, summary, payload = Outbox.queue(message)
        return self.record(kind, summary, payload, then=lambda _: self.outbox.pump())

    @property
    def checklists(self) -> ChecklistState | None:
        """Every checklist's items, as the timeline says (the state's; None before the
        procedure is known)."""
        return self.state.checklists

    def note_event(self, event: Event) -> None:
        """An event arrived (the state already holds it): what the incident does about it."""
        self.perform(self.automation.event(event))
        if event.kind.startswith("auto."):
            self.refresh_bindings()  # k cancels only while a countdown runs
            self.board_changed.publish(None)  # the banner says the countdown at once

    def tick(self) -> None:
        """Once a second: what other processes committed, escalation reminders, due messages,
        and a repaint so staleness shows without samples."""
        self.survive("the once-a-second tick", self._tick)

    def _tick(self) -> None:
        self.driver.if_free()
        self.perform(self.automation.due(self.session.clock.now()))
        self.outbox.pump()
        self.board_changed.publish(None)
        self.second_ticked.publish(None)
        self.collector.tick()

    def next_step(self, screen: str) -> str:
        """The guided mode's line for `screen`: what to do next, or, in a read-only cockpit
        (an observer, a watcher), that it only follows."""
        if self.read_only:
            return f"{self.read_only_reason}: follow the panes and the timeline."
        from cockpit.core.next_step import next_step

        return next_step(self.state, screen)

    def next_escalation(self) -> str:
        """'→ CTO in 04:12' for the top bar, or '' when nothing timed is ahead."""
        return self.automation.next_escalation(self.session.clock.now())

    @on(MetricsSampled)
    def take_samples(self, message: MetricsSampled) -> None:
        """Samples arrived from a poller."""
        self.survive("taking samples", lambda: self._take_samples(message))

    def _take_samples(self, message: MetricsSampled) -> None:
        self.perform(self.automation.source_answered(message.source))
        self.ingest(message.samples)

    def ingest(self, samples: list[Sample]) -> None:
        """Keep the samples for replay (`cockpit backtest`), then do what they brought about."""
        if self.driving:  # one cockpit keeps the incident's readings
            self.writer.samples(self.session.incident.id, samples)
        self.perform(self.automation.readings(samples))
        self.board_changed.publish(None)

    @on(SourceFailed)
    def source_failed(self, message: SourceFailed) -> None:
        """A source could not be read; say so once, and let its panes show why."""
        self.survive("taking a source's failure", lambda: self._source_failed(message))

    def _source_failed(self, message: SourceFailed) -> None:
        self.perform(self.automation.source_failed(message.source, message.reason))
        # The failure is a reading with no value: panes say why, the no-data policy applies,
        # and the stored readings show the gap.
        now = self.session.clock.now()
        self.ingest([Sample(m, None, now, message.source, message.reason) for m in message.metrics])

    def banner_text(self) -> str:
        """The dashboard banner: firing triggers and the way into the decision, after an
        automatic rollback's countdown and the way to stop it when one runs."""
        firing = self.board.firing() if self.board is not None else []
        left = seconds_left(self.state, self.session.clock.now())
        # The way out first: at 80 columns the end of the line is cut off.
        head = "FIRING" if left is None else f"AUTO ROLLBACK in {left:.0f} s · k cancels"
        if not firing:
            return "" if left is None else head
        first, verdict = firing[0]
        others = f" (+{len(firing) - 1} more)" if len(firing) > 1 else ""
        return f"{head} · w to decide · {first.title} [{verdict.counter}]{others}"
