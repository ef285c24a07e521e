"""Roll a PostgreSQL database back: a verified backup, a restore from one, a migration undone.

The runbooks do it by hand with psql and pg_dump: check the migration table, `pg_dump
$DATABASE_URL > emergency-backup.sql`, stop the writers, drop and restore, run the integrity
queries ("both should return 0 rows"), or run `sql-scripts/rollback/<migration>.sql` and fix
the migration table. This provider does the same steps, each bounded in time, and checks each:

- `backup`: pg_dump -Fc into backup_dir (0600), counted in pg_dump's own snapshot, then
  restored into a scratch database (created and dropped here) and counted again: the file is
  kept only as a backup that restores to the same rows.
- `restore_backup`: refused unless the file restores in a scratch database first; the plan
  starts with the procedure's "stop all writes" step (run when stop_writes_sql or
  stop_writes_command is configured; otherwise typing the database's name is the responder's
  statement that writes are stopped); an emergency backup of the current state comes next (the
  undo), then pg_restore --clean --if-exists --single-transaction (all of it or nothing), ANALYZE,
  and a comparison of the result with the backup's own snapshot. The runbooks' plain `.sql` and
  `.sql.gz` backups (told from their content, not their name) take the same steps with psql
  --single-transaction instead (providers.postgres.psql); a sha256 given as a parameter or in a
  `<file>.sha256` is checked before anything is touched. A backup named `s3://bucket/key` or
  `r2://bucket/key` is downloaded and checked first (providers.postgres.s3_fetch; options s3, r2).
- `migrate_down`: an emergency backup, then the down script(s) and the migration table's
  bookkeeping in one transaction (providers.postgres.migrations), and a check of both.

Reads (`migrations()`, `snapshot()`) run in READ ONLY transactions with a statement_timeout;
the password never leaves psycopg's argument and the children's PGPASSWORD.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, model_validator

from cockpit.core.actions import Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from cockpit.core.paths import data_dir, ensure_private_dir
from providers.api import Secret
from providers.base import ActionProvider, Capability, Param, Params, ProviderOptions
from providers.postgres import run, s3_fetch
from providers.postgres.db import Database, Snapshot, Target
from providers.postgres.migrations import (
    MigrationTable,
    read_migrations,
)
from providers.postgres.object_store import BucketOptions
from providers.postgres.plans import plan_backup, plan_migrate_down
from providers.postgres.restore_plan import plan_restore
from providers.postgres.source import candidates
from providers.postgres.tools import Tools

_DATABASE = Param("the database's name; refused if the provider is set up for another")
ACTION_PARAMS: dict[str, Params] = {
    "backup": {"database": _DATABASE, "label": Param("a word in the backup file's name")},
    "restore_backup": {
        "backup": Param("the backup file to restore", required=True, instead=("backup_file",)),
        "backup_file": Param("the backup file to restore (as backup)"),
        "backup_dir": Param("the folder of a relative backup file (default: the options')"),
        "backup_pattern": Param(
            "which files in the folder are this runbook's backups, e.g. ai_saas_*.sql.gz"
        ),
        "sha256": Param("the file's sha256; refused if it differs (so is a <file>.sha256)"),
        "backup_prefix": Param(
            "where the candidates are in S3 or R2, e.g. r2://pitchey-backups/db/ (listed newest "
            "first)"
        ),
        "version_id": Param("the S3 object version to fetch (default: the latest)"),
        "database": _DATABASE,
    },
    "migrate_down": {
        "steps": Param("how many migrations to undo (default: 1)"),
        "to": Param("undo every migration after this version"),
        "target": Param("undo every migration after this version (as to)"),
        "rollback_scripts": Param("the folder of the down scripts (default: the options')"),
        "revert_script": Param("the down script to run"),
        "migrations_table": Param("the migration table (default: the options', or found)"),
        "database": _DATABASE,
    },
}
PARAMS = {action: set(params) for action, params in ACTION_PARAMS.items()}


class PostgresOptions(ProviderOptions):
    """Where the database is, what its integrity snapshot holds, and the limits of each step."""

    # A literal dsn holds the password: keep the input out of validation errors.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    dsn: Secret | None = None
    """postgresql://user:password@host:port/db or key=value; { env = "DATABASE_URL" }."""
    host: str | None = None
    port: int | None = None
    dbname: str | None = None
    user: str | None = None
    password: Secret | None = None
    tables: list[str] | None = None
    """The integrity snapshot's tables (default: every user table)."""
    checks: dict[str, str] = Field(default_factory=dict)
    """Named read-only queries that each return one count: null emails, orphan orders …"""
    exact_counts: bool = False
    """count(*) per table; by default estimates (pg_class.reltuples, n_live_tup)."""
    statement_timeout_ms: int = Field(default=5000, gt=0)
    """For each read-only look (snapshot, checks, migrations)."""
    lock_timeout_ms: int = Field(default=10000, gt=0)
    """How long a dump, restore or down script waits for a lock before giving up."""
    timeout_seconds: float = Field(default=600.0, gt=0)
    """For each pg_dump, pg_restore, down script or exact count after a change."""
    backup_dir: Path | None = None
    """Default: <cockpit data dir>/postgres/<dbname>."""
    rollback_scripts: Path | None = None
    migrations_table: str | None = None
    bin_dir: Path | None = None
    """Where pg_dump and pg_restore are (default: PATH); match the server's major version."""
    stop_writes_sql: str | None = None
    stop_writes_command: list[str] | None = None
    resume_writes_sql: str | None = None
    resume_writes_command: list[str] | None = None
    s3: BucketOptions | None = None
    """Where s3:// backups are fetched from: endpoint_url, region, credentials, limits."""
    r2: BucketOptions | None = None
    """Where r2:// backups are fetched from: account_id (or endpoint_url), credentials, limits."""

    @model_validator(mode="after")
    def _connectable(self) -> PostgresOptions:
        try:
            target(self)
        except ProviderError as error:
            raise ValueError(str(error)) from None
        return self


