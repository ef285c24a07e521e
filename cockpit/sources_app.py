"""Provides SourcesApp: an App that starts the incident's metric sources and its platforms,
polls them, and stops them.

The sources come ready (cockpit.toml's) or from a factory run in a worker after the first paint
(the demo's service, then, as `more`, a drill's platforms, which take seconds); each source gets
a poller thread; the providers that came with them are warmed in a worker (a client library's
import is not paid on the responder's first key). They stop with the App, and at a hangup what
would outlive the process (a drill's database server) is stopped before it exits.
IncidentApp (cockpit/incident_app.py) says what the sources' metrics mean.
"""

from __future__ import annotations

from textual import on

from cockpit.core.errors import CockpitError
from cockpit.messages import SourcesSettled, SourcesStarted, SourcesUnavailable
from cockpit.polling import Poller
from cockpit.session import Session, StartedSources
from cockpit.timeline_app import TimelineApp


class SourcesApp(TimelineApp):
    """The incident's sources, their pollers and what started them."""

    def __init__(self, session: Session, *, start_pollers: bool = True) -> None:
        super().__init__(session)
        self.start_pollers = start_pollers
        self.started_sources: list[StartedSources] = []
        self.pollers: list[Poller] = []
        self.still_starting = False
        """The slow part of the sources (a drill's platforms) is being started: a provider
        missing now may be seconds away, not unconfigured."""

    def sources_changed(self, started: StartedSources) -> None:
        """Sources (or providers) came: what the incident expects of them (IncidentApp)."""

    def start_sources(self) -> None:
        """Worker: build the sources (imports, servers) after the first paint."""
        factory = self.session.start_sources
        assert factory is not None
        try:
            started = factory()
            self.still_starting = started.more is not None
            self.post_message(SourcesStarted(started))
            while started.more is not None:  # the slow part, while the first is polled
                started = started.more()
                self.post_message(SourcesStarted(started))
        except CockpitError as error:
            self.post_message(SourcesUnavailable(str(error)))
        finally:
            self.post_message(SourcesSettled())

    @on(SourcesStarted)
    def sources_started(self, message: SourcesStarted) -> None:
        """Sources are ready: note it and start polling."""
        self.use_sources(message.started)
        if message.started.note:
            self.record("sources.started", message.started.note)

    @on(SourcesSettled)
    def sources_settled(self) -> None:
        """Every part has started (or failed): a provider missing now is not configured."""
        self.still_starting = False

    @on(SourcesUnavailable)
    def sources_unavailable(self, message: SourcesUnavailable) -> None:
        """No sources: say so loudly; the panes stay NO DATA."""
        self.record("sources.failed", f"metric sources could not start: {message.reason}")
        self.notify(message.reason, title="No metric sources", severity="error", timeout=30)

    def use_sources(self, started: StartedSources) -> None:
        """Expect the sources' metrics and start one poller each."""
        self.started_sources.append(started)
        self.session.actions.update(started.actions)
        self.session.notifiers.update(started.notifiers)
        for source in started.sources:
            if self.start_pollers:
                poller = Poller(self, source, self.session.poll_interval)
                self.pollers.append(poller)
                poller.start()
        self.sources_changed(started)
        self.run_worker(
            self.warm_up, name="warm-up", group="startup", thread=True, exit_on_error=False
        )

    def warm_up(self) -> None:
        """Worker: what the first action needs (a provider's library, its client), prepared
        now rather than on the responder's first key (the Kubernetes client's import was 0.4 s
        of the drill's `r`)."""
        for provider in list(self.session.actions.values()):
            provider.warm()

    def on_unmount(self) -> None:
        for poller in self.pollers:
            poller.stop()

    def release_sources(self) -> None:
        """At a hangup, just before the process exits: stop what the sources started that
        would outlive it (a drill's database server is a process of its own) without waiting
        for the pollers, which end with the process."""
        while self.started_sources:
            started = self.started_sources.pop()
            if started.stop is not None:
                try:
                    started.stop()
                except Exception:  # exiting anyway: the next one is still stopped
                    continue

    def stop_sources(self) -> None:
        """Stop the pollers, then what the source factories started (the demo's service).

        Safe to call twice. Each poller finishes its current sample first (bounded by the
        source's own timeout), so the service is not pulled away under a request in flight.
        """
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:
            poller.join(timeout=5.0)
        while self.started_sources:
            started = self.started_sources.pop()
            if started.stop is not None:
                started.stop()
