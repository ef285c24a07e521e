"""The PostgreSQL provider's execute and verify, one pair per action (see provider.py).

Each step logs the command as the plan showed it (never a password or a conninfo) and is bounded
by timeout_seconds and the action's deadline; a cancel kills the running tool or cancels the
running statement. The emergency backup comes before any change, and a restore or a down script
runs in one transaction, so a failure part-way leaves the database as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from cockpit.core.actions import Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers.postgres import psql
from providers.postgres.archive import Archive, file_digest
from providers.postgres.backup_file import ARCHIVES
from providers.postgres.db import Snapshot, cancel_on, compare
from providers.postgres.migrations import MigrationTable, plan_down, read_migrations
from providers.postgres.plans import dump_line
from providers.postgres.tools import SCRATCH_PREFIX

if TYPE_CHECKING:
    from providers.postgres.provider import PostgresProvider


def execute(provider: PostgresProvider, plan: Plan, report: Report) -> Executed:
    report.check()
    run = {"backup": _backup, "restore_backup": _restore, "migrate_down": _down}[plan.action]
    return run(provider, plan, report)


def verify(provider: PostgresProvider, plan: Plan, executed: Executed, report: Report) -> Verified:
    check = {
        "backup": _verify_backup,
        "restore_backup": _verify_restore,
        "migrate_down": _verify_down,
    }[plan.action]
    return check(provider, plan, executed, report)


def _emergency(provider: PostgresProvider, path: Path, report: Report) -> Archive:
    """pg_dump of the current state, checked with pg_restore --list (the undo's file)."""
    report.log(f"$ {dump_line(provider, path)}")
    archive = provider.tools.dump(
        provider.db,
        path,
        tables=provider.opts.tables,
        checks=provider.opts.checks,
        lock_wait_ms=provider.opts.lock_timeout_ms,
        report=report,
    )
    entries = len(provider.tools.toc(path, report))
    report.progress(
        0.2,
        f"emergency backup {path.name}: {archive.size:,} bytes, {entries} entries, "
        f"{archive.snapshot.describe()}, sha256 {archive.sha256[:12]}",
    )
    return archive


def _backup(provider: PostgresProvider, plan: Plan, report: Report) -> Executed:
    path = Path(plan.data["path"])
    tools = provider.tools
    report.log(f"$ {dump_line(provider, path)}")
    archive = tools.dump(
        provider.db,
        path,
        tables=provider.opts.tables,
        checks=provider.opts.checks,
        lock_wait_ms=provider.opts.lock_timeout_ms,
        report=report,
    )
    report.progress(0.3, f"{path.name}: {archive.size:,} bytes, {archive.snapshot.describe()}")
    try:
        checked = tools.verify(
            provider.db,
            path,
            tables=provider.opts.tables,
            checks=provider.opts.checks,
            expected=archive.snapshot,
            report=report,
            log=report.log,
        )
    except ProviderError as error:
        error.args = (f"{error}; the file stays at {path} but did NOT verify",)
        raise
    data = {
        "path": str(path),
        "size": archive.size,
        "sha256": archive.sha256,
        "snapshot": archive.snapshot.as_dict(),
        "migrations": archive.migrations,
        "entries": checked.entries,
        "verified": "restored into a scratch database with the same rows",
    }
    return Executed(
        f"{path.name}: {archive.size:,} bytes, sha256 {archive.sha256[:12]}, verified by a "
        f"scratch restore ({checked.snapshot.describe()})",
        data,
    )


def _verify_backup(
    provider: PostgresProvider, plan: Plan, executed: Executed, report: Report
) -> Verified:
    path = Path(executed.data["path"])
    if not path.is_file():
        return Verified(False, f"{path} is gone")
    size, digest = file_digest(path)
    mode = path.stat().st_mode & 0o777
    if digest != executed.data["sha256"]:
        return Verified(False, f"{path.name} changed since it was written (sha256 differs)")
    if mode != 0o600:
        return Verified(False, f"{path.name} has mode {mode:o}, not 600")
    left = [d for d in _databases(provider) if d.startswith(SCRATCH_PREFIX)]
    if left:
        return Verified(False, f"scratch database(s) left behind: {', '.join(left)}")
    return Verified(
        True,
        f"{path.name} ({size:,} bytes, mode 600, sha256 {digest[:12]}) restores to "
        f"{Snapshot.from_dict(executed.data['snapshot']).describe()}",
    )


def _databases(provider: PostgresProvider) -> list[str]:
    return provider.db.read_only(
        "list databases",
        lambda c: [str(r[0]) for r in c.execute("SELECT datname FROM pg_database").fetchall()],
    )


def _writes(provider: PostgresProvider, which: str, report: Report) -> None:
    """Run the configured stop- or resume-writes SQL and command, logged."""
    statement = getattr(provider.opts, f"{which}_writes_sql")
    command = getattr(provider.opts, f"{which}_writes_command")
    if statement:
        report.log(f"{which} writes: {statement}")
        with provider.db.connect() as conn, provider.db.errors(f"{which} writes"):
            conn.execute("SET default_transaction_read_only = off")  # what stop may have set
            conn.execute(statement.encode())
    if command:
        report.log(f"{which} writes: $ {' '.join(command)}")
        provider.tools.command(command, f"{which} writes ({command[0]})", report)


def _restore(provider: PostgresProvider, plan: Plan, report: Report) -> Executed:
    backup = plan.data["backup"]
    path = Path(backup["path"])
    db = provider.target.dbname
    try:
        digest = file_digest(path)[1]
    except OSError as error:
        raise ProviderError(
            f"{path.name} is gone since the plan ({error.strerror or error}); nothing was changed"
        ) from None
    if digest != backup["sha256"]:
        raise ProviderError(
            f"{path.name} changed since the plan (sha256 differs); nothing was changed, plan again"
        )
    if provider.opts.stop_writes_sql or provider.opts.stop_writes_command:
        _writes(provider, "stop", report)
    else:
        report.log(f"writes to {db} stopped by the responder (confirmed by typing {db})")
    emergency = _emergency(provider, Path(plan.data["emergency"]), report)
    report.check()
    tools = provider.tools
    kind = backup.get("format", "custom")
    try:
        if kind in ARCHIVES:
            report.log(f"$ {tools.shown('pg_restore', tools.restore_args(path))}")
            tools.restore(
                provider.db, path, lock_wait_ms=provider.opts.lock_timeout_ms, report=report
            )
        else:
            report.log(f"$ {psql.shown(tools, path, kind)}")
            for warning in psql.restore(
                tools,
                provider.db,
                path,
                kind,
                backup["sha256"],
                lock_wait_ms=provider.opts.lock_timeout_ms,
                report=report,
            ):
                report.log(f"psql: {warning}")
    except ProviderError as error:
        error.args = (
            f"{error}; the restore ran in one transaction, so {db} is as it was "
            f"(emergency backup: {emergency.path}); writes are still stopped",
        )
        raise
    report.progress(0.6, f"{path.name} restored into {db}")
    _analyze(provider, report)
    after = provider.snapshot(exact=True, report=report)
    if provider.opts.resume_writes_sql or provider.opts.resume_writes_command:
        _writes(provider, "resume", report)
    before = emergency.snapshot
    changed = compare(before, after)
    return Executed(
        f"{db} restored from {path.name}: {after.describe()} (before: {before.describe()})",
        {
            "backup": str(path),
            "emergency": {
                "path": emergency.path,
                "size": emergency.size,
                "sha256": emergency.sha256,
            },
            "before": before.as_dict(),
            "after": after.as_dict(),
            "changed": changed,
        },
    )


def _analyze(provider: PostgresProvider, report: Report) -> None:
    """ANALYZE after a restore: the planner's statistics and the estimated counts come back."""
    limit = int(provider.opts.timeout_seconds * 1000)
    with (
        provider.db.connect() as conn,
        provider.db.errors("ANALYZE", timeout_ms=limit, knob="timeout_seconds"),
        cancel_on(report, conn),
    ):
        conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(limit),))
        # A stop_writes_sql may have made the database read-only by default: not for us.
        conn.execute("SET default_transaction_read_only = off")
        report.log("ANALYZE")
        conn.execute("ANALYZE")


