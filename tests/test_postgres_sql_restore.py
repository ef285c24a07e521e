"""restore_backup from plain and gzip'd SQL backups, against a real PostgreSQL 15.

The runbooks keep `pg_dump $DATABASE_URL > backup.sql` and `backup.sql.gz` files; the provider
tells them apart by content, checks their sha256 when one is given, restores them into a
scratch database first, then takes the emergency backup and restores with psql in one
transaction. Each bad input is refused before anything is touched, or rolled back whole.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import postgres_server
import pytest
from postgres_server import PostgresServer, Shop, scratch_databases

from cockpit import action_runner
from cockpit.action_runner import TimelineRecorder
from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError
from cockpit.core.timeline import Timeline

postgres = postgres_server.postgres
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture
def sql_shop(postgres: PostgresServer) -> Iterator[Shop]:
    """A shop with `good.sql` and `good.sql.gz` dumped (plain) before a bad deploy's damage."""
    with Shop(postgres) as shop:
        plain = shop.backups / "good.sql"
        dump_plain(shop, plain)
        with plain.open("rb") as src, gzip.open(shop.backups / "good.sql.gz", "wb") as out:
            out.write(src.read())
        shop.execute("DELETE FROM orders WHERE id > 120")
        shop.execute("UPDATE customers SET email = NULL WHERE id <= 3")
        yield shop


def dump_plain(shop: Shop, path: Path) -> None:
    subprocess.run(
        [str(shop.server.bin / "pg_dump"), "-Fp", "-f", str(path), "-d", shop.url()],
        env={**os.environ, "PGPASSWORD": shop.server.password},
        check=True,
        timeout=60,
        capture_output=True,
    )


def recorder(timeline: Timeline) -> TimelineRecorder:
    incident = timeline.open_incident("db", "P1", "ai-saas")
    return TimelineRecorder(timeline, incident.id)


def recorded(timeline: Timeline) -> list[tuple[str, str, dict[str, Any]]]:
    incident = timeline.incidents()[0].id
    return [(e.kind, e.summary, dict(e.payload)) for e in timeline.events(incident)]


def untouched(shop: Shop) -> None:
    """The damaged state, no scratch database, no emergency backup."""
    assert shop.count("orders") == 120
    assert shop.scalar("SELECT count(*) FROM customers WHERE email IS NULL") == 3
    assert scratch_databases(shop.server) == []
    assert not [p for p in shop.backups.iterdir() if p.name.startswith("emergency-")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("name", "described", "command"),
    [
        ("good.sql", "plain SQL", "psql --no-psqlrc -v ON_ERROR_STOP=1 --single-transaction"),
        ("good.sql.gz", "gzip'd plain SQL", "gzip -dc "),
    ],
)
def test_a_sql_backup_is_restored_in_one_transaction_compared_and_undone(
    sql_shop: Shop, timeline: Timeline, name: str, described: str, command: str
) -> None:
    shop = sql_shop
    shop.execute("CREATE TABLE scratchpad (id int)")  # made after the backup
    provider = shop.provider()
    plan = provider.preflight("restore_backup", {"backup_file": name})
    assert scratch_databases(shop.server) == []
    path = shop.backups / name
    about = next(line for line in plan.changes if line.startswith(f"{name}: "))
    assert f"{described}, {path.stat().st_size:,} bytes" in about
    assert "restored with psql in one transaction" in about
    assert (
        f"database {shop.dbname}: restore from {name} (3 tables, 253 rows) over the current "
        "state (4 tables, ~253 rows)" in plan.changes
    )
    assert "  check customers_without_email: 3 → 0" in plan.changes
    assert any("not in the backup, dropped" in w and "scratchpad" in w for w in plan.warnings)
    assert command in plan.cli and "--single-transaction" in plan.cli
    assert plan.cli.startswith("pg_dump --format=custom")  # the emergency backup comes first
    assert plan.data["backup"]["format"] == ("gzip" if name.endswith(".gz") else "plain")
    payload = json.dumps(plan.as_payload())
    assert shop.server.password not in payload
    result = action_runner.run(provider, plan, shop.dbname, recorder(timeline), Report())
    assert result.outcome == "succeeded", result.summary
    assert shop.count("orders") == 200
    assert shop.scalar("SELECT count(*) FROM customers WHERE email IS NULL") == 0
    assert shop.scalar("SELECT to_regclass('scratchpad')") is None
    assert shop.versions()[0] == "20240201090000"
    dumped = next(i for i, line in enumerate(result.transcript) if line.startswith("$ pg_dump"))
    restored = next(i for i, line in enumerate(result.transcript) if "psql" in line)
    assert dumped < restored, result.transcript
    assert shop.server.password not in json.dumps(recorded(timeline), default=str)
    finished = [e for e in recorded(timeline) if e[0] == "action.result"][-1]
    assert "orders: 120 → 200 rows" in finished[1] or "orders: 120 → 200 rows" in json.dumps(
        finished[2]
    )
    # The emergency backup holds the state from before the restore, and undoes it.
    assert plan.undo is not None
    emergency = Path(plan.undo["params"]["backup"])
    assert emergency.stat().st_mode & 0o777 == 0o600
    undo = provider.preflight(plan.undo["action"], plan.undo["params"])
    back = action_runner.run(provider, undo, shop.dbname, recorder(timeline), Report())
    assert back.outcome == "succeeded", back.summary
    assert shop.count("orders") == 120 and shop.count("scratchpad") == 0


