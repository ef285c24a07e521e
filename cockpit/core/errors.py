"""Errors the cockpit raises on purpose, each with a human title.

CockpitError
├── ConfigError         configuration names something that does not exist or is invalid
├── ProcedureError      a procedure file is malformed (file, line, field)
│   └── ProcedureFileError  every problem found in one file
├── TimelineError       the timeline database cannot be opened or written
│   └── ChainBroken     `timeline verify` found an altered or missing event
├── IncidentError       unknown incident, closed incident, ...
├── LockHeld            another live cockpit holds the incident
└── ProviderError       a provider call failed (see providers.base)
    ├── ProviderUnavailable
    └── ProviderTimeout
"""

from __future__ import annotations

from dataclasses import dataclass


class CockpitError(Exception):
    """Base of every error the cockpit raises deliberately; `str()` is the user message."""

    title = "Error"

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        if title is not None:
            self.title = title


class ConfigError(CockpitError):
    """The configuration is invalid, e.g. it names a provider that is not installed."""

    title = "Configuration error"


class ProcedureError(CockpitError):
    """A procedure file is malformed; the message names the file, the line and the field."""

    title = "Bad procedure file"

    def __init__(self, path: str, line: int | None, field: str, problem: str) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.problem = problem
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a procedure file: where (line, field) and what."""

    line: int | None
    field: str
    message: str


def printable(text: str) -> str:
    """`text` on one line, control characters escaped: a file's content reaches the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class ProcedureFileError(ProcedureError):
    """All problems found in one file; `str()` is one line (the first problem, and a count)."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        first = problems[0]
        super().__init__(path, first.line, first.field, first.message)
        self.problems = problems

    def lines(self) -> list[str]:
        """One `file:line: field: problem` line per problem, in file order."""
        out = []
        for problem in self.problems:
            where = f"{self.path}:{problem.line}" if problem.line else self.path
            what = f"{problem.field}: {problem.message}" if problem.field else problem.message
            out.append(printable(f"{where}: {what}"))
        return out

    def __str__(self) -> str:
        # One line wherever it is shown (a CLI refusal, a notification); `cockpit procedures
        # validate` prints every line.
        first, more = self.lines()[0], len(self.problems) - 1
        if not more:
            return first
        return f"{first} (and {more} more: cockpit procedures validate {self.path})"


class TimelineError(CockpitError):
    """The timeline database cannot be opened, migrated or written."""

    title = "Timeline error"


class ChainBroken(TimelineError):
    """The hash chain does not verify: an event was altered, inserted or removed."""

    title = "Timeline tampered"

    def __init__(self, event_id: int, reason: str) -> None:
        self.event_id = event_id
        self.reason = reason
        super().__init__(f"event {event_id}: {reason}")


class IncidentError(CockpitError):
    """An incident cannot be found or is in the wrong state for the request."""

    title = "Incident error"


class LockHeld(CockpitError):
    """Another live cockpit process holds this incident."""

    title = "Incident already open"


class ProviderError(CockpitError):
    """A provider call failed in an expected way (network, timeout, refusal)."""

    title = "Provider error"


class ProviderUnavailable(ProviderError):
    """The provider's endpoint did not answer or answered with an error."""

    title = "Provider unavailable"


class ProviderTimeout(ProviderError):
    """The provider did not answer within its timeout."""

    title = "Provider timed out"
