"""pg_dump and pg_restore for the PostgreSQL provider: backups that are checked by restoring them.

Every tool runs with a timeout, no terminal, and its own session, so a timeout or a responder's
cancel kills the whole process group (providers.subprocesses, as for git). The password reaches the
child as PGPASSWORD in its environment only; command lines carry libpq key=value parameters
without it, and anything a tool prints is scrubbed before it becomes an error.

`dump()` writes a custom-format archive (pg_dump -Fc) into a file created 0600 beforehand (no
moment where it is readable by others) and, while pg_dump runs, counts the rows of every table
in the very snapshot pg_dump reads (pg_export_snapshot → pg_dump --snapshot), so the counts are
exact for the archive even while production keeps writing. `verify()` reads the archive's table
of contents (pg_restore --list), restores it into a scratch database that it creates and always
drops, and counts there: a backup verifies when every table comes back with the same rows.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import psycopg
from psycopg import IsolationLevel, sql

from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError, ProviderTimeout
from providers.postgres.archive import Archive, file_digest, write_sidecar
from providers.postgres.db import (
    APPLICATION,
    Database,
    Snapshot,
    Target,
    compare,
    take_snapshot,
)
from providers.postgres.locks import LockWatch
from providers.postgres.migrations import read_migrations
from providers.subprocesses import Process

SCRATCH_PREFIX = "cockpit_verify_"


class Tools:
    """The client tools for one target, each call bounded by `timeout_seconds`."""

    def __init__(self, target: Target, *, bin_dir: Path | None, timeout_seconds: float) -> None:
        self.target = target
        self.bin_dir = bin_dir
        self.timeout_seconds = timeout_seconds

    def path(self, tool: str) -> str:
        if self.bin_dir is not None:
            found = self.bin_dir / tool
            if not found.exists():
                raise ProviderError(f"no {tool} in {self.bin_dir} (bin_dir)")
            return str(found)
        which = shutil.which(tool)
        if which is None:
            raise ProviderError(
                f"{tool} is not installed here (Debian: apt-get install postgresql-client), "
                "or set bin_dir"
            )
        return which

    def shown(self, tool: str, args: list[str]) -> str:
        """The command as the plan and the transcript show it (no password, no conninfo)."""
        return shlex.join([tool, *args])

    def start(
        self,
        tool: str,
        args: list[str],
        what: str,
        *,
        target: Target | None = None,
        options: str = "",
        argv: list[str] | None = None,
        application: str = APPLICATION,
        stdin: bool = False,
    ) -> Process:
        """Start a tool in its own session; `args` may hold a conninfo, never a password.

        With `argv` (a configured command, not a PostgreSQL tool) the child gets no PGPASSWORD.
        """
        if argv is None:
            env = (target or self.target).child_env(os.environ)
            env.update(LC_ALL="C", PGAPPNAME=application, PGCONNECT_TIMEOUT="10")
            if options:
                env["PGOPTIONS"] = options
            argv = [self.path(tool), *args]
        else:
            env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
        return Process(argv, what, env=env, stdin=stdin)

    def command(self, argv: list[str], what: str, report: Report | None = None) -> str:
        """Run a configured command (stop or resume writes) with the same timeout and kill."""
        return self.wait(self.start(argv[0], [], what, argv=argv), report)

    def wait(
        self,
        process: Process,
        report: Report | None = None,
        poll: Callable[[], object] | None = None,
    ) -> str:
        """Its stdout once it exits 0; kills its group on timeout or cancel; raises on failure.

        `poll` runs every 0.2 s while the tool runs (the restore's lock watch).
        """
        with process:
            code = process.wait(self.timeout_seconds, report, poll=poll, every=0.2)
        if code is None:
            raise process.timeout_error()
        if code != 0:
            raise ProviderError(
                f"{process.what} failed: {self.first(process.stderr.text or process.stdout.text)}"
            )
        return process.stdout.text

    def run(
        self,
        tool: str,
        args: list[str],
        what: str,
        report: Report | None = None,
        *,
        target: Target | None = None,
        options: str = "",
    ) -> str:
        return self.wait(self.start(tool, args, what, target=target, options=options), report)

    def first(self, text: str) -> str:
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        return self.target.scrub(" / ".join(lines[:3]) or "no message")

    def version(self, tool: str) -> str:
        """'pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)' → '15.18'."""
        said = self.run(tool, ["--version"], f"{tool} --version")
        found = re.search(r"\(PostgreSQL\)\s+(\d+(?:\.\d+)?)", said)
        if found is None:
            raise ProviderError(f"{tool} --version said {said.strip()!r}: not PostgreSQL's {tool}")
        return found.group(1)

    # Archives.

    def toc(self, path: Path, report: Report | None = None) -> list[str]:
        """The archive's table of contents; refuses a missing, plain-SQL or unreadable file."""
        if not path.is_file():
            raise ProviderError(f"no backup file at {path}")
        try:
            listed = self.run("pg_restore", ["--list", str(path)], f"read {path.name}", report)
        except ProviderTimeout:
            raise
        except ProviderError as error:
            if "text format dump" in str(error):
                raise ProviderError(
                    f"{path.name} is a plain SQL dump: this provider restores custom-format "
                    "archives (pg_dump -Fc); by hand: psql -v ON_ERROR_STOP=1 "
                    f"--single-transaction -f {path}"
                ) from None
            raise ProviderError(f"{path.name} is not a readable pg_dump archive: {error}") from None
        return [line for line in listed.splitlines() if line and not line.startswith(";")]

    def dump_args(self, path: Path, lock_wait_ms: int) -> list[str]:
        """pg_dump's arguments as shown (-h/-p/-U/-d)."""
        return [
            "--format=custom",
            f"--lock-wait-timeout={lock_wait_ms}",
            "--file",
            str(path),
            *self.target.cli_args(),
        ]

    def dump(
        self,
        db: Database,
        path: Path,
        *,
        tables: list[str] | None,
        checks: Mapping[str, str],
        lock_wait_ms: int,
        report: Report | None = None,
    ) -> Archive:
        """pg_dump -Fc into `path` (0600), with exact counts read in the dump's own snapshot."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise ProviderError(f"{path} exists already; not overwriting a backup") from None
        except OSError as error:
            raise ProviderError(f"cannot create {path}: {error.strerror}") from None
        what = f"pg_dump of {self.target.dbname} to {path.name}"
        timeout_ms = int(self.timeout_seconds * 1000)
        try:
            with (
                db.connect() as conn,
                db.errors(what, timeout_ms=timeout_ms, knob="timeout_seconds"),
            ):
                conn.isolation_level = IsolationLevel.REPEATABLE_READ
                conn.read_only = True
                with conn.transaction():
                    conn.execute(
                        "SELECT set_config('statement_timeout', %s, true)", (str(timeout_ms),)
                    )
                    row = conn.execute("SELECT pg_export_snapshot()").fetchone()
                    assert row is not None
                    args = [
                        "--format=custom",
                        f"--lock-wait-timeout={lock_wait_ms}",
                        f"--snapshot={row[0]}",
                        "--file",
                        str(path),
                        "--dbname",
                        self.target.conninfo(),
                    ]
                    process = self.start("pg_dump", args, what)
                    try:  # counted while pg_dump reads: same snapshot, little extra wall time
                        counted = take_snapshot(conn, tables, checks, exact=True, report=report)
                        migrations = [t.as_dict() for t in read_migrations(conn)]
                    except BaseException:
                        process.kill()
                        raise
                    self.wait(process, report)
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        size, digest = file_digest(path)
        archive = Archive(str(path), size, digest, counted, migrations)
        write_sidecar(path, archive)
        return archive

    def verify(
        self,
        db: Database,
        path: Path,
        *,
        tables: list[str] | None,
        checks: Mapping[str, str],
        expected: Snapshot | None = None,
        report: Report | None = None,
        log: Callable[[str], object] = lambda line: None,
        restore: Callable[[str], object] | None = None,
    ) -> Archive:
        """--list, then a restore into a scratch database (always dropped) and its counts.

        With `expected` (the dump's own counts), every table must come back with its rows.
        `restore` (scratch database name → restored) stands in for pg_restore: a SQL file's.
        """
        entries = self.toc(path, report) if restore is None else []
        scratch = SCRATCH_PREFIX + secrets.token_hex(4)
        timeout_ms = int(self.timeout_seconds * 1000)
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch))
        with db.connect() as conn, db.errors(f"create scratch database {scratch}"):
            try:
                conn.execute(create)
            except psycopg.errors.InsufficientPrivilege:
                raise ProviderError(
                    f"{self.target.params.get('user', 'this role')} may not create databases "
                    "(CREATEDB), so the backup cannot be checked by a scratch restore"
                ) from None
        log(f"scratch restore of {path.name} into {scratch}")
        try:
            if restore is None:
                self.scratch_restore(path, scratch, report)
            else:
                restore(scratch)
            restored = db.snapshot(
                tables, checks, exact=True, dbname=scratch, timeout_ms=timeout_ms, report=report
            )
            migrations = db.read_only(
                "read migrations of the scratch restore",
                lambda c: [t.as_dict() for t in read_migrations(c)],
                dbname=scratch,
            )
        finally:
            self.drop_scratch(db, scratch, log)
        if expected is not None:
            # What was counted at dump time (perhaps with other tables or checks configured):
            # each of its tables must come back with its rows, each check still configured too.
            seen = Snapshot(
                restored.database,
                {name: restored.tables.get(name) for name in expected.tables},
                {k: v for k, v in restored.checks.items() if k in expected.checks},
                restored.exact,
            )
            wanted = Snapshot(
                expected.database,
                expected.tables,
                {k: v for k, v in expected.checks.items() if k in restored.checks},
                expected.exact,
            )
            differences = compare(wanted, seen)
            if differences:
                raise ProviderError(
                    f"{path.name} does not verify: restored, it differs from what was dumped: "
                    + "; ".join(differences[:5])
                )
        size, digest = file_digest(path)
        restored.database = self.target.dbname
        return Archive(str(path), size, digest, restored, migrations, len(entries))

    def scratch_restore(self, path: Path, scratch: str, report: Report | None) -> None:
        args = ["--no-owner", "--no-privileges", "--exit-on-error"]
        target = ["--dbname", self.target.on(scratch).conninfo(), str(path)]
        try:
            self.run("pg_restore", [*args, *target], f"scratch restore of {path.name}", report)
        except ProviderTimeout:
            raise
        except ProviderError as error:
            raise ProviderError(f"{path.name} does not verify: {error}") from None

    def drop_scratch(self, db: Database, scratch: str, log: Callable[[str], object]) -> None:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
        try:
            with db.connect() as conn, db.errors(f"drop scratch database {scratch}"):
                conn.execute(drop)
        except ProviderError as error:
            log(f"could not drop the scratch database {scratch}: {error}; drop it by hand")
            return
        log(f"scratch database {scratch} dropped")

    def restore_args(self, path: Path) -> list[str]:
        """pg_restore's arguments as shown (-h/-p/-U/-d)."""
        clean = ["--clean", "--if-exists", "--single-transaction", "--exit-on-error"]
        return [*clean, *self.target.cli_args(), str(path)]

    def restore(
        self, db: Database, path: Path, *, lock_wait_ms: int, report: Report | None = None
    ) -> None:
        """pg_restore --clean --if-exists in one transaction: all of it, or nothing changes.

        pg_restore turns lock_timeout off for its session, so a LockWatch cancels it instead
        once it has waited lock_wait_ms for a lock (a writer that was not stopped).
        """
        args = ["--clean", "--if-exists", "--single-transaction", "--exit-on-error"]
        what = f"pg_restore of {path.name} into {self.target.dbname}"
        application = f"{APPLICATION}-restore-{secrets.token_hex(4)}"
        with LockWatch(db, application, lock_wait_ms) as watch:
            process = self.start(
                "pg_restore",
                [*args, "--dbname", self.target.conninfo(), str(path)],
                what,
                options="-c default_transaction_read_only=off",
                application=application,
            )
            try:
                self.wait(process, report, poll=watch.poll)
            except ProviderError:
                if not watch.fired:
                    raise
                raise ProviderTimeout(
                    f"{what}: waited over {lock_wait_ms:,} ms for a lock (lock_timeout_ms) held "
                    f"by {watch.held_by()}; stopped it: stop the writers or end those sessions, "
                    "then try again"
                ) from None