def test_the_format_comes_from_the_content_not_the_name(sql_shop: Shop) -> None:
    shop = sql_shop
    lying = shop.backups / "really-plain.sql.gz"
    lying.write_bytes((shop.backups / "good.sql").read_bytes())
    zipped = shop.backups / "really-gzip.sql"
    zipped.write_bytes((shop.backups / "good.sql.gz").read_bytes())
    provider = shop.provider()
    plan = provider.preflight("restore_backup", {"backup": lying.name})
    assert plan.data["backup"]["format"] == "plain"
    assert any("named gzip, but its content is plain SQL" in w for w in plan.warnings)
    plan = provider.preflight("restore_backup", {"backup": zipped.name})
    assert plan.data["backup"]["format"] == "gzip"
    assert plan.cli.split(" && ")[1].startswith("gzip -dc ")
    executed = provider.execute(plan, Report())
    assert provider.verify(plan, executed, Report()).ok
    assert shop.count("orders") == 200


def test_a_matching_sha256_is_said_and_a_mismatch_refuses_before_anything(
    sql_shop: Shop,
) -> None:
    shop = sql_shop
    provider = shop.provider()
    path = shop.backups / "good.sql.gz"
    digest = sha256(path)
    plan = provider.preflight("restore_backup", {"backup": path.name, "sha256": digest.upper()})
    assert any("matches the sha256 parameter" in line for line in plan.changes)
    wrong = "0" * 64
    with pytest.raises(ProviderError, match=r"does not match the sha256 parameter.*refused"):
        provider.preflight("restore_backup", {"backup": path.name, "sha256": wrong})
    untouched(shop)
    # sha256sum's own file beside the backup counts the same.
    sidecar = shop.backups / "good.sql.gz.sha256"
    sidecar.write_text(f"{digest}  good.sql.gz\n")
    plan = provider.preflight("restore_backup", {"backup": path.name})
    assert any("matches good.sql.gz.sha256" in line for line in plan.changes)
    sidecar.write_text(f"{wrong}  good.sql.gz\n")
    with pytest.raises(ProviderError, match=r"does not match good.sql.gz.sha256"):
        provider.preflight("restore_backup", {"backup": path.name})
    with pytest.raises(ProviderError, match="64 hex digits"):
        provider.preflight("restore_backup", {"backup": "good.sql", "sha256": "abc"})
    untouched(shop)


