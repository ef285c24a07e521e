"""What one cockpit run works on: the timeline, the incident, its procedure and metric sources."""

from __future__ import annotations

from dataclasses import dataclass, field

from cockpit.core.clock import Clock, SystemClock
from cockpit.core.lock import Holder
from cockpit.core.procedure import Procedure
from cockpit.core.timeline import Incident, Timeline
from providers.base import MetricSource


@dataclass
class Session:
    """Everything the App is given; built by the CLI (or a test) and injected."""

    timeline: Timeline
    incident: Incident
    procedure: Procedure
    sources: list[MetricSource] = field(default_factory=list)
    clock: Clock = field(default_factory=SystemClock)
    poll_interval: float = 15.0
    """Seconds between two samples of a source; a metric older than two intervals is stale."""
    held_by: Holder | None = None
    """Another live cockpit holding this incident, if any: the App asks what to do."""
    demo: bool = False
