"""Errors the cockpit raises on purpose, each with a human title.

CockpitError
├── ConfigError         configuration names something that does not exist or is invalid
├── ProcedureError      a procedure file is malformed (file, line, field)
│   └── ProcedureFileError  every problem found in one file
├── TimelineError       the timeline database cannot be opened, read or written
│   ├── TimelineBusy    another connection holds the write lock (try again later)
│   ├── TimelineUnavailable  the timeline's server refused or dropped the connection
│   ├── SchemaTooNew    the timeline's schema is newer than this cockpit (upgrade it)
│   ├── ChainBroken     the hash chain does not hold: an event altered, inserted or removed
│   └── TimelineDamaged the file cannot be read as a timeline: not SQLite, truncated, a
│                       missing table, a value of the wrong type, a payload that is not JSON
├── IncidentError       unknown incident, closed incident, ...
├── LockHeld            another live cockpit holds the incident
└── ProviderError       a provider call failed (see providers.base)
    ├── ProviderUnavailable
    │   └── RateLimited     the provider asked us to wait (429, 503 with Retry-After)
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


class TimelineBusy(TimelineError):
    """Another connection (a cockpit, the CLI, a sqlite3 shell) holds the write lock."""

    title = "Timeline busy"


class TimelineUnavailable(TimelineError):
    """The timeline's PostgreSQL server cannot be reached or refused the login.

    The message names the host, the port, the database and the role, and the server's or
    libpq's reason; never the password.
    """

    title = "Timeline server unavailable"


class SchemaTooNew(TimelineError):
    """The timeline's schema was made by a newer cockpit; this one refuses to touch it."""

    title = "Timeline too new"


class ChainBroken(TimelineError):
    """The hash chain does not verify: an event was altered, inserted or removed.

    `cockpit timeline verify` exits 1 for this one (tampered), 2 for every other error.
    """

    title = "Timeline tampered"

    def __init__(self, event_id: int, reason: str) -> None:
        self.event_id = event_id
        self.reason = reason
        super().__init__(f"event {event_id}: {reason}")

    def __reduce__(self) -> tuple[type[ChainBroken], tuple[int, str]]:
        # Picklable (a forked export worker may raise it): the default passes only the message.
        return type(self), (self.event_id, self.reason)


class TimelineDamaged(TimelineError):
    """The file cannot be read as a timeline, whatever the chain says.

    Not SQLite, empty, truncated or corrupted, a table or column missing, a value of the wrong
    type (a blob where text belongs, a NULL, text in an integer column), a payload that is not
    a JSON object. The message names the database, where (``event 17``, ``sample 4``, ``the
    events table``) and what is wrong. Exit status 2, like every error but tampering.

    Args:
        path: The database file.
        problem: What is wrong, e.g. ``payload is a blob, not JSON text``.
        where: The event or part of the file, e.g. ``event 17``; None for the whole file.
    """

    title = "Timeline damaged"

    def __init__(self, path: object, problem: str, where: str | None = None) -> None:
        self.path = path
        self.problem = problem
        self.where = where
        place = f"{where}: " if where else ""
        super().__init__(f"{path}: damaged timeline: {place}{problem}")

    def __reduce__(self) -> tuple[type[TimelineDamaged], tuple[object, str, str | None]]:
        return type(self), (self.path, self.problem, self.where)


class IncidentError(CockpitError):
    """An incident cannot be found or is in the wrong state for the request."""

    title = "Incident error"


class LockHeld(CockpitError):
    """Another live cockpit process holds this incident."""

    title = "Incident already open"


class LockLost(CockpitError):
    """A lock this process held is gone: its database connection was lost, so the server has
    released it and another cockpit may hold it now."""

    title = "Lock lost"


class ProviderError(CockpitError):
    """A provider call failed in an expected way (network, timeout, refusal)."""

    title = "Provider error"


class ProviderUnavailable(ProviderError):
    """The provider's endpoint did not answer or answered with an error."""

    title = "Provider unavailable"


class ProviderTimeout(ProviderError):
    """The provider did not answer within its timeout."""

    title = "Provider timed out"


class RateLimited(ProviderUnavailable):
    """The provider asked us to slow down: wait `retry_after` seconds (None: it did not say)."""

    title = "Rate limited"

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
