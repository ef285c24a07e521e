"""A plain or gzip'd SQL backup restored with psql, in one transaction, all of it or nothing.

The runbooks do `DROP DATABASE; CREATE DATABASE; psql < backup.sql` (or `gunzip <
backup.sql.gz | psql`): between the drop and the end of the file, the database is half there.
Here one psql session does the same inside one transaction: `--single-transaction`, first a DO
block that drops every user schema and makes `public` again (same owner, same grants), as the
fresh database would be, then the file read from stdin (`-f -`) with ON_ERROR_STOP, without
~/.psqlrc. psql commits only when its stdin ends; so the file is streamed from Python (gunzipped
on the fly, never unpacked to disk) while its raw bytes are hashed, and stdin is closed only
once the whole file was fed and its sha256 is the plan's. Any other end (a truncated gzip, a file
changed since the plan, a cancel, the timeout) kills psql first: the server rolls it all back.

psql names a failing statement's line in its stdin ("psql:<stdin>:57: ERROR: ..."): the error
says "line 57 of backup.sql.gz". The password reaches psql as PGPASSWORD only, as for pg_dump.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import shlex
import signal
import threading
from pathlib import Path
from typing import IO, cast

from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError, ProviderTimeout
from providers.postgres.backup_file import SqlStream
from providers.postgres.db import APPLICATION, Database, Target
from providers.postgres.locks import LockWatch
from providers.postgres.tools import Tools
from providers.subprocesses import Process

CLEAN = (
    "DO $cockpit$ DECLARE s text; o text; a aclitem[]; g record; BEGIN "
    "SELECT pg_get_userbyid(nspowner), nspacl INTO o, a FROM pg_namespace "
    "WHERE nspname = 'public'; "
    "FOR s IN SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' "
    "AND nspname <> 'information_schema' LOOP "
    "EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; "
    "o := coalesce(o, current_user); "
    "EXECUTE format('CREATE SCHEMA public AUTHORIZATION %I', o); "
    "FOR g IN SELECT grantee, privilege_type FROM aclexplode(coalesce(a, '{}')) "
    "WHERE grantee <> (SELECT oid FROM pg_roles WHERE rolname = o) LOOP "
    "EXECUTE format('GRANT %s ON SCHEMA public TO %s', g.privilege_type, "
    "CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee)) END); "
    "END LOOP; END $cockpit$"
)
"""Every user schema dropped, `public` made again as it was (owner, grants): the runbook's
DROP/CREATE DATABASE, inside the restore's transaction."""
FLAGS = ["--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--single-transaction", "--quiet"]
LINE_ERROR = re.compile(r"^psql:<stdin>:(\d+): (ERROR|FATAL):\s+(.*)$")
TRANSACTION_WARNINGS = (
    "there is already a transaction in progress",
    "there is no transaction in progress",
)
"""psql's transaction was ended by the file itself (a BEGIN or COMMIT of its own)."""


def args(conn: list[str]) -> list[str]:
    """psql's arguments; `conn` is -h/-p/-U/-d as shown, or --dbname conninfo as run."""
    return [*FLAGS, "--output", "/dev/null", "-c", CLEAN, "-f", "-", *conn]


def shown(tools: Tools, path: Path, kind: str) -> str:
    """The restore as a responder would type it (no password, no conninfo)."""
    psql = shlex.join(["psql", *args(tools.target.cli_args())])
    if kind == "gzip":
        return f"gzip -dc {shlex.quote(str(path))} | {psql}"
    return f"{psql} < {shlex.quote(str(path))}"


