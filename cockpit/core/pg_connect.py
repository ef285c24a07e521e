"""Connecting to a PostgreSQL timeline: where it is, bounded in time, errors said plainly.

`PgTarget` is a libpq connection string (URL or key=value) with the password kept apart: it
goes to libpq as its own argument, is registered with `cockpit.core.redact` so it never reaches
an event, and is scrubbed from any message before that becomes an error. Messages name the
role, host, port and database (`shown()`), never the password.

Every connection is bounded: ``connect_timeout`` (per host, libpq's), TCP keepalives (a
failed-over primary is noticed), and, set for the session right after the login,
``statement_timeout``, ``lock_timeout`` (waits on the append lock) and
``idle_in_transaction_session_timeout``. `translate` turns psycopg's errors into the cockpit's:
a cancelled statement or a lock wait is `TimelineBusy`, a refused or lost connection
`TimelineUnavailable`, anything else `TimelineError`, each naming what was being done.

`PgSession` holds one such connection: opening it checks the encoding and brings the schema up
to date (`cockpit.core.pg_schema.migrate`); a job run through it that finds the connection lost
(a network cut, a failover) reconnects and runs again, which is why its jobs must be safe to
repeat.

Pure Python; psycopg is imported here, so only code that opens a PostgreSQL timeline pays for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from cockpit.core.errors import TimelineBusy, TimelineError, TimelineUnavailable
from cockpit.core.pg_schema import migrate

T = TypeVar("T")
Conn = psycopg.Connection[Any]

APPLICATION = "rollback-cockpit"
# Detect a dead server within about 30 s even when nothing is being sent (libpq's defaults
# leave that to the kernel: two hours). Values the connection string gives win.
_KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
}


@dataclass(frozen=True)
class Timeouts:
    """How long a connection attempt, a statement and a lock wait may take, in seconds."""

    connect: float = 10.0
    statement: float = 5.0
    lock: float = 5.0

    def settings(self) -> dict[str, str]:
        """The session settings that bound statements and lock waits (in milliseconds)."""
        statement_ms = str(max(1, round(self.statement * 1000)))
        return {
            "statement_timeout": statement_ms,
            "lock_timeout": str(max(1, round(self.lock * 1000))),
            # A transaction left open (a process stopped mid-append) must not hold the append
            # lock for ever: the server ends the session.
            "idle_in_transaction_session_timeout": str(max(1000, 4 * int(statement_ms))),
        }


@dataclass(frozen=True)
class PgTarget:
    """Connection parameters without the password, and the password on its own."""

    params: Mapping[str, str]
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, dsn: str, *, password: str | None = None) -> PgTarget:
        """From a ``postgresql://`` URL or a key=value string; `password` wins over the DSN's.

        Raises:
            TimelineError: The DSN cannot be parsed (its text is not repeated: it may hold the
                password).
        """
        try:
            parsed = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
        except psycopg.Error:
            raise TimelineError(
                "the timeline's database URL is neither a postgresql:// URL nor a key=value "
                "connection string"
            ) from None
        secret = parsed.pop("password", None)
        target = cls(parsed, password if password is not None else secret)
        if target.password:
            from cockpit.core.redact import register_secret

            register_secret(target.password)
        return target

    def shown(self) -> str:
        """``user@host:port/database``, for messages (never the password)."""
        host = self.params.get("host") or self.params.get("hostaddr") or "localhost"
        port = self.params.get("port", "5432")
        user = self.params.get("user")
        database = self.params.get("dbname", "")
        return f"{user + '@' if user else ''}{host}:{port}/{database}"

    def scrub(self, text: str) -> str:
        """`text` with the password, if it is in it, replaced."""
        return text.replace(self.password, "********") if self.password else text

    def message(self, error: BaseException) -> str:
        """The server's or libpq's words, on one line, password scrubbed."""
        diag = getattr(error, "diag", None)
        text = (getattr(diag, "message_primary", None) or str(error)).strip()
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return self.scrub(" ".join(lines) if lines else type(error).__name__)

    def connect(self, timeouts: Timeouts) -> psycopg.Connection[Any]:
        """An autocommit connection with the session's timeouts set.

        Raises:
            TimelineUnavailable: Refused, timed out, or the login failed (names the server).
        """
        params = {**_KEEPALIVES, **self.params}
        params.setdefault("application_name", APPLICATION)
        params["client_encoding"] = "UTF8"
        params["connect_timeout"] = str(max(1, round(timeouts.connect)))
        try:
            conn = psycopg.connect(make_conninfo("", **params), password=self.password)
        except psycopg.Error as error:
            raise TimelineUnavailable(
                f"cannot connect to the timeline at {self.shown()}: {self.message(error)}"
            ) from None
        try:
            conn.autocommit = True
            for name, value in timeouts.settings().items():
                conn.execute("SELECT set_config(%s, %s, false)", (name, value))
        except psycopg.Error as error:
            conn.close()
            raise translate(self, error, "setting the session's timeouts", timeouts) from None
        return conn


def translate(
    target: PgTarget, error: psycopg.Error, what: str, timeouts: Timeouts
) -> TimelineError:
    """The cockpit's error for a psycopg error met while doing `what`."""
    where = f"{target.shown()}: {what}"
    if isinstance(error, errors.LockNotAvailable):
        return TimelineBusy(
            f"{where}: another session held the lock for over {timeouts.lock:g} s (lock_timeout)"
        )
    if isinstance(error, errors.QueryCanceled):
        return TimelineBusy(
            f"{where}: no answer within {timeouts.statement:g} s (statement_timeout); "
            "the server cancelled it"
        )
    if isinstance(error, errors.InsufficientPrivilege):
        return TimelineError(f"{where}: {target.message(error)} (the role lacks the privilege)")
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return TimelineUnavailable(f"{where}: the connection failed: {target.message(error)}")
    return TimelineError(f"{where}: {target.message(error)}")


