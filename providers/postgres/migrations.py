"""Migration bookkeeping for the PostgreSQL provider: which tool's table is there, what is applied,
and what `migrate_down` runs and records.

Four tables are recognised (in the schemas on the search path):

- `schema_migrations (version)`: Rails, knex-style and Ecto runners, one row per applied version;
- `schema_migrations (version, dirty)`: golang-migrate, one row, the current version;
- `_prisma_migrations`: Prisma, one row per attempt (applied = finished and not rolled back);
- `alembic_version (version_num)`: Alembic, one row per head.

A down step is a SQL file from the rollback scripts folder (the seeds' `sql-scripts/rollback/`),
found by the migration's version: `<version>_<name>.sql`, `<version>.down.sql` (golang-migrate),
or `<migration name>/down.sql` (a Prisma folder); `.up.sql` files are never taken. The provider
runs the scripts in one transaction together with the bookkeeping each tool expects: the row
deleted (Rails), the version set back with dirty false (golang-migrate), rolled_back_at set
(Prisma, whose `migrate deploy` then applies it again), version_num set to `to` (Alembic).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from cockpit.core.errors import ProviderError

DETECT_SQL = """
SELECT c.oid::regclass::text, n.nspname, c.relname, array_agg(a.attname::text ORDER BY a.attnum)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p')
  AND c.relname IN ('schema_migrations', '_prisma_migrations', 'alembic_version')
  AND n.nspname = ANY (current_schemas(false))