def _verify_restore(
    provider: PostgresProvider, plan: Plan, executed: Executed, report: Report
) -> Verified:
    expected = Snapshot.from_dict(plan.data["backup"]["snapshot"])
    before = Snapshot.from_dict(executed.data["before"])
    now = provider.snapshot(exact=True, report=report)
    wrong = [
        f"{name}: {now.tables.get(name)} rows, the backup has {count}"
        for name, count in expected.tables.items()
        if now.tables.get(name) != count
    ]
    wrong += [
        f"check {name}: {now.checks.get(name)}, the backup has {value}"
        for name, value in expected.checks.items()
        if now.checks.get(name) != value
    ]
    heads = {t["table"]: [m["version"] for m in t["migrations"][:5]] for t in _migrations(provider)}
    for table in plan.data["backup"]["migrations"]:
        want = [m["version"] for m in table["migrations"][:5]]
        if heads.get(table["table"]) != want:
            wrong.append(f"{table['table']}: {heads.get(table['table'])}, the backup has {want}")
    changed = "; ".join(compare(before, now)[:8]) or "no count changed"
    if wrong:
        return Verified(False, f"{now.database} differs from the backup: {'; '.join(wrong[:5])}")
    checks = ", ".join(f"{k} {v}" for k, v in now.checks.items())
    return Verified(
        True,
        f"{now.database} matches the backup: {now.describe()}"
        + (f", checks {checks}" if checks else "")
        + f" (before: {before.describe()}; {changed})",
    )


