"""Messages from worker threads to the App. Facts are past tense; intents end in Requested."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

from cockpit.core.metrics import Sample
from cockpit.core.writer import Stall
from cockpit.session import StartedSources

if TYPE_CHECKING:
    from cockpit.core.event_log import Event
    from cockpit.core.journal_replay import ReplayReport
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


class SourcesSettled(Message, bubble=False):
    """Every part of the sources has started or failed (a drill's platforms included)."""


@dataclass
class ProcedureLoaded(Message, bubble=False):
    """The session's procedure validated."""

    procedure: Procedure
    fallback: str | None = None
    """Why the incident's recorded copy did not validate, when this is the file on disk."""


@dataclass
class ProcedureDiffers(Message, bubble=False):
    """The procedure file on disk is not what the incident runs (one line saying how)."""

    note: str


@dataclass
class ProcedureFailed(Message, bubble=False):
    """The session's procedure did not validate (one line per problem)."""

    reason: str


@dataclass
class EventsArrived(Message, bubble=False):
    """The change feed read events committed to the incident (by anyone), in id order."""

    events: list[Event]


@dataclass
class FeedFailed(Message, bubble=False):
    """The change feed cannot read the timeline (it keeps trying)."""

    error: BaseException


@dataclass
class FeedResumed(Message, bubble=False):
    """The change feed reads again after a failure, caught up (`said`: a sentence saying so)."""

    said: str


@dataclass
class TimelineOffline(Message, bubble=False):
    """The team database cannot be reached: writes go to the local journal (`reason`)."""

    reason: str


@dataclass
class TimelineOnline(Message, bubble=False):
    """The team database answers again and the journal was replayed into it."""

    report: ReplayReport


@dataclass
class TimelineStalled(Message, bubble=False):
    """The writer is waiting for the timeline (seconds=0: the wait is over)."""

    stall: Stall


@dataclass
class WriteFailed(Message, bubble=False):
    """A write was refused for good (the incident was closed meanwhile, ...)."""

    what: str
    error: BaseException


@dataclass
class WriteDone(Message, bubble=False):
    """A write is committed; `then` runs on the App's thread with its result."""

    then: Callable[[Any], None] | None
    result: Any