def target(options: PostgresOptions) -> Target:
    return Target.build(
        options.dsn.get_secret_value() if options.dsn else None,
        password=options.password.get_secret_value() if options.password else None,
        host=options.host,
        port=options.port,
        dbname=options.dbname,
        user=options.user,
    )


class PostgresProvider(ActionProvider):
    """Verified backups, restores and down migrations of one PostgreSQL database."""

    name = "postgres"
    title = "PostgreSQL (backup, restore, migrate down)"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = PostgresOptions
    actions: ClassVar[dict[str, str]] = {
        "backup": "pg_dump -Fc to backup_dir, verified by a restore into a scratch database",
        "restore_backup": "restore a verified backup over the database (emergency backup first)",
        "migrate_down": "undo the last migration(s) with their down scripts (backup first)",
    }
    action_params: ClassVar[dict[str, Params]] = ACTION_PARAMS

    def __init__(self, options: PostgresOptions) -> None:
        super().__init__(options)
        self.opts = options
        self.target = target(options)
        self.db = Database(
            self.target,
            connect_timeout=min(10.0, options.timeout_seconds),
            statement_timeout_ms=options.statement_timeout_ms,
        )
        self.tools = Tools(
            self.target, bin_dir=options.bin_dir, timeout_seconds=options.timeout_seconds
        )

    # Reads.

    def health(self) -> str:
        version, _, user = self.db.version()
        dump = self.tools.version("pg_dump")
        tables = "; ".join(t.describe() for t in self.migrations()) or "no migration table"
        return f"PostgreSQL {version} at {self.target.shown()} as {user}; pg_dump {dump}; {tables}"

    def migrations(self, only: str | None = None) -> list[MigrationTable]:
        """Each migration table found, its applied migrations newest first (read-only)."""
        wanted = only or self.opts.migrations_table
        return self.db.read_only("read the migration tables", lambda c: read_migrations(c, wanted))

    def snapshot(self, exact: bool | None = None, report: Report | None = None) -> Snapshot:
        """Row counts of the configured tables and the checks' counts (read-only)."""
        return self.db.snapshot(
            self.opts.tables,
            self.opts.checks,
            exact=self.opts.exact_counts if exact is None else exact,
            report=report,
        )

    def backups(self, params: Mapping[str, Any] | None = None) -> list[Path]:
        """The backups in backup_dir (archives, .sql, .sql.gz), newest first; with params, in
        their backup_dir and matching their backup_pattern."""
        return candidates(self, params or {})

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if action == "restore_backup" and param in ("backup", "backup_file"):
            if s3_fetch.listed_remotely(self, params):
                return s3_fetch.candidates(self, params)[:20]
            return [(str(p), _file_label(p)) for p in self.backups(params)[:20]]
        if action == "migrate_down" and param in ("to", "target"):
            tables = self.migrations(str(params.get("migrations_table") or "") or None)
            return [
                (m.version, f"{m.version} ({t.table}, {m.state})")
                for t in tables
                for m in t.applied[1:20]
            ]
        return []

    def backup_dir(self, create: bool = True) -> Path:
        folder = self.opts.backup_dir or data_dir() / "postgres" / self.target.dbname
        return ensure_private_dir(folder) if create else folder

    # Plans.

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        named = params.get("database")
        if named and str(named) != self.target.dbname:
            raise ProviderError(
                f"the procedure names database {named}, this provider is set up for "
                f"{self.target.dbname}: configure a postgres provider for {named}"
            )
        _, major, _ = self.db.version()
        tool_major = int(self.tools.version("pg_dump").split(".")[0])
        if tool_major < major:
            raise ProviderError(
                f"pg_dump {tool_major} cannot dump a PostgreSQL {major} server: install "
                f"postgresql-client-{major} or point bin_dir at it"
            )
        ignored = sorted(set(params) - PARAMS[action])
        build = {"backup": plan_backup, "restore_backup": plan_restore}
        plan = build.get(action, plan_migrate_down)(self, params)
        if ignored:
            plan.warnings.append(f"ignored (not a postgres parameter): {', '.join(ignored)}")
        return plan

    # Plans are in providers.postgres.plans, execute and verify in providers.postgres.run.

    def execute(self, plan: Plan, report: Report) -> Executed:
        return run.execute(self, plan, report)

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        return run.verify(self, plan, executed, report)


def _file_label(path: Path) -> str:
    stat = path.stat()
    when = datetime.fromtimestamp(stat.st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{path.name} · {stat.st_size / 1e6:.1f} MB · {when}"