def bad_files(shop: Shop) -> dict[str, tuple[bytes, str]]:
    sql = (shop.backups / "good.sql").read_bytes()
    zipped = (shop.backups / "good.sql.gz").read_bytes()
    lines = sql.split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(b"CREATE TABLE public.orders"))
    broken = b"\n".join([*lines[:at], b"INSERT INTO nowhere VALUES (1);", *lines[at:]])
    return {
        "truncated.sql.gz": (zipped[: len(zipped) // 2], r"truncated gzip file"),
        "corrupt.sql.gz": (zipped[:20] + b"\xff" * 64 + zipped[84:], r"not a valid gzip file"),
        "binary.sql": (os.urandom(64) + b"\x00" + os.urandom(512), r"is binary.*not a SQL"),
        "html.sql": (b"<html><body>403 Forbidden</body></html>\n", r"does not look like SQL"),
        "empty.sql": (b"", r"is empty"),
        "statement.sql": (
            broken,
            rf"statement.sql does not verify: .*line {at + 1} of statement.sql: ERROR: "
            r"relation \"nowhere\" does not exist",
        ),
        "shell.sql": (b"SELECT 1;\n\\! touch /tmp/never\n" + sql, r"line 2: psql meta-command"),
        "commits.sql": (
            sql.replace(b"SET statement_timeout = 0;", b"COMMIT;\nSET statement_timeout = 0;"),
            r"ends the restore's transaction itself",
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "truncated.sql.gz",
        "corrupt.sql.gz",
        "binary.sql",
        "html.sql",
        "empty.sql",
        "statement.sql",
        "shell.sql",
        "commits.sql",
    ],
)
def test_bad_input_is_refused_before_anything_is_touched(sql_shop: Shop, name: str) -> None:
    content, refusal = bad_files(sql_shop)[name]
    (sql_shop.backups / name).write_bytes(content)
    with pytest.raises(ProviderError, match=refusal):
        sql_shop.provider().preflight("restore_backup", {"backup": name})
    untouched(sql_shop)


def test_a_file_gone_or_changed_since_the_plan_is_refused_and_recorded(
    sql_shop: Shop, timeline: Timeline
) -> None:
    shop = sql_shop
    provider = shop.provider()
    plan = provider.preflight("restore_backup", {"backup": "good.sql.gz"})
    records = recorder(timeline)
    (shop.backups / "good.sql.gz").unlink()
    result = action_runner.run(provider, plan, shop.dbname, records, Report())
    assert result.outcome == "failed"
    assert "good.sql.gz is gone since the plan" in result.summary, result.summary
    untouched(shop)
    plan = provider.preflight("restore_backup", {"backup": "good.sql"})
    with (shop.backups / "good.sql").open("ab") as handle:
        handle.write(b"\n-- edited\n")
    result = action_runner.run(provider, plan, shop.dbname, records, Report())
    assert result.outcome == "failed" and "changed since the plan" in result.summary
    untouched(shop)
    outcomes = [e[2].get("outcome") for e in recorded(timeline) if e[0] == "action.result"]
    assert outcomes == ["failed", "failed"], recorded(timeline)


def test_a_statement_failing_half_way_rolls_the_whole_restore_back(
    sql_shop: Shop, timeline: Timeline
) -> None:
    """A statement that passes in the scratch restore and fails on the database itself, after
    the tables were dropped and half the data copied: nothing of it stays."""
    shop = sql_shop
    shop.execute("CREATE TABLE scratchpad (id int)")
    lines = (shop.backups / "good.sql").read_bytes().split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(b"COPY public.orders")) - 1
    fails_outside_scratch = b"SELECT 1 / (current_database() LIKE 'cockpit_verify_%')::int;"
    path = shop.backups / "late-failure.sql"
    path.write_bytes(b"\n".join([*lines[:at], fails_outside_scratch, *lines[at:]]))
    provider = shop.provider()
    plan = provider.preflight("restore_backup", {"backup": path.name})
    result = action_runner.run(provider, plan, shop.dbname, recorder(timeline), Report())
    assert result.outcome == "failed"
    assert f"line {at + 1:,} of late-failure.sql: ERROR: division by zero" in result.summary
    assert "one transaction" in result.summary and "is as it was" in result.summary
    assert shop.count("orders") == 120 and shop.count("scratchpad") == 0
    assert shop.scalar("SELECT count(*) FROM customers WHERE email IS NULL") == 3
    emergency = [p for p in shop.backups.glob("emergency-*.dump")]
    assert len(emergency) == 1, "the emergency backup was taken before the restore began"
    finished = [e for e in recorded(timeline) if e[0] == "action.result"]
    assert finished and "division by zero" in finished[-1][1]


def test_backups_offered_are_the_runbooks_kind(sql_shop: Shop) -> None:
    provider = sql_shop.provider()
    offered = [Path(v).name for v, _ in provider.choices("restore_backup", "backup", {})]
    assert set(offered) == {"good.sql", "good.sql.gz"}
    only = {"backup_pattern": "*.sql.gz"}
    assert [Path(v).name for v, _ in provider.choices("restore_backup", "backup", only)] == [
        "good.sql.gz"
    ]
    with pytest.raises(ProviderError, match=r"no fetcher for gs:// backups"):
        provider.preflight("restore_backup", {"backup": "gs://bucket/db/good.sql.gz"})
