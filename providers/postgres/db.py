"""The PostgreSQL provider's connection and its read-only look at a database.

`Target` is where the database is, with the password kept apart: it goes to psycopg as its own
argument and to pg_dump/pg_restore as PGPASSWORD in the child's environment, never on a command
line, and `scrub()` takes it out of any server or tool message before that becomes an error.

`Database` opens short autocommit connections (one per look, so nothing stays idle in a
transaction on production). Every read runs in `read_only()`: a transaction with SET TRANSACTION
READ ONLY and SET LOCAL statement_timeout, so a check that writes fails and a slow one is
cancelled by the server. psycopg's errors become ProviderError subclasses: QueryCanceled from
the timeout is a ProviderTimeout that names the knob, a connection failure ProviderUnavailable.

`snapshot()` is the integrity snapshot the actions compare: row counts of the configured tables
(estimated from pg_class.reltuples, or pg_stat_user_tables.n_live_tup for a table never analysed,
unless exact) and the configured checks, each a query that returns one count (rows with a null
email, orders without their customer). `migrations()` is in providers.postgres.migrations.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from cockpit.core.actions import ActionCancelled, Report
from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable

T = TypeVar("T")

APPLICATION = "rollback-cockpit"

TABLES_SQL = """
SELECT c.oid::regclass::text, n.nspname, c.relname, c.reltuples::bigint,
       coalesce(s.n_live_tup, 0)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%'