GROUP BY 1, 2, 3
ORDER BY 1
"""
KIND_NAMES = {
    "rails": "schema_migrations (Rails/knex-style versions)",
    "golang-migrate": "schema_migrations (golang-migrate, version + dirty)",
    "prisma": "_prisma_migrations (Prisma)",
    "alembic": "alembic_version (Alembic)",
}
TRANSACTION_CONTROL = re.compile(
    r"^\s*(BEGIN|COMMIT|ROLLBACK|END|START\s+TRANSACTION)\b[^;\n]*;", re.IGNORECASE | re.MULTILINE
)
LIMIT = 500
"""Rows read per migration table (newest first)."""


@dataclass(frozen=True)
class Migration:
    """One row of a migration table."""

    version: str
    applied_at: str | None = None
    state: str = "applied"
    """applied | dirty (golang-migrate) | failed | rolled back (Prisma)."""


@dataclass
class MigrationTable:
    """A migration table and its rows, newest first."""

    kind: str
    table: str
    schema: str
    name: str
    migrations: list[Migration] = field(default_factory=list)

    @property
    def applied(self) -> list[Migration]:
        return [m for m in self.migrations if m.state in ("applied", "dirty")]

    def describe(self) -> str:
        heads = [
            m.version + ("" if m.state == "applied" else f" ({m.state})") for m in self.applied
        ]
        shown = ", ".join(heads[:3]) + (", …" if len(heads) > 3 else "")
        return f"{self.table} ({self.kind}): {shown or 'nothing applied'}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["migrations"] = data["migrations"][:20]
        return data


def natural(version: str) -> tuple[int, int, str]:
    """Sort key: numbers by value, then text."""
    key = version_key(version)
    return (0, int(key), version) if key.isdigit() else (1, 0, version)


def version_key(name: str) -> str:
    """The version a file or migration name starts with: '000003_x.down.sql' → '3'."""
    found = re.match(r"[0-9A-Za-z]+", name)
    key = found.group(0) if found else name
    return (key.lstrip("0") or "0") if key.isdigit() else key


def read_migrations(conn: psycopg.Connection[Any], only: str | None = None) -> list[MigrationTable]:
    """Every migration table on the search path (or only the one named), with its rows."""
    found: list[MigrationTable] = []
    for table, schema, name, columns in conn.execute(DETECT_SQL).fetchall():
        if only and only not in (table, name, f"{schema}.{name}"):
            continue
        cols = set(columns)
        if name == "schema_migrations" and "version" in cols:
            kind = "golang-migrate" if "dirty" in cols else "rails"
        elif name == "_prisma_migrations" and {"migration_name", "finished_at"} <= cols:
            kind = "prisma"
        elif name == "alembic_version" and "version_num" in cols:
            kind = "alembic"
        else:
            continue
        entry = MigrationTable(kind, str(table), str(schema), str(name))
        entry.migrations = READERS[kind](conn, sql.Identifier(schema, name), cols)
        found.append(entry)
    return found


def _rails(conn: psycopg.Connection[Any], table: sql.Identifier, cols: set[str]) -> list[Migration]:
    stamp = next((c for c in ("applied_at", "inserted_at", "created_at") if c in cols), None)
    query = sql.SQL("SELECT version::text, {} FROM {}").format(
        sql.SQL("{}::text").format(sql.Identifier(stamp)) if stamp else sql.NULL, table
    )
    rows = conn.execute(query).fetchall()
    ordered = sorted(rows, key=lambda row: natural(str(row[0])), reverse=True)[:LIMIT]
    return [Migration(str(version), None if at is None else str(at)) for version, at in ordered]


def _golang(
    conn: psycopg.Connection[Any], table: sql.Identifier, cols: set[str]
) -> list[Migration]:
    query = sql.SQL("SELECT version::text, dirty FROM {}").format(table)
    rows = conn.execute(query).fetchall()
    return [Migration(str(v), None, "dirty" if dirty else "applied") for v, dirty in rows]


def _prisma(
    conn: psycopg.Connection[Any], table: sql.Identifier, cols: set[str]
) -> list[Migration]:
    query = sql.SQL(
        "SELECT migration_name, finished_at::text, rolled_back_at IS NOT NULL FROM {} "
        "ORDER BY started_at DESC, migration_name DESC LIMIT {}"
    ).format(table, sql.Literal(LIMIT))
    found = []
    for name, finished, rolled_back in conn.execute(query).fetchall():
        state = "rolled back" if rolled_back else ("applied" if finished else "failed")
        found.append(Migration(str(name), finished, state))
    return found


def _alembic(
    conn: psycopg.Connection[Any], table: sql.Identifier, cols: set[str]
) -> list[Migration]:
    rows = conn.execute(sql.SQL("SELECT version_num FROM {}").format(table)).fetchall()
    return [Migration(str(row[0])) for row in sorted(rows)]


READERS: dict[
    str, Callable[[psycopg.Connection[Any], sql.Identifier, set[str]], list[Migration]]
] = {"rails": _rails, "golang-migrate": _golang, "prisma": _prisma, "alembic": _alembic}


# migrate_down: what to undo, with which script, and the bookkeeping.


@dataclass
class DownStep:
    """One migration to undo: its script and the statements that record it undone."""

    version: str
    script: str
    text: str
    record: list[tuple[str, list[Any]]]
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "script": self.script, "note": self.note}


def choose_table(tables: list[MigrationTable], only: str | None) -> MigrationTable:
    if not tables:
        raise ProviderError(
            "no migration table here (looked for schema_migrations, _prisma_migrations and "
            "alembic_version on the search path)"
        )
    if len(tables) > 1 and not only:
        names = ", ".join(f"{t.table} ({t.kind})" for t in tables)
        raise ProviderError(f"several migration tables ({names}): name one with migrations_table")
    return tables[0]


def plan_down(
    table: MigrationTable,
    *,
    steps: int,
    to: str | None,
    scripts: Path | None,
    revert_script: Path | None,
) -> list[DownStep]:
    """The migrations to undo, newest first, each with its script and bookkeeping."""
    applied = table.applied
    if not applied:
        raise ProviderError(f"{table.table}: nothing is applied, nothing to roll back")
    if table.kind == "alembic":
        versions = _alembic_down(table, to, steps)
    elif table.kind == "golang-migrate":
        versions = _chain(applied[0].version, scripts, to, steps)
    else:
        versions = _newer(applied, to, steps, table.table)
    if revert_script is not None and len(versions) != 1:
        raise ProviderError("revert_script is one migration's script: roll back one step with it")
    if revert_script is None and scripts is None:
        raise ProviderError(
            "migrate_down needs the down scripts: rollback_scripts (a folder with one SQL file "
            "per migration, e.g. sql-scripts/rollback/) or revert_script (one file)"
        )
    result = []
    for index, version in enumerate(versions):
        path = revert_script or find_script(scripts, version)  # type: ignore[arg-type]
        text, note = _script_text(path)
        after = versions[index + 1] if index + 1 < len(versions) else None
        record = _record(table, version, after, to, scripts)
        result.append(DownStep(version, str(path), text, record, note))
    return result


def _newer(applied: list[Migration], to: str | None, steps: int, where: str) -> list[str]:
    versions = [m.version for m in applied]
    if to is None:
        if steps < 1 or steps > len(versions):
            raise ProviderError(f"steps must be 1..{len(versions)} ({where} has {len(versions)})")
        return versions[:steps]
    if to not in versions:
        raise ProviderError(
            f"{to} is not applied in {where}; applied: {', '.join(versions[:5])}"
            + (", …" if len(versions) > 5 else "")
        )
    undo = versions[: versions.index(to)]
    if not undo:
        raise ProviderError(f"{to} is the newest migration in {where}: nothing to roll back")
    return undo


def _alembic_down(table: MigrationTable, to: str | None, steps: int) -> list[str]:
    heads = [m.version for m in table.applied]
    if len(heads) > 1:
        raise ProviderError(f"{table.table} has several heads ({', '.join(heads)}): merge first")
    if not to or steps != 1:
        raise ProviderError(
            "Alembic keeps only the current revision: name the revision to go back to with "
            "to: <revision> (or to: base), one step"
        )
    return heads


def _chain(current: str, scripts: Path | None, to: str | None, steps: int) -> list[str]:
    """golang-migrate keeps one version: the ones before it come from the scripts' names."""
    if scripts is None or not scripts.is_dir():
        return [current]
    known = {version_key(p.name) for p in scripts.glob("*.sql") if version_key(p.name).isdigit()}
    below = sorted((int(k) for k in known if int(k) <= int(version_key(current))), reverse=True)
    chain = [str(v) for v in below] or [current]
    if chain[0] != version_key(current):
        chain.insert(0, version_key(current))
    if to is not None:
        undo = [v for v in chain if int(v) > int(version_key(to))]
        if not undo:
            raise ProviderError(f"the current version {current} is not after {to}")
        return undo
    if steps < 1 or steps > len(chain):
        raise ProviderError(f"steps must be 1..{len(chain)} (versions found: {', '.join(chain)})")
    return chain[:steps]


