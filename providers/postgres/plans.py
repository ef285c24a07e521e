"""The PostgreSQL provider's plans: what each action will run, change and check, read-only.

Split from providers.postgres.provider for size. Each plan carries what execute needs in `data` (no
secret in it), the commands as a responder would type them, and for the destructive actions the
emergency backup to be made first as the undo.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psycopg import sql

from cockpit.core.actions import Call, Plan
from cockpit.core.errors import ProviderError
from providers.postgres.archive import read_sidecar
from providers.postgres.db import Snapshot, compare
from providers.postgres.migrations import choose_table, expected_after, plan_down
from providers.postgres.tools import SCRATCH_PREFIX

if TYPE_CHECKING:
    from providers.postgres.provider import PostgresProvider
    from providers.postgres.restore_plan import BackupFound


def stamp(provider: PostgresProvider, prefix: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder, n = provider.backup_dir(), 1
    path = folder / f"{prefix}{provider.target.dbname}-{stamp}.dump"
    while path.exists():
        n += 1
        path = folder / f"{prefix}{provider.target.dbname}-{stamp}-{n}.dump"
    return path


def dump_line(provider: PostgresProvider, path: Path) -> str:
    """The pg_dump command as shown (no password, no conninfo)."""
    return shlex.join(["pg_dump", *provider.tools.dump_args(path, provider.opts.lock_timeout_ms)])


def dump_call(provider: PostgresProvider, path: Path) -> Call:
    return Call("pg_dump", dump_line(provider, path).removeprefix("pg_dump "))


def plan_backup(provider: PostgresProvider, params: Mapping[str, Any]) -> Plan:
    label = str(params.get("label") or "")
    path = stamp(provider, f"{label}-" if label else "")
    now = provider.snapshot()
    db = provider.target.dbname
    scratch = f"{SCRATCH_PREFIX}…"
    return Plan(
        provider=provider.name,
        action="backup",
        target=db,
        title=f"Back up {db} to {path.name}",
        calls=[
            dump_call(provider, path),
            Call("pg_restore", f"--list {path}"),
            Call("sql", f"CREATE DATABASE {scratch}"),
            Call("pg_restore", f"--no-owner --no-privileges --exit-on-error -d {scratch} {path}"),
            Call("sql", f"SELECT count(*) FROM <each table> (in {scratch})"),
            Call("sql", f"DROP DATABASE {scratch} WITH (FORCE)"),
        ],
        changes=[
            f"new file {path} (mode 0600): database {db} ({now.describe()} now)",
            "a scratch database is created to check the backup restores, then dropped",
        ],
        cli=dump_line(provider, path),
        destructive=False,
        cancellable=True,
        timeout_seconds=3 * provider.opts.timeout_seconds + 60,
        verify="the file restores into a scratch database with every table's rows as dumped; "
        "its sha256 is recorded",
        data={"path": str(path), "before": now.as_dict()},
    )


def plan_archive_restore(provider: PostgresProvider, path: Path, found: BackupFound) -> Plan:
    """A pg_dump archive (custom or tar) restored with pg_restore; `found` is the file as
    located, checksummed and told apart (providers.postgres.restore_plan)."""
    size, digest = found.size, found.sha256
    made = read_sidecar(path, digest)
    expected = Snapshot.from_dict(made["snapshot"]) if made else None
    archive = provider.tools.verify(
        provider.db,
        path,
        tables=provider.opts.tables,
        checks=provider.opts.checks,
        expected=expected,
    )
    now, before = provider.snapshot(), provider.migrations()
    emergency = stamp(provider, "emergency-")
    db = provider.target.dbname
    stop = stop_writes_calls(provider)
    restore_cli = provider.tools.shown("pg_restore", provider.tools.restore_args(path))
    changes = [
        f"☐ Stop all writes to {db} first (the procedure's first step): "
        + (
            "the configured stop-writes step runs before anything else"
            if stop
            else f"nothing here stops them; typing {db} states that writes ARE stopped"
        ),
        f"database {db}: restore from {path.name} ({archive.snapshot.describe()}) over the "
        f"current state ({now.describe()})",
        f"emergency backup of the current state first: {emergency} (the undo)",
        *[f"  {line}" for line in compare(now, archive.snapshot)[:12]],
    ]
    changes.insert(2, found.line(archive.entries))
    if made is not None:
        changes.insert(
            2,
            f"{path.name}: made by the cockpit at {made.get('created_at', '?')}, unchanged since "
            f"(sha256 {digest[:12]}); its scratch restore gives back the rows counted then",
        )
    extra = sorted(set(now.present()) - set(archive.snapshot.tables))
    warnings = [
        f"IMMEDIATELY stop all write operations to {db}: writes made after the backup, and "
        "during the restore, are lost"
        + ("" if stop else f" (not configured here: typing {db} confirms you stopped them)"),
    ]
    if extra:
        warnings.append(f"not in the backup, left as they are: {', '.join(extra[:10])}")
    if made is None:
        warnings.append(f"{path.name} was not made by the cockpit: no record of when")
    warnings += found.warnings
    return Plan(
        provider=provider.name,
        action="restore_backup",
        target=db,
        title=f"Restore {db} from {path.name}",
        calls=[
            *stop,
            dump_call(provider, emergency),
            Call("pg_restore", shlex.join(provider.tools.restore_args(path))),
            Call("sql", "ANALYZE"),
            Call("sql", "SELECT count(*) FROM <each table>; <each check>"),
            *resume_writes_calls(provider),
        ],
        changes=changes,
        cli=" && ".join(
            [
                dump_line(provider, emergency),
                restore_cli,
            ]
        ),
        destructive=True,
        cancellable=True,
        timeout_seconds=5 * provider.opts.timeout_seconds + 60,
        verify=f"every table and check of {db} as in the backup "
        f"({archive.snapshot.describe()}), migrations as in the backup",
        undo={"action": "restore_backup", "params": {"backup": str(emergency)}},
        data={
            "backup": archive.as_dict() | {"size": size, "sha256": digest, "format": found.kind},
            "emergency": str(emergency),
            "before": now.as_dict(),
            "migrations_before": [t.as_dict() for t in before],
        },
        warnings=warnings,
    )


def stop_writes_calls(provider: PostgresProvider) -> list[Call]:
    calls = []
    if provider.opts.stop_writes_sql:
        calls.append(Call("sql", provider.opts.stop_writes_sql))
    if provider.opts.stop_writes_command:
        calls.append(Call("run", shlex.join(provider.opts.stop_writes_command)))
    return calls


def resume_writes_calls(provider: PostgresProvider) -> list[Call]:
    calls = []
    if provider.opts.resume_writes_sql:
        calls.append(Call("sql", provider.opts.resume_writes_sql))
    if provider.opts.resume_writes_command:
        calls.append(Call("run", shlex.join(provider.opts.resume_writes_command)))
    return calls


def plan_migrate_down(provider: PostgresProvider, params: Mapping[str, Any]) -> Plan:
    only = str(params.get("migrations_table") or "") or None
    table = choose_table(provider.migrations(only), only or provider.opts.migrations_table)
    to_value = params.get("to") or params.get("target")
    to = str(to_value) if to_value else None
    scripts = path_param(params, "rollback_scripts", provider.opts.rollback_scripts)
    revert = params.get("revert_script")
    revert_path = Path(str(revert)).expanduser() if revert else None
    if revert_path is not None and not revert_path.is_absolute() and scripts is not None:
        revert_path = scripts / revert_path
    try:
        steps_n = int(params.get("steps") or 1)
    except (TypeError, ValueError):
        raise ProviderError(f"steps must be a number, not {params.get('steps')!r}") from None
    steps = plan_down(table, steps=steps_n, to=to, scripts=scripts, revert_script=revert_path)
    expected = expected_after(table, steps, to)
    now = provider.snapshot()
    emergency = stamp(provider, "emergency-")
    db = provider.target.dbname
    records = [
        sql.SQL(statement.replace("%s", "{}")).format(*[sql.Literal(v) for v in values]).as_string()
        for step in steps
        for statement, values in step.record
    ]
    psql = ["psql", "-v", "ON_ERROR_STOP=1", "--single-transaction", *provider.target.cli_args()]
    for step in steps:
        psql += ["-f", step.script]
    for record in records:
        psql += ["-c", record]
    return Plan(
        provider=provider.name,
        action="migrate_down",
        target=db,
        title=f"Roll back {', '.join(s.version for s in steps)} on {db}",
        calls=[
            dump_call(provider, emergency),
            Call("sql", "BEGIN"),
            *[Call("sql", f"\\i {step.script}") for step in steps],
            *[Call("sql", record) for record in records],
            Call("sql", "COMMIT"),
        ],
        changes=[
            *[f"database {db}: undo {s.version} with {s.script}" for s in steps],
            f"{table.table}: applied becomes {', '.join(expected[:3]) or 'nothing'}"
            + (", …" if len(expected) > 3 else ""),
            f"emergency backup first: {emergency} (the undo); now {now.describe()}",
        ],
        cli=" && ".join(
            [
                dump_line(provider, emergency),
                shlex.join(psql),
            ]
        ),
        destructive=True,
        cancellable=True,
        timeout_seconds=3 * provider.opts.timeout_seconds + 60,
        verify=f"{table.table} shows {', '.join(expected[:1]) or 'nothing'} as newest; "
        "no check counts more than before",
        undo={"action": "restore_backup", "params": {"backup": str(emergency)}},
        data={
            "table": table.as_dict(),
            "args": {
                "steps": steps_n,
                "to": to,
                "scripts": None if scripts is None else str(scripts),
                "revert_script": None if revert_path is None else str(revert_path),
            },
            "steps": [s.as_dict() for s in steps],
            "expected": expected[:20],
            "emergency": str(emergency),
            "before": now.as_dict(),
        },
        warnings=[
            "a down migration drops what the migration added: columns and tables it created "
            "lose their data (the emergency backup keeps them)",
            *[f"{s.script}: {s.note}" for s in steps if s.note],
        ],
    )


def path_param(params: Mapping[str, Any], key: str, option: Path | None) -> Path | None:
    given = params.get(key)
    if not given:
        return option
    path = Path(str(given)).expanduser()
    return option if option is not None and not path.is_absolute() else path