def restore(
    tools: Tools,
    db: Database,
    path: Path,
    kind: str,
    sha256: str,
    *,
    target: Target | None = None,
    lock_wait_ms: int,
    report: Report | None = None,
) -> list[str]:
    """Restore `path` over `target` (default: the provider's) in one transaction; its warnings.

    Raises ProviderError naming the failing line, or why the file was not fed whole; in every
    failure psql never committed.
    """
    on = target or tools.target
    what = f"psql restore of {path.name} into {on.dbname}"
    application = f"{APPLICATION}-restore-{secrets.token_hex(4)}"
    with SqlStream(path, kind) as stream, LockWatch(db, application, lock_wait_ms) as watch:
        process = tools.start(
            "psql",
            args(["--dbname", on.conninfo()]),
            what,
            target=on,
            options="-c default_transaction_read_only=off",
            application=application,
            stdin=True,
        )
        feeder = Feeder(process, stream, sha256)
        feeder.start()
        try:
            code = _wait(tools, process, report, watch)
        finally:
            feeder.stop()
        if feeder.error is not None:
            raise feeder.error
        if code is None:
            if watch.fired:
                raise ProviderTimeout(
                    f"{what}: waited over {lock_wait_ms:,} ms for a lock (lock_timeout_ms) "
                    f"held by {watch.held_by()}; stopped it: stop the writers or end those "
                    "sessions, then try again"
                )
            raise process.timeout_error()
        stderr = process.stderr.text
        if code != 0:
            if watch.fired:
                raise ProviderTimeout(
                    f"{what}: waited over {lock_wait_ms:,} ms for a lock (lock_timeout_ms) "
                    f"held by {watch.held_by()}; stopped it: stop the writers or end those "
                    "sessions, then try again"
                )
            raise ProviderError(f"{what} failed: {failure(tools, path, stderr)}")
    return [line for line in stderr.splitlines() if "WARNING" in line]


def _wait(tools: Tools, process: Process, report: Report | None, watch: LockWatch) -> int | None:
    with process:
        return process.wait(tools.timeout_seconds, report, poll=watch.poll, every=0.2)


def failure(tools: Tools, path: Path, stderr: str) -> str:
    """psql's error, with the line of the file it failed on."""
    for line in stderr.splitlines():
        found = LINE_ERROR.match(line.strip())
        if found:
            return tools.target.scrub(
                f"line {int(found.group(1)):,} of {path.name}: {found.group(2)}: {found.group(3)}"
            )
    return tools.first(stderr)


def commits_by_itself(warnings: list[str]) -> str | None:
    """The warning that says the file ended psql's transaction itself, if there is one."""
    return next((w for w in warnings if any(t in w for t in TRANSACTION_WARNINGS)), None)


class Feeder:
    """Streams the SQL into psql's stdin; closes it (psql commits) only after a whole,
    unchanged file, and otherwise kills psql before its stdin can end."""

    def __init__(self, process: Process, stream: SqlStream, sha256: str) -> None:
        self.process = process
        self.stream = stream
        self.sha256 = sha256
        self.error: ProviderError | None = None
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self.run, name="psql stdin", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """After psql ended (or was killed): let the feeder go, and wait for it."""
        self.halt.set()
        self.thread.join(timeout=10)
        pipe = self.process.popen.stdin
        if pipe is not None and not self.thread.is_alive():
            with contextlib.suppress(OSError, ValueError):
                pipe.close()  # psql is gone by now: nothing left to commit

    def run(self) -> None:
        pipe = self.process.popen.stdin
        assert pipe is not None
        sink = cast("IO[bytes]", cast("io.TextIOWrapper", pipe).buffer)  # text mode: bytes under it
        try:
            for chunk in self.stream.chunks():
                if self.halt.is_set():
                    self.kill()
                    return
                sink.write(chunk)
            if self.stream.sha256 != self.sha256:
                raise ProviderError(
                    f"{self.stream.path.name} changed since the plan (sha256 differs); plan again"
                )
            sink.flush()
        except (BrokenPipeError, ValueError):
            return  # psql stopped reading: it failed or was killed; its stderr says why
        except ProviderError as error:
            self.error = error
            self.kill()
            return
        except BaseException as error:  # never let psql see the end of its stdin after this
            self.error = ProviderError(f"feeding {self.stream.path.name} to psql failed: {error}")
            self.kill()
            return
        with contextlib.suppress(OSError, ValueError):
            pipe.close()  # the end of the file: psql commits

    def kill(self) -> None:
        """Kill psql's group before its stdin is closed, so nothing commits."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.popen.pid, signal.SIGKILL)
