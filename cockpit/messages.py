"""Messages from worker threads to the App. Facts are past tense; intents end in Requested."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from cockpit.core.metrics import Sample
from cockpit.session import StartedSources


@dataclass
class MetricsSampled(Message, bubble=False):
    """A source produced a reading of its metrics."""

    source: str
    samples: list[Sample]


@dataclass
class SourceFailed(Message, bubble=False):
    """A whole source could not be read (down, timed out, bad answer)."""

    source: str
    metrics: list[str]
    reason: str


@dataclass
class SourcesStarted(Message, bubble=False):
    """The session's metric sources are ready to poll."""

    started: StartedSources


@dataclass
class SourcesUnavailable(Message, bubble=False):
    """The metric sources could not be started."""

    reason: str