class PgSession:
    """One connection to a timeline's database: opened (encoding checked, schema migrated or
    refused), and opened again when lost.

    Args:
        target: Where the database is.
        timeouts: The limits every connection gets.
        create: If False, a database without a timeline is an error.
        attempts: Tries per job when the connection is lost.
        retry_pause: Seconds between two tries.
    """

    def __init__(
        self,
        target: PgTarget,
        timeouts: Timeouts,
        *,
        create: bool,
        attempts: int = 3,
        retry_pause: float = 1.0,
    ) -> None:
        self.target = target
        self.where = target.shown()
        self.timeouts = timeouts
        self.attempts = max(1, attempts)
        self.retry_pause = retry_pause
        self._closed = False
        self._conn = self._open(create)

    def _open(self, create: bool) -> Conn:
        conn = self.target.connect(self.timeouts)
        try:
            found = conn.execute("SELECT current_setting('server_encoding')").fetchone()
            encoding = found[0] if found is not None else "unknown"
            if encoding != "UTF8":
                raise TimelineError(
                    f"{self.where}: the database's encoding is {encoding}, not UTF8"
                )
            migrate(
                conn, self.where, create=create, run=lambda statements: conn.execute(statements)
            )
        except psycopg.Error as error:
            conn.close()
            raise translate(self.target, error, "opening the timeline", self.timeouts) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def run(self, what: str, job: Callable[[Conn], T]) -> T:
        """Run `job` on the connection; when the connection is lost, reconnect and run it again.

        Jobs must be safe to repeat: reads, or appends made idempotent by their key. A statement
        or lock wait cancelled by its timeout is not repeated (`TimelineBusy`).
        """
        if self._closed:
            raise TimelineError(f"{self.where}: {what}: the timeline was closed")
        for attempt in range(1, self.attempts + 1):
            last = attempt == self.attempts
            try:
                if self._conn.closed:
                    # A reconnect never creates: an empty server after a failover is not the
                    # incident's timeline, and starting a new chain there would hide that.
                    self._conn = self._open(create=False)
                return job(self._conn)
            except TimelineUnavailable:
                if last:
                    raise
            except psycopg.Error as error:
                cancelled = isinstance(error, errors.QueryCanceled | errors.LockNotAvailable)
                if last or cancelled or not self._conn.closed:
                    raise translate(self.target, error, what, self.timeouts) from None
            time.sleep(self.retry_pause)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the connection; the session is unusable afterwards."""
        self._closed = True
        self._conn.close()