def _migrations(provider: PostgresProvider) -> list[dict[str, Any]]:
    return provider.db.read_only(
        "read the migration tables", lambda c: [t.as_dict() for t in read_migrations(c)]
    )


def _down(provider: PostgresProvider, plan: Plan, report: Report) -> Executed:
    only = plan.data["table"]["table"]
    args = plan.data["args"]
    versions = [s["version"] for s in plan.data["steps"]]
    tables = provider.migrations(only)
    steps = plan_down(
        tables[0] if tables else MigrationTable("", only, "", ""),
        steps=int(args["steps"]),
        to=args["to"],
        scripts=Path(args["scripts"]) if args["scripts"] else None,
        revert_script=Path(args["revert_script"]) if args["revert_script"] else None,
    )
    if [s.version for s in steps] != versions:
        raise ProviderError(f"{only} changed since the plan; plan again")
    emergency = _emergency(provider, Path(plan.data["emergency"]), report)
    limit = int(provider.opts.timeout_seconds * 1000)
    db = provider.db
    what = f"down migration {', '.join(versions)}"
    with (
        db.connect() as conn,
        db.errors(what, timeout_ms=limit, knob="timeout_seconds"),
        cancel_on(report, conn),
        conn.transaction(),
    ):
        conn.execute("SELECT set_config('statement_timeout', %s, true)", (str(limit),))
        conn.execute(
            "SELECT set_config('lock_timeout', %s, true)", (str(provider.opts.lock_timeout_ms),)
        )
        for step in steps:
            report.check()
            report.log(f"\\i {step.script}")
            try:
                conn.execute(step.text.encode())
            except psycopg.Error as error:
                if isinstance(error, psycopg.errors.QueryCanceled | psycopg.OperationalError):
                    raise
                raise ProviderError(
                    f"{step.script} failed: {db.message(error)}; rolled back, nothing changed "
                    f"(emergency backup: {emergency.path})"
                ) from None
            for statement, values in step.record:
                report.log(f"{statement} {values}")
                conn.execute(statement.encode(), values)
    report.progress(0.6, f"{what}: committed")
    after = provider.snapshot(exact=True, report=report)
    now = [t.as_dict() for t in provider.migrations(only)]
    return Executed(
        f"{', '.join(versions)} rolled back on {provider.target.dbname}",
        {
            "steps": versions,
            "emergency": {
                "path": emergency.path,
                "size": emergency.size,
                "sha256": emergency.sha256,
            },
            "before": emergency.snapshot.as_dict(),
            "after": after.as_dict(),
            "changed": compare(emergency.snapshot, after),
            "migrations": now,
        },
    )


def _verify_down(
    provider: PostgresProvider, plan: Plan, executed: Executed, report: Report
) -> Verified:
    only = plan.data["table"]["table"]
    tables = provider.migrations(only)
    applied = [m.version for m in tables[0].applied] if tables else []
    expected = plan.data["expected"]
    if applied[: len(expected)] != expected or (not expected and applied):
        return Verified(
            False, f"{only} shows {', '.join(applied[:3]) or 'nothing'}, expected {expected[:3]}"
        )
    before = Snapshot.from_dict(executed.data["before"])
    now = provider.snapshot(exact=True, report=report)
    worse = [
        f"check {name}: {before.checks.get(name)} → {value}"
        for name, value in now.checks.items()
        if value is not None and value > (before.checks.get(name) or 0)
    ]
    if worse:
        return Verified(False, f"migrations rolled back, but checks got worse: {'; '.join(worse)}")
    changed = "; ".join(compare(before, now)[:8]) or "no count changed"
    newest = applied[0] if applied else "nothing"
    return Verified(True, f"{only}: newest applied is {newest}; {now.describe()} ({changed})")
