"""The PostgreSQL provider against a real PostgreSQL 15 (tests/postgres_server.py).

Each test gets its own database on the test process's throwaway cluster: the seeded shop
(customers, orders with a foreign key, schema_migrations with three versions and their down
scripts), or a scratch database with another tool's migration table. The provider connects over
TCP with a password, as in production, so every test can look for that password where it must
not be.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import postgres_server
import pytest
from postgres_server import PostgresServer, Shop, scratch_databases, unique

from cockpit import action_runner
from cockpit.action_runner import ConfirmationRefused, TimelineRecorder
from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from cockpit.core.timeline import Timeline

postgres = postgres_server.postgres
shop = postgres_server.shop
damaged_shop = postgres_server.damaged_shop
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def recorded(timeline: Timeline) -> list[tuple[str, str, dict[str, Any], str | None]]:
    incident = timeline.incidents()[0].id
    return [(e.kind, e.summary, dict(e.payload), e.command) for e in timeline.events(incident)]


def recorder(timeline: Timeline) -> TimelineRecorder:
    incident = timeline.open_incident("db", "P1", "pulse-messages")
    return TimelineRecorder(timeline, incident.id)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Migration tables.


@pytest.fixture
def scratch(postgres: PostgresServer) -> Iterator[tuple[PostgresServer, str]]:
    name = unique("mig_")
    postgres.create_database(name)
    yield postgres, name
    postgres.drop_database(name)


MIGRATION_TABLES = {
    "rails": [
        "CREATE TABLE schema_migrations (version varchar(255) PRIMARY KEY)",
        "INSERT INTO schema_migrations VALUES ('20240101120000'), ('20240301000000'), "
        "('20240115120000')",
    ],
    "golang-migrate": [
        "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean "
        "NOT NULL)",
        "INSERT INTO schema_migrations VALUES (2, false)",
    ],
    "prisma": [
        "CREATE TABLE _prisma_migrations (id varchar(36) PRIMARY KEY, checksum varchar(64) NOT "
        "NULL, finished_at timestamptz, migration_name varchar(255) NOT NULL, logs text, "
        "rolled_back_at timestamptz, started_at timestamptz NOT NULL DEFAULT now(), "
        "applied_steps_count integer NOT NULL DEFAULT 0)",
        "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, "
        "rolled_back_at, started_at) VALUES "
        "('a', 'x', now(), '20240101120000_init', NULL, now() - interval '3 days'), "
        "('b', 'x', NULL, '20240201000000_broken', now(), now() - interval '2 days'), "
        "('c', 'x', now(), '20240301000000_widgets', NULL, now() - interval '1 day')",
    ],
    "alembic": [
        "CREATE TABLE alembic_version (version_num varchar(32) NOT NULL, "
        "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
        "INSERT INTO alembic_version VALUES ('bbb222')",
    ],
}
NEWEST_FIRST = {
    "rails": [
        ("20240301000000", "applied"),
        ("20240115120000", "applied"),
        ("20240101120000", "applied"),
    ],
    "golang-migrate": [("2", "applied")],
    "prisma": [
        ("20240301000000_widgets", "applied"),
        ("20240201000000_broken", "rolled back"),
        ("20240101120000_init", "applied"),
    ],
    "alembic": [("bbb222", "applied")],
}
DOWN = {
    # kind: (script files, params, applied afterwards)
    "rails": ({"20240301000000_create_widgets.sql": "DROP TABLE widgets;"}, {}, "20240115120000"),
    "golang-migrate": (
        {
            "000001_init.up.sql": "SELECT 1;",
            "000001_init.down.sql": "SELECT 1;",
            "000002_widgets.up.sql": "CREATE TABLE widgets (id int);",
            "000002_widgets.down.sql": "BEGIN;\nDROP TABLE widgets;\nCOMMIT;\n",
        },
        {},
        "1",
    ),
    "prisma": (
        {"20240301000000_widgets/down.sql": "DROP TABLE widgets;"},
        {},
        "20240101120000_init",
    ),
    "alembic": ({"bbb222_widgets.sql": "DROP TABLE widgets;"}, {"to": "aaa111"}, "aaa111"),
}


def make_migrations(server: PostgresServer, dbname: str, kind: str) -> None:
    with server.app(dbname) as conn:
        for statement in [*MIGRATION_TABLES[kind], "CREATE TABLE widgets (id int)"]:
            conn.execute(statement.encode())


def scratch_provider(server: PostgresServer, dbname: str, tmp_path: Path, **options: Any) -> Any:
    from providers.postgres import PostgresOptions, PostgresProvider

    values = {"dsn": server.dsn(dbname), "backup_dir": str(tmp_path / "backups"), **options}
    return PostgresProvider(PostgresOptions.model_validate(values))


@pytest.mark.parametrize("kind", list(MIGRATION_TABLES))
def test_each_migration_table_is_detected_newest_first(
    kind: str, scratch: tuple[PostgresServer, str], tmp_path: Path
) -> None:
    server, dbname = scratch
    make_migrations(server, dbname, kind)
    provider = scratch_provider(server, dbname, tmp_path)
    found = provider.migrations()
    assert [(t.kind, t.table) for t in found] == [(kind, MIGRATION_TABLES[kind][0].split()[2])]
    assert [(m.version, m.state) for m in found[0].migrations] == NEWEST_FIRST[kind]
    assert kind in provider.health()


def test_a_failed_prisma_migration_and_a_dirty_golang_one_say_so(
    scratch: tuple[PostgresServer, str], tmp_path: Path
) -> None:
    server, dbname = scratch
    make_migrations(server, dbname, "prisma")
    server.app_execute("UPDATE _prisma_migrations SET finished_at = NULL WHERE id = 'c'", dbname)
    provider = scratch_provider(server, dbname, tmp_path)
    table = provider.migrations()[0]
    assert table.migrations[0].state == "failed"
    assert [m.version for m in table.applied] == ["20240101120000_init"]


@pytest.mark.parametrize("kind", list(DOWN))
def test_migrate_down_keeps_each_tools_books(
    kind: str, scratch: tuple[PostgresServer, str], tmp_path: Path
) -> None:
    server, dbname = scratch
    make_migrations(server, dbname, kind)
    files, params, after = DOWN[kind]
    scripts = tmp_path / "down"
    for name, text in files.items():
        (scripts / name).parent.mkdir(parents=True, exist_ok=True)
        (scripts / name).write_text(text)
    provider = scratch_provider(server, dbname, tmp_path, rollback_scripts=str(scripts))
    plan = provider.preflight("migrate_down", params)
    assert plan.destructive and plan.target == dbname
    report = Report()
    executed = provider.execute(plan, report)
    verified = provider.verify(plan, executed, report)
    assert verified.ok, verified.summary
    assert server.scalar("SELECT to_regclass('widgets')::text", dbname) is None
    assert provider.migrations()[0].applied[0].version == after


# Integrity snapshots.


def test_estimated_counts_come_from_the_statistics_and_exact_ones_count(shop: Shop) -> None:
    shop.execute(
        "INSERT INTO orders (customer_id, total_cents) SELECT 1, 1 FROM generate_series(1, 300)"
    )
    provider = shop.provider(tables=["orders", "customers", "no_such_table"])
    estimated, exact = provider.snapshot(), provider.snapshot(exact=True)
    assert estimated.tables == {"orders": 200, "customers": 50, "no_such_table": None}
    assert exact.tables == {"orders": 500, "customers": 50, "no_such_table": None}
    assert estimated.describe() == "2 tables, ~250 rows"
    assert exact.describe() == "2 tables, 550 rows"
    shop.execute("ANALYZE orders")
    assert provider.snapshot().tables["orders"] == 500
    assert shop.provider(exact_counts=True).snapshot().exact


def test_a_snapshot_of_twenty_tables(shop: Shop) -> None:
    names = [f"t{i:02d}" for i in range(1, 21)]
    for i, name in enumerate(names, 1):
        shop.execute(f"CREATE TABLE {name} AS SELECT g AS id FROM generate_series(1, {i * 100}) g")
    shop.execute("ANALYZE")
    provider = shop.provider(tables=names)
    started = time.perf_counter()
    estimated = provider.snapshot()
    took = time.perf_counter() - started
    exact = provider.snapshot(exact=True)
    assert estimated.tables == exact.tables == {n: i * 100 for i, n in enumerate(names, 1)}
    assert estimated.checks == {"customers_without_email": 0, "orders_without_customer": 0}
    assert took < 1.0, f"an estimated 20-table snapshot took {took:.2f} s"
    everything = shop.provider().snapshot()
    assert set(everything.tables) == {*names, "customers", "orders", "schema_migrations"}


def test_a_slow_check_is_cancelled_by_the_statement_timeout(shop: Shop) -> None:
    slow = {"slow": "SELECT count(*) FROM (SELECT pg_sleep(5)) AS s"}
    provider = shop.provider(checks=slow, statement_timeout_ms=300)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match=r"check 'slow'.*300 ms.*statement_timeout_ms"):
        provider.snapshot()
    assert time.monotonic() - started < 3
    with pytest.raises(ProviderTimeout, match="slow"):
        provider.preflight("backup", {})
    still = shop.server.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s",
        "postgres",
        ("%pg_sleep(5)%",),
    )
    assert still == 0  # the server stopped the check's query, not just the client


def test_a_check_that_writes_is_refused_by_the_read_only_transaction(shop: Shop) -> None:
    sneaky = {"sneaky": "WITH gone AS (DELETE FROM orders RETURNING 1) SELECT count(*) FROM gone"}
    with pytest.raises(ProviderError, match="read-only transaction"):
        shop.provider(checks=sneaky).snapshot()
    assert shop.count("orders") == 200


# Backups.


def test_a_backup_is_counted_in_its_own_snapshot_and_verified_by_a_scratch_restore(
    shop: Shop, postgres: PostgresServer
) -> None:
    provider = shop.provider()
    plan = provider.preflight("backup", {})
    assert not plan.destructive and plan.undo is None
    stop = threading.Event()

    def writer() -> None:  # production keeps writing while the dump runs
        with shop.server.app(shop.dbname) as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO orders (customer_id, total_cents) VALUES (1, 1)")
                time.sleep(0.002)

    thread = threading.Thread(target=writer)
    thread.start()
    report = Report()
    try:
        executed = provider.execute(plan, report)
    finally:
        stop.set()
        thread.join()
    verified = provider.verify(plan, executed, report)
    assert verified.ok, verified.summary
    path = Path(executed.data["path"])
    assert path.parent == shop.backups and path.stat().st_mode & 0o777 == 0o600
    assert executed.data["sha256"] == sha256(path)
    assert executed.data["size"] == path.stat().st_size
    dumped = executed.data["snapshot"]["tables"]["orders"]
    assert 200 <= dumped <= shop.count("orders")
    assert any(line.startswith("scratch restore of") for line in report.transcript)
    assert any(line.endswith("dropped") for line in report.transcript)
    assert scratch_databases(postgres) == []
    # The archive really holds what was counted.
    again = unique("check_")
    postgres.create_database(again)
    try:
        subprocess.run(
            [str(postgres.bin / "pg_restore"), "-d", postgres.dsn(again, password=""), str(path)],
            env={"PGPASSWORD": postgres.password, "PATH": "/usr/bin:/bin"},
            check=True,
            timeout=60,
            capture_output=True,
        )
        assert postgres.count("orders", again) == dumped
    finally:
        postgres.drop_database(again)


def test_a_backup_that_restores_to_other_counts_does_not_verify(
    shop: Shop, postgres: PostgresServer
) -> None:
    provider = shop.provider()
    path = shop.backups / "by-hand.dump"
    shop.pg_dump(path)
    claimed = provider.snapshot(exact=True)
    claimed.tables["orders"] = 999
    with pytest.raises(ProviderError, match=r"does not verify.*orders: 999 → 200"):
        provider.tools.verify(provider.db, path, tables=None, checks={}, expected=claimed)
    assert scratch_databases(postgres) == []


# Restores.


def test_a_restore_is_refused_without_the_typed_name_and_changes_nothing(
    damaged_shop: Shop, timeline: Timeline
) -> None:
    provider = damaged_shop.provider()
    plan = provider.preflight("restore_backup", {"backup": "before-deploy.dump"})
    assert plan.destructive and plan.target == damaged_shop.dbname
    with pytest.raises(ConfirmationRefused):
        action_runner.run(provider, plan, None, recorder(timeline), Report())
    with pytest.raises(ConfirmationRefused):
        action_runner.run(provider, plan, "shop", recorder(timeline), Report())
    assert damaged_shop.count("orders") == 120
    assert sorted(p.name for p in damaged_shop.backups.iterdir()) == ["before-deploy.dump"]
    assert [e[0] for e in recorded(timeline)][-1] == "plan.refused"


@pytest.mark.parametrize(
    ("damage", "refusal"),
    [
        ("truncated", r"not a readable pg_dump archive: .*end of file"),
        ("truncated-data", r"truncated-data.dump does not verify: scratch restore .*end of file"),
        ("garbage", r"not a readable pg_dump archive"),
        ("missing", r"no backup file at .*missing\.dump; in .*before-deploy\.dump"),
    ],
)
def test_a_restore_is_refused_when_the_backup_does_not_verify(
    damaged_shop: Shop, postgres: PostgresServer, damage: str, refusal: str
) -> None:
    good = damaged_shop.good
    bad = damaged_shop.backups / f"{damage}.dump"
    if damage == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "truncated-data":  # the table of contents is whole: --list passes
        bad.write_bytes(good.read_bytes()[:-200])
    elif damage == "garbage":
        bad.write_bytes(b"PGDMP" + b"\x00" * 100)
    provider = damaged_shop.provider()
    with pytest.raises(ProviderError, match=refusal):
        provider.preflight("restore_backup", {"backup": bad.name})
    assert damaged_shop.count("orders") == 120
    assert scratch_databases(postgres) == []


def test_a_restore_puts_the_backup_back_compares_and_is_undone(
    damaged_shop: Shop, timeline: Timeline
) -> None:
    shop = damaged_shop
    provider = shop.provider()
    plan = provider.preflight("restore_backup", {"backup": "before-deploy.dump"})
    assert plan.changes[0].startswith(f"☐ Stop all writes to {shop.dbname} first")
    assert f"typing {shop.dbname} states that writes ARE stopped" in plan.changes[0]
    assert any("IMMEDIATELY stop all write operations" in w for w in plan.warnings)
    assert (
        f"database {shop.dbname}: restore from before-deploy.dump (3 tables, 253 rows) over the "
        "current state (3 tables, ~253 rows)" in plan.changes
    )
    assert "  check customers_without_email: 3 → 0" in plan.changes
    assert any(c.method == "pg_restore" and "--clean --if-exists" in c.url for c in plan.calls)
    assert "pg_restore --clean --if-exists --single-transaction" in plan.cli
    emergency = Path(plan.undo["params"]["backup"]) if plan.undo else None
    assert emergency is not None and emergency.name.startswith("emergency-")
    report = Report()
    executed = provider.execute(plan, report)
    assert executed.data["before"]["tables"]["orders"] == 120
    assert executed.data["after"]["tables"]["orders"] == 200
    assert "orders: 120 → 200 rows" in executed.data["changed"]
    assert "check customers_without_email: 3 → 0" in executed.data["changed"]
    verified = provider.verify(plan, executed, report)
    assert verified.ok and "orders: 120 → 200 rows" in verified.summary, verified.summary
    assert shop.count("orders") == 200 and emergency.stat().st_mode & 0o777 == 0o600
    assert executed.data["emergency"]["sha256"] == sha256(emergency)
    # The undo: the emergency backup, restored the same way (typed name, runner, recorded).
    undo = provider.preflight(plan.undo["action"], plan.undo["params"])  # type: ignore[index]
    result = action_runner.run(provider, undo, shop.dbname, recorder(timeline), Report())
    assert result.outcome == "succeeded", result.summary
    assert shop.count("orders") == 120
    assert shop.scalar("SELECT count(*) FROM customers WHERE email IS NULL") == 3


def test_a_backup_made_by_the_cockpit_is_restored_against_its_own_counts(shop: Shop) -> None:
    narrow = shop.provider(tables=["orders"], checks={})
    made = narrow.execute(narrow.preflight("backup", {}), Report())
    path = Path(made.data["path"])
    assert json.loads(Path(f"{path}.json").read_text())["snapshot"]["tables"] == {"orders": 200}
    shop.execute("DELETE FROM orders WHERE id > 50")
    provider = shop.provider()  # every table and both checks now: the record still applies
    plan = provider.preflight("restore_backup", {"backup": path.name})
    assert any(line.startswith(f"{path.name}: made by the cockpit at") for line in plan.changes)
    executed = provider.execute(plan, Report())
    assert provider.verify(plan, executed, Report()).ok
    assert shop.count("orders") == 200
    # A record that no longer matches what the file restores to is a refusal.
    record = Path(f"{path}.json")
    data = json.loads(record.read_text())
    data["snapshot"]["tables"]["orders"] = 201
    record.write_text(json.dumps(data))
    with pytest.raises(ProviderError, match=r"does not verify.*orders: 201 → 200 rows"):
        provider.preflight("restore_backup", {"backup": path.name})


def test_a_restore_blocked_by_a_lock_gives_up_and_leaves_the_database_as_it_was(
    damaged_shop: Shop, timeline: Timeline
) -> None:
    provider = damaged_shop.provider(lock_timeout_ms=500)
    plan = provider.preflight("restore_backup", {"backup": "before-deploy.dump"})
    with damaged_shop.server.app(damaged_shop.dbname) as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE orders IN ACCESS SHARE MODE")  # a long read, say
        result = action_runner.run(
            provider, plan, damaged_shop.dbname, recorder(timeline), Report()
        )
        holder.execute("ROLLBACK")
    assert result.outcome == "failed"
    assert "waited over 500 ms for a lock (lock_timeout_ms) held by pid" in result.summary
    assert "is as it was" in result.summary
    assert damaged_shop.count("orders") == 120
    assert damaged_shop.scalar("SELECT count(*) FROM customers WHERE email IS NULL") == 3
    assert timeline.unresolved_actions(timeline.incidents()[0].id) == []


def test_stop_and_resume_writes_run_when_configured(damaged_shop: Shop, tmp_path: Path) -> None:
    shop = damaged_shop
    seen = tmp_path / "stopped.txt"
    read_only = f"ALTER DATABASE {shop.dbname} SET default_transaction_read_only = on"
    provider = shop.provider(
        stop_writes_sql=read_only,
        stop_writes_command=["sh", "-c", f'echo "stopped ${{PGPASSWORD:-no password}}" > {seen}'],
        resume_writes_sql=f"ALTER DATABASE {shop.dbname} RESET default_transaction_read_only",
    )
    plan = provider.preflight("restore_backup", {"backup": "before-deploy.dump"})
    assert plan.calls[0].line() == f"sql {read_only}"
    assert plan.calls[1].method == "run" and plan.calls[-1].method == "sql"
    assert "the configured stop-writes step runs before anything else" in plan.changes[0]
    report = Report()
    executed = provider.execute(plan, report)
    assert seen.read_text() == "stopped no password\n"
    assert f"stop writes: {read_only}" in report.transcript
    assert provider.verify(plan, executed, report).ok
    shop.execute("INSERT INTO customers (email, name) VALUES ('new@example.com', 'New')")
    assert shop.count("customers") == 51


def test_the_procedures_database_must_be_the_configured_one(damaged_shop: Shop) -> None:
    with pytest.raises(ProviderError, match="names database ai_saas"):
        damaged_shop.provider().preflight(
            "restore_backup", {"database": "ai_saas", "backup": "before-deploy.dump"}
        )


def test_backups_and_versions_are_offered_as_choices(damaged_shop: Shop) -> None:
    provider = damaged_shop.provider()
    offered = provider.choices("restore_backup", "backup_file", {})
    assert [Path(value).name for value, _ in offered] == ["before-deploy.dump"]
    versions = provider.choices("migrate_down", "to", {})
    assert [value for value, _ in versions] == ["20240115120000", "20240101120000"]


# Down migrations.


def test_migrate_down_runs_the_script_records_it_and_is_undone(
    shop: Shop, timeline: Timeline
) -> None:
    provider = shop.provider()
    plan = provider.preflight("migrate_down", {"rollback_scripts": "sql-scripts/rollback/"})
    script = shop.scripts / "20240201090000_add_orders_status.sql"
    assert [c.line() for c in plan.calls][1:4] == [
        "sql BEGIN",
        f"sql \\i {script}",
        'sql DELETE FROM "public"."schema_migrations" WHERE version::text = \'20240201090000\'',
    ]
    assert plan.destructive and plan.target == shop.dbname and plan.undo is not None
    result = action_runner.run(provider, plan, shop.dbname, recorder(timeline), Report())
    assert result.outcome == "succeeded", result.summary
    assert "status" not in shop.columns("orders")
    assert shop.versions() == ["20240115120000", "20240101120000"]
    events = recorded(timeline)
    intent = next(e for e in events if e[0] == "action.intent")
    outcome = next(e for e in events if e[0] == "action.result")
    assert intent[3] == plan.cli and f"-f {script}" in plan.cli
    assert outcome[2]["outcome"] == "succeeded" and outcome[2]["undo"] == plan.undo
    assert any(line == f"\\i {script}" for line in result.transcript)
    undo = provider.preflight(plan.undo["action"], plan.undo["params"])
    result = action_runner.run(provider, undo, shop.dbname, recorder(timeline), Report())
    assert result.outcome == "succeeded", result.summary
    assert "status" in shop.columns("orders") and len(shop.versions()) == 3


def test_migrate_down_to_a_version_undoes_everything_after_it(shop: Shop) -> None:
    plan = shop.provider().preflight("migrate_down", {"to": "20240101120000"})
    assert [s["version"] for s in plan.data["steps"]] == ["20240201090000", "20240115120000"]
    executed = shop.provider().execute(plan, Report())
    assert shop.versions() == ["20240101120000"]
    assert shop.scalar("SELECT to_regclass('orders')::text") is None
    assert executed.data["changed"] == [
        "orders: 200 rows → absent",
        "schema_migrations: 3 → 1 rows",
        "check orders_without_customer: 0 → n/a (cannot run)",
    ]
    assert shop.provider().verify(plan, executed, Report()).ok


def test_a_failing_down_script_changes_nothing(shop: Shop, timeline: Timeline) -> None:
    script = shop.scripts / "20240201090000_add_orders_status.sql"
    script.write_text("ALTER TABLE orders DROP COLUMN status;\nSELECT 1 / 0;\n")
    provider = shop.provider()
    plan = provider.preflight("migrate_down", {})
    result = action_runner.run(provider, plan, shop.dbname, recorder(timeline), Report())
    assert result.outcome == "failed"
    assert "division by zero" in result.summary and "nothing changed" in result.summary
    assert "status" in shop.columns("orders") and len(shop.versions()) == 3


def test_a_cancelled_down_migration_is_rolled_back_by_the_server(
    shop: Shop, timeline: Timeline
) -> None:
    script = shop.scripts / "20240201090000_add_orders_status.sql"
    script.write_text("ALTER TABLE orders DROP COLUMN status;\nSELECT pg_sleep(20);\n")
    provider = shop.provider()
    plan = provider.preflight("migrate_down", {})
    assert plan.cancellable
    report = Report()
    threading.Timer(1.5, report.cancel).start()
    started = time.monotonic()
    result = action_runner.run(provider, plan, shop.dbname, recorder(timeline), report)
    assert result.outcome == "cancelled", result.summary
    assert time.monotonic() - started < 8
    assert "status" in shop.columns("orders") and len(shop.versions()) == 3
    busy = shop.server.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
        "postgres",
        ("%pg_sleep(20)%",),
    )
    assert busy == 0


def test_a_down_script_that_commits_by_itself_is_refused(shop: Shop) -> None:
    script = shop.scripts / "20240201090000_add_orders_status.sql"
    script.write_text("ALTER TABLE orders DROP COLUMN status;\nCOMMIT;\nSELECT 1;\n")
    with pytest.raises(ProviderError, match="controls transactions itself"):
        shop.provider().preflight("migrate_down", {})
    assert "status" in shop.columns("orders")


def test_migrate_down_without_a_script_is_refused(shop: Shop) -> None:
    (shop.scripts / "20240201090000_add_orders_status.sql").unlink()
    with pytest.raises(ProviderError, match="no down script for 20240201090000"):
        shop.provider().preflight("migrate_down", {})


# The password.


def test_the_password_is_never_in_a_command_line_a_plan_a_record_or_an_error(
    damaged_shop: Shop, timeline: Timeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = damaged_shop
    secret = shop.server.password
    started: list[tuple[list[str], dict[str, str]]] = []
    real = subprocess.Popen

    def spy(argv: list[str], **kwargs: Any) -> Any:
        started.append((list(argv), dict(kwargs.get("env") or {})))
        return real(argv, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", spy)  # as providers.subprocesses starts them
    provider = shop.provider()
    texts: list[str] = [repr(provider.options), provider.health()]
    for action, params in [
        ("backup", {}),
        ("restore_backup", {"backup": "before-deploy.dump"}),
        ("migrate_down", {}),
    ]:
        plan = provider.preflight(action, params)
        texts.append(json.dumps(plan.as_payload()))
        result = action_runner.run(provider, plan, shop.dbname, recorder(timeline), Report())
        assert result.outcome == "succeeded", result.summary
        texts += [result.summary, *result.transcript]
    texts.append(json.dumps(recorded(timeline), default=str))
    for path in shop.backups.iterdir():
        texts.append(path.read_bytes().decode("latin-1"))
    wrong = shop.provider(dsn=shop.server.dsn(shop.dbname, password="pw-wrong-Zq9"))
    with pytest.raises(ProviderUnavailable, match="password authentication failed") as refused:
        wrong.health()
    texts.append(str(refused.value))
    assert "pw-wrong-Zq9" not in str(refused.value)
    tools = [(argv, env) for argv, env in started if Path(argv[0]).name.startswith("pg_")]
    assert {Path(argv[0]).name for argv, _ in tools} >= {"pg_dump", "pg_restore"}
    assert all(env.get("PGPASSWORD") == secret for _, env in tools)
    texts += [" ".join(argv) for argv, _ in started]
    assert not [text[:200] for text in texts if secret in text]


def test_a_dsn_that_does_not_parse_is_refused_without_quoting_it() -> None:
    from pydantic import ValidationError

    from providers.postgres import PostgresOptions

    with pytest.raises(ValidationError) as refused:
        PostgresOptions.model_validate({"dsn": "host=h password=Sekr1t-x dbname"})
    assert "Sekr1t-x" not in str(refused.value)
    with pytest.raises(ValidationError, match="no database named"):
        PostgresOptions.model_validate({"host": "db.internal"})


def test_a_connection_that_fails_is_a_clear_error(tmp_path: Path) -> None:
    from providers.postgres import PostgresOptions, PostgresProvider

    port = postgres_server.free_port()
    options = PostgresOptions.model_validate(
        {"dsn": f"postgresql://u:p-Secret-1@127.0.0.1:{port}/shop", "timeout_seconds": 5}
    )
    with pytest.raises(ProviderUnavailable, match=rf"cannot connect to u@127.0.0.1:{port}/shop"):
        PostgresProvider(options).health()
