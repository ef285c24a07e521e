"""What one cockpit run works on: the timeline, the incident, its procedure, sources, providers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.core.clock import Clock, SystemClock
from cockpit.core.lock import Holder
from cockpit.core.locks import Locks, files_for, locks_for
from cockpit.core.outline import MetricTitle, Outline
from cockpit.core.procedure_copy import ProcedureCopy
from cockpit.core.timeline import Incident

if TYPE_CHECKING:  # pydantic and httpx: the first paint needs neither
    from cockpit.core.procedure import Procedure
    from cockpit.core.timeline_open import AnyTimeline
    from providers.base import ActionProvider, MetricSource, Notifier


@dataclass
class StartedSources:
    """Metric sources made ready after the first paint, and how to stop what started them."""

    sources: list[MetricSource]
    note: str = ""
    """Recorded in the timeline when they start (the demo says where its service listens)."""
    stop: Callable[[], None] | None = None
    actions: dict[str, ActionProvider] = field(default_factory=dict)
    """Action providers that came up with them (the demo's, against its simulators)."""
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    more: Callable[[], StartedSources] | None = None
    """What takes seconds to start (a drill's database), started once these are in use."""


@dataclass
class Session:
    """Everything the App is given; built by the CLI (or a test) and injected."""

    timeline: AnyTimeline
    """A SQLite file's `Timeline`, or a team's `PgTimeline` (`cockpit --db postgresql://…`)."""
    incident: Incident
    procedure: Procedure | None = None
    """The validated procedure; None to validate `procedure_copy` (else the built-in
    `outline.name`) after the paint."""
    outline: Outline | None = None
    procedure_copy: ProcedureCopy | None = None
    """The copy of its procedure the incident recorded (or, when it was opened without one,
    the file as this session read it, to be recorded: `record_copy`); what `procedure` was
    validated from, unless `procedure_fallback` says otherwise."""
    record_copy: bool = False
    """Record `procedure_copy` when the session starts: the incident has no copy yet."""
    procedure_fallback: str | None = None
    """Why the recorded copy did not validate, when the file on disk is used instead."""
    sources: list[MetricSource] = field(default_factory=list)
    actions: dict[str, ActionProvider] = field(default_factory=dict)
    """Action providers by the name procedures use (`provider: vercel`), from cockpit.toml."""
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    """Notifiers by name (`slack`, `statuspage`, ...): where drafts are sent, via the outbox."""
    clock: Clock = field(default_factory=SystemClock)
    poll_interval: float = 15.0
    """Seconds between two samples of a source; a metric older than two intervals is stale."""
    start_sources: Callable[[], StartedSources] | None = None
    """Builds the sources in a worker after the first paint, instead of `sources`."""
    held_by: Holder | None = None
    """Another live cockpit driving this incident, if any: this one responds."""
    watching: bool = False
    """`cockpit --watch`: follow the incident live, never write to it."""
    greeting: str = ""
    """Said once the cockpit is on screen ("Resuming drill incident 3 …"): what the command
    chose for the responder, and how to choose otherwise."""
    drill_clock: bool = False
    """A drill in compressed time (`cockpit demo`): one poll stands for one of the procedure's
    samples, and every other clock of the incident runs at that same scale."""

    @cached_property
    def locks(self) -> Locks:
        """The locks this timeline's cockpits share (flock files, or PostgreSQL's)."""
        return locks_for(self.timeline)

    @cached_property
    def files(self) -> Path:
        """Where this cockpit writes its files: exports, drafts, tracebacks."""
        return files_for(self.timeline)

    def drill_scale(self, procedure: Procedure) -> float:
        """Drill seconds per wall second: the procedure's sample interval over the poll's."""
        if not self.drill_clock or not self.incident.drill or self.poll_interval <= 0:
            return 1.0
        return max(1.0, procedure.sample_interval_seconds / self.poll_interval)

    @property
    def procedure_name(self) -> str:
        """The procedure's name, known before it is validated."""
        if self.procedure is not None:
            return self.procedure.name
        assert self.outline is not None, "a session needs a procedure or an outline"
        return self.outline.name

    def metric_titles(self) -> dict[str, MetricTitle]:
        """Each metric's title and unit, in the procedure's order, for the dashboard's panes."""
        if self.procedure is not None:
            return {
                name: MetricTitle(spec.title, spec.unit)
                for name, spec in self.procedure.metrics.items()
            }
        assert self.outline is not None, "a session needs a procedure or an outline"
        return self.outline.metrics

    def trigger_titles(self) -> tuple[str, ...]:
        """The trigger rules' titles, in order, before their verdicts exist."""
        if self.procedure is not None:
            return tuple(rule.title for rule in self.procedure.triggers)
        return self.outline.triggers if self.outline is not None else ()