def _record(
    table: MigrationTable, version: str, after: str | None, to: str | None, scripts: Path | None
) -> list[tuple[str, list[Any]]]:
    """SQL (as text, with %s) recording `version` undone."""
    name = sql.Identifier(table.schema, table.name).as_string()
    if table.kind == "rails":
        return [(f"DELETE FROM {name} WHERE version::text = %s", [version])]
    if table.kind == "prisma":
        return [
            (
                f"UPDATE {name} SET rolled_back_at = now() "
                "WHERE migration_name = %s AND rolled_back_at IS NULL",
                [version],
            )
        ]
    if table.kind == "alembic":
        if to == "base":
            return [(f"DELETE FROM {name} WHERE version_num = %s", [version])]
        return [(f"UPDATE {name} SET version_num = %s WHERE version_num = %s", [to, version])]
    previous = after if after is not None else _previous(version, scripts)
    if previous is None:
        return [(f"DELETE FROM {name}", [])]
    return [(f"UPDATE {name} SET version = %s, dirty = false", [int(previous)])]


def _previous(version: str, scripts: Path | None) -> str | None:
    if scripts is None or not scripts.is_dir():
        return None
    keys = {version_key(p.name) for p in scripts.glob("*.sql")}
    lower = [int(k) for k in keys if k.isdigit() and int(k) < int(version_key(version))]
    return str(max(lower)) if lower else None


def expected_after(table: MigrationTable, steps: list[DownStep], to: str | None) -> list[str]:
    """The applied versions verify expects, newest first."""
    undone = {s.version for s in steps}
    if table.kind == "alembic":
        return [] if to == "base" else [str(to)]
    if table.kind == "golang-migrate":
        last = steps[-1].record[0]
        return [str(last[1][0])] if last[1] else []
    return [m.version for m in table.applied if m.version not in undone]


def find_script(scripts: Path, version: str) -> Path:
    """The down script of one migration in the rollback scripts folder."""
    if not scripts.is_dir():
        raise ProviderError(f"no rollback scripts folder at {scripts}")
    key = version_key(version)
    found = []
    for path in sorted(scripts.rglob("*.sql")):
        parts = path.relative_to(scripts).parts
        if path.name.endswith(".up.sql") or len(parts) > 2:
            continue
        if len(parts) == 2 and "down" not in path.name:
            continue
        if version_key(parts[0]) == key or parts[0] == version:
            found.append(path)
    if len(found) > 1:
        found = [p for p in found if "down" in p.name or p.stem == version] or found
    if not found:
        raise ProviderError(f"no down script for {version} in {scripts} (<version>_<name>.sql)")
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(scripts)) for p in found)
        raise ProviderError(f"several down scripts for {version} in {scripts}: {names}")
    return found[0]


def _script_text(path: Path) -> tuple[str, str]:
    """The script, with a BEGIN;/COMMIT; pair around all of it taken off (we run it in ours)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ProviderError(f"cannot read {path}: {error.strerror}") from None
    if not text.strip():
        raise ProviderError(f"{path} is empty")
    control = list(TRANSACTION_CONTROL.finditer(text))
    if not control:
        return text, ""
    first, last = control[0], control[-1]
    opens = first.group(1).upper().startswith(("BEGIN", "START"))
    wraps = (
        len(control) == 2
        and opens
        and last.group(1).upper() in ("COMMIT", "END")
        and not text[: first.start()].strip()
        and not text[last.end() :].strip()
    )
    if not wraps:
        raise ProviderError(
            f"{path} controls transactions itself ({first.group(0).strip()}); the cockpit runs "
            "the down script in one transaction of its own: take BEGIN/COMMIT out"
        )
    inner = text[first.end() : last.start()]
    return inner, "its own BEGIN;/COMMIT; taken off: it runs inside the cockpit's transaction"