ORDER BY 1
"""
"""Every user table (partitions, not their parents, so no row is counted twice)."""


@dataclass(frozen=True)
class Target:
    """Connection parameters without the password, and the password on its own."""

    params: Mapping[str, str]
    password: str | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        dsn: str | None,
        *,
        password: str | None = None,
        **fields: str | int | None,
    ) -> Target:
        """From a URL or key=value DSN, with explicit fields (host, port, ...) winning."""
        params: dict[str, str] = {}
        if dsn:
            try:
                params = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
            except psycopg.Error:
                # libpq quotes the DSN in its message, password and all: say less.
                raise ProviderError(
                    "the dsn is neither a postgresql:// URL nor a key=value connection string"
                ) from None
        secret = params.pop("password", None)
        if "sslpassword" in params:
            raise ProviderError("sslpassword in the dsn is not supported; use an unencrypted key")
        params.update({k: str(v) for k, v in fields.items() if v is not None})
        if not params.get("dbname"):
            raise ProviderError("no database named: give dbname, or a dsn ending in /<database>")
        return cls(params, password if password is not None else secret)

    @property
    def dbname(self) -> str:
        return self.params["dbname"]

    def on(self, dbname: str) -> Target:
        """The same server and role, another database (a scratch restore's)."""
        return Target({**self.params, "dbname": dbname}, self.password)

    def conninfo(self) -> str:
        """key=value parameters for libpq (psycopg, or pg_dump -d): no password in it."""
        return make_conninfo("", **self.params)

    def shown(self) -> str:
        """user@host:port/db, for plans and messages."""
        host = self.params.get("host") or self.params.get("hostaddr") or "localhost"
        port = self.params.get("port", "5432")
        user = self.params.get("user")
        return f"{user + '@' if user else ''}{host}:{port}/{self.dbname}"

    def cli_args(self) -> list[str]:
        """-h/-p/-U/-d as a responder would type them (shown in plans; never the password)."""
        args: list[str] = []
        for flag, key in (("-h", "host"), ("-p", "port"), ("-U", "user")):
            if self.params.get(key):
                args += [flag, self.params[key]]
        return [*args, "-d", self.dbname]

    def child_env(self, base: Mapping[str, str]) -> dict[str, str]:
        """The environment of a pg_dump or pg_restore: PGPASSWORD there, and only there."""
        env = {k: v for k, v in base.items() if k != "PGPASSWORD"}
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env

    def scrub(self, text: str) -> str:
        """The text with the password (if it is in it) replaced."""
        if self.password:
            return text.replace(self.password, "********")
        return text


@dataclass
class Snapshot:
    """Row counts and check results at one moment; None for a table that is not there."""

    database: str
    tables: dict[str, int | None]
    checks: dict[str, int | None]
    """None: the check cannot run here (its table or column is not there)."""
    exact: bool

    @property
    def rows(self) -> int:
        return sum(count or 0 for count in self.tables.values())

    def present(self) -> list[str]:
        return [name for name, count in self.tables.items() if count is not None]

    def describe(self) -> str:
        """'3 tables, 45,210 rows' (with ~ when estimated)."""
        tilde = "" if self.exact else "~"
        return f"{len(self.present())} tables, {tilde}{self.rows:,} rows"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        return cls(
            str(data["database"]), dict(data["tables"]), dict(data["checks"]), bool(data["exact"])
        )


def count_text(count: int | None, exact: bool, unit: str = "") -> str:
    if count is None:
        return "absent"
    return f"{'' if exact else '~'}{count:,}{unit}"


def compare(before: Snapshot, after: Snapshot) -> list[str]:
    """One line per table or check whose value differs: 'orders: ~200 → 100 rows'."""
    lines = []
    for name in sorted(set(before.tables) | set(after.tables)):
        old, new = before.tables.get(name), after.tables.get(name)
        if old != new:
            first = count_text(old, before.exact, "" if new is not None else " rows")
            lines.append(f"{name}: {first} → {count_text(new, after.exact, ' rows')}")
    for name in sorted(set(before.checks) | set(after.checks)):
        old_check, new_check = before.checks.get(name), after.checks.get(name)
        if old_check != new_check:
            shown = ["n/a (cannot run)" if v is None else str(v) for v in (old_check, new_check)]
            lines.append(f"check {name}: {shown[0]} → {shown[1]}")
    return lines


class Database:
    """Short connections to one target, each look read-only and bounded in time."""

    def __init__(self, target: Target, *, connect_timeout: float, statement_timeout_ms: int):
        self.target = target
        self.connect_timeout = max(1, round(connect_timeout))
        self.statement_timeout_ms = statement_timeout_ms

    def connect(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        """An autocommit connection (ProviderUnavailable, scrubbed, when it fails)."""
        target = self.target.on(dbname) if dbname else self.target
        try:
            return psycopg.connect(
                target.conninfo(),
                password=target.password,
                connect_timeout=self.connect_timeout,
                autocommit=True,
                application_name=APPLICATION,
            )
        except psycopg.Error as error:
            raise ProviderUnavailable(
                f"cannot connect to {target.shown()}: {self.message(error)}"
            ) from None

    def message(self, error: BaseException) -> str:
        """The server's or libpq's words, first line, password scrubbed."""
        primary = getattr(getattr(error, "diag", None), "message_primary", None)
        text = primary or str(error) or type(error).__name__
        return self.target.scrub(text.strip().splitlines()[0] if text.strip() else text)

    @contextlib.contextmanager
    def errors(
        self, what: str, *, timeout_ms: int | None = None, knob: str = "statement_timeout_ms"
    ) -> Iterator[None]:
        """Turn psycopg's errors inside the block into ProviderErrors that say `what` failed."""
        try:
            yield
        except ProviderError:
            raise
        except errors.QueryCanceled:
            limit = timeout_ms if timeout_ms is not None else self.statement_timeout_ms
            raise ProviderTimeout(
                f"{what}: no answer within {limit:,} ms ({knob}); the server cancelled it"
            ) from None
        except errors.LockNotAvailable:
            raise ProviderTimeout(
                f"{what}: a lock it needs is held by another session (lock_timeout); "
                "stop the writers and try again"
            ) from None
        except errors.ReadOnlySqlTransaction as error:
            raise ProviderError(f"{what}: {self.message(error)} (it must only read)") from None
        except psycopg.OperationalError as error:
            raise ProviderUnavailable(
                f"{what}: {self.target.shown()}: {self.message(error)}"
            ) from None
        except psycopg.Error as error:
            raise ProviderError(f"{what}: {self.message(error)}") from None

    def read_only(
        self,
        what: str,
        look: Callable[[psycopg.Connection[Any]], T],
        *,
        dbname: str | None = None,
        timeout_ms: int | None = None,
        report: Report | None = None,
    ) -> T:
        """Run `look` in one READ ONLY transaction with SET LOCAL statement_timeout."""
        limit = timeout_ms if timeout_ms is not None else self.statement_timeout_ms
        with (
            self.connect(dbname) as conn,
            self.errors(what, timeout_ms=limit),
            cancel_on(report, conn),
            conn.transaction(),
        ):
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute("SELECT set_config('statement_timeout', %s, true)", (str(limit),))
            return look(conn)

    def version(self) -> tuple[str, int, str]:
        """(server version text, major version number, current_user)."""

        def look(conn: psycopg.Connection[Any]) -> tuple[str, int, str]:
            row = conn.execute(
                "SELECT current_setting('server_version'), "
                "current_setting('server_version_num')::int, current_user"
            ).fetchone()
            assert row is not None
            return str(row[0]).split()[0], int(row[1]) // 10000, str(row[2])

        return self.read_only("read the server version", look)

    def snapshot(
        self,
        tables: list[str] | None,
        checks: Mapping[str, str],
        *,
        exact: bool,
        dbname: str | None = None,
        timeout_ms: int | None = None,
        report: Report | None = None,
    ) -> Snapshot:
        """Row counts of `tables` (all user tables when None) and the checks' counts."""

        limit = timeout_ms if timeout_ms is not None else self.statement_timeout_ms

        def look(conn: psycopg.Connection[Any]) -> Snapshot:
            return take_snapshot(conn, tables, checks, exact=exact, report=report, timeout_ms=limit)

        return self.read_only(
            f"integrity snapshot of {dbname or self.target.dbname}",
            look,
            dbname=dbname,
            timeout_ms=limit,
            report=report,
        )


def take_snapshot(
    conn: psycopg.Connection[Any],
    tables: list[str] | None,
    checks: Mapping[str, str],
    *,
    exact: bool,
    report: Report | None = None,
    timeout_ms: int | None = None,
) -> Snapshot:
    """The snapshot, in whatever transaction `conn` is in (read-only, or a dump's snapshot)."""
    found = {
        str(row[0]): (str(row[1]), str(row[2]), int(row[3]), int(row[4]))
        for row in conn.execute(TABLES_SQL).fetchall()
    }
    wanted: dict[str, tuple[str, str, int, int] | None] = {}
    if tables is None:
        wanted = dict(found)
    else:
        for name in tables:
            row = conn.execute("SELECT to_regclass(%s)::text", (name,)).fetchone()
            resolved = None if row is None or row[0] is None else str(row[0])
            wanted[name] = found.get(resolved) if resolved else None
    counts: dict[str, int | None] = {}
    for name, table in wanted.items():
        if report is not None:
            report.check()
        if table is None:
            counts[name] = None
        elif exact:
            schema, relname = table[0], table[1]
            counting = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, relname))
            row = conn.execute(counting).fetchone()
            counts[name] = int(row[0]) if row else 0
        else:
            counts[name] = table[2] if table[2] >= 0 else table[3]
    results: dict[str, int | None] = {}
    for name, query in checks.items():
        if report is not None:
            report.check()
        try:
            with conn.transaction():  # a savepoint: a check that cannot run spoils nothing else
                row = conn.execute(query.encode()).fetchone()
        except (errors.UndefinedTable, errors.UndefinedColumn):
            results[name] = None  # e.g. after a down migration dropped what it looks at
            continue
        except errors.QueryCanceled:
            limit = "" if timeout_ms is None else f" {timeout_ms:,} ms"
            raise ProviderTimeout(
                f"check {name!r}: no answer within the statement timeout{limit} "
                "(statement_timeout_ms); the server cancelled it"
            ) from None
        except psycopg.Error as error:
            raise ProviderError(f"check {name!r} failed: {error.diag.message_primary}") from None
        if row is None or len(row) != 1 or not isinstance(row[0], int):
            raise ProviderError(f"check {name!r} must return one row with one count, got {row!r}")
        results[name] = row[0]
    database = str(conn.info.dbname)
    return Snapshot(database, counts, results, exact)


@contextlib.contextmanager
def cancel_on(report: Report | None, conn: psycopg.Connection[Any]) -> Iterator[None]:
    """While the block runs, a responder's cancel cancels the statement on the server."""
    if report is None:
        yield
        return
    done = threading.Event()
    cancelled: list[bool] = []

    def watch() -> None:
        while not done.wait(0.1):
            if report.cancel_event.is_set():
                cancelled.append(True)
                with contextlib.suppress(Exception):
                    conn.cancel_safe(timeout=5)
                return

    watcher = threading.Thread(target=watch, name="pg-cancel", daemon=True)
    watcher.start()
    try:
        yield
    except Exception:
        if cancelled:
            raise ActionCancelled(
                "cancelled by the responder (the server stopped the statement)"
            ) from None
        raise
    finally:
        done.set()
        watcher.join()
