"""The restore_backup plan: find the file, check its sha256, tell its format, plan its restore.

Before anything is touched (no scratch database, no emergency backup): the file is located
(providers.postgres.source, where a fetched file plugs in), hashed and checked against the
sha256 the procedure gives or a `<file>.sha256` beside it, and its format read from its content
(providers.postgres.backup_file). A pg_dump archive goes on to pg_restore's plan
(providers.postgres.plans); plain and gzip'd SQL to psql's, here: the file is read whole
(a truncated gzip, binary content, a meta-command are refused), restored into a scratch
database with the very psql command the restore will run, counted there and dropped; the plan
then shows format, size, the psql command line, and what the restore will change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.core.actions import Call, Plan
from cockpit.core.errors import ProviderError, ProviderTimeout
from providers.postgres import psql
from providers.postgres.archive import file_digest
from providers.postgres.backup_file import (
    ARCHIVES,
    FORMATS,
    SqlFile,
    check_sha256,
    detect,
    inspect,
    name_mismatch,
)
from providers.postgres.db import compare
from providers.postgres.plans import (
    dump_call,
    dump_line,
    plan_archive_restore,
    resume_writes_calls,
    stamp,
    stop_writes_calls,
)
from providers.postgres.source import FETCHED, locate

if TYPE_CHECKING:
    from providers.postgres.provider import PostgresProvider


@dataclass
class BackupFound:
    """The file to restore, as found and checked before anything is touched."""

    path: Path
    kind: str
    size: int
    sha256: str
    checked: str | None
    """What its sha256 was checked against ('matches the sha256 parameter'), if anything."""
    warnings: list[str] = field(default_factory=list)
    sql: SqlFile | None = None
    origin: str | None = None
    """Where a fetched file came from ('fetched from r2://…, sha256 checked against …')."""

    def line(self, entries: int = 0) -> str:
        """What the plan says about the file, its format and how it is restored."""
        if self.sql is not None:
            what = self.sql.describe()
            how = "restored with psql in one transaction"
        else:
            what = f"{FORMATS[self.kind]}, {self.size:,} bytes, {entries} entries"
            how = "restored with pg_restore in one transaction"
        checked = self.checked or "no sha256 given to check it against"
        origin = f"; {self.origin}" if self.origin else ""
        return f"{self.path.name}: {what}; {checked}; {how}{origin}"


def find(provider: PostgresProvider, params: Mapping[str, Any]) -> BackupFound:
    """Locate, hash, check and tell apart; refuses before anything is touched."""
    path = locate(provider, params)
    try:
        size, digest = file_digest(path)
    except FileNotFoundError:
        raise ProviderError(f"{path.name} is gone (no file at {path})") from None
    except OSError as error:
        raise ProviderError(f"cannot read {path}: {error.strerror or error}") from None
    checked = check_sha256(path, digest, params)
    kind = detect(path)
    found = BackupFound(path, kind, size, digest, checked, origin=FETCHED.get(str(path)))
    mismatch = name_mismatch(path, kind)
    if mismatch:
        found.warnings.append(mismatch)
    if kind not in ARCHIVES:
        found.sql = inspect(path, kind)
        if found.sql.sha256 != digest:
            raise ProviderError(f"{path.name} changed while it was read; plan again")
    return found


def plan_restore(provider: PostgresProvider, params: Mapping[str, Any]) -> Plan:
    found = find(provider, params)
    if found.sql is None:
        return plan_archive_restore(provider, found.path, found)
    return plan_sql_restore(provider, found)


def plan_sql_restore(provider: PostgresProvider, found: BackupFound) -> Plan:
    path, sql_file = found.path, found.sql
    assert sql_file is not None
    tools = provider.tools

    def into(scratch: str) -> None:
        try:
            warnings = psql.restore(
                tools,
                provider.db,
                path,
                found.kind,
                found.sha256,
                target=provider.target.on(scratch),
                lock_wait_ms=provider.opts.lock_timeout_ms,
            )
        except ProviderTimeout:
            raise
        except ProviderError as error:
            raise ProviderError(f"{path.name} does not verify: {error}") from None
        ended = psql.commits_by_itself(warnings)
        if ended:
            raise ProviderError(
                f"{path.name} does not verify: it ends the restore's transaction itself "
                f"({ended.strip()}); a failure after that point would leave a half restore"
            )

    archive = tools.verify(
        provider.db,
        path,
        tables=provider.opts.tables,
        checks=provider.opts.checks,
        restore=into,
    )
    now, before = provider.snapshot(), provider.migrations()
    emergency = stamp(provider, "emergency-")
    db = provider.target.dbname
    stop = stop_writes_calls(provider)
    restore_cli = psql.shown(tools, path, found.kind)
    schemas = _schemas(provider)
    changes = [
        f"☐ Stop all writes to {db} first (the procedure's first step): "
        + (
            "the configured stop-writes step runs before anything else"
            if stop
            else f"nothing here stops them; typing {db} states that writes ARE stopped"
        ),
        f"database {db}: restore from {path.name} ({archive.snapshot.describe()}) over the "
        f"current state ({now.describe()})",
        found.line(),
        f"every schema of {db} ({', '.join(schemas) or 'none'}) is dropped and the file makes "
        "them again, in the same transaction (the runbook's DROP/CREATE DATABASE, undone by "
        "any failure)",
        f"emergency backup of the current state first: {emergency} (the undo)",
        *[f"  {line}" for line in compare(now, archive.snapshot)[:12]],
    ]
    extra = sorted(set(now.present()) - set(archive.snapshot.present()))
    warnings = [
        f"IMMEDIATELY stop all write operations to {db}: writes made after the backup, and "
        "during the restore, are lost"
        + ("" if stop else f" (not configured here: typing {db} confirms you stopped them)"),
        *found.warnings,
    ]
    if extra:
        warnings.append(
            f"not in the backup, dropped (kept in the emergency backup): {', '.join(extra[:10])}"
        )
    return Plan(
        provider=provider.name,
        action="restore_backup",
        target=db,
        title=f"Restore {db} from {path.name}",
        calls=[
            *stop,
            dump_call(provider, emergency),
            Call("psql", restore_cli.removeprefix("psql ")),
            Call("sql", "ANALYZE"),
            Call("sql", "SELECT count(*) FROM <each table>; <each check>"),
            *resume_writes_calls(provider),
        ],
        changes=changes,
        cli=" && ".join([dump_line(provider, emergency), restore_cli]),
        destructive=True,
        cancellable=True,
        timeout_seconds=5 * provider.opts.timeout_seconds + 60,
        verify=f"every table and check of {db} as in the backup "
        f"({archive.snapshot.describe()}), migrations as in the backup",
        undo={"action": "restore_backup", "params": {"backup": str(emergency)}},
        data={
            "backup": archive.as_dict() | sql_file.as_dict(),
            "emergency": str(emergency),
            "before": now.as_dict(),
            "migrations_before": [t.as_dict() for t in before],
        },
        warnings=warnings,
    )


def _schemas(provider: PostgresProvider) -> list[str]:
    return provider.db.read_only(
        "list the schemas",
        lambda c: [
            str(r[0])
            for r in c.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' "
                "AND nspname <> 'information_schema' ORDER BY 1"
            ).fetchall()
        ],
    )
