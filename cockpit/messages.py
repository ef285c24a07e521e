"""Messages from worker threads to the App. Facts are past tense; intents end in Requested."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from cockpit.core.metrics import Sample
from cockpit.session import StartedSources

if TYPE_CHECKING:
    from cockpit.core.procedure import Procedure


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


@dataclass
class ProcedureLoaded(Message, bubble=False):
    """The session's procedure validated."""

    procedure: Procedure


@dataclass
class ProcedureFailed(Message, bubble=False):
    """The session's procedure did not validate (one line per problem)."""

    reason: str
