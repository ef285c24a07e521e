"""The PostgreSQL provider's benchmarks (issue 7): what a backup through the provider costs over
pg_dump alone, and how long an integrity snapshot of 20 tables takes.

A throwaway cluster (tests/postgres_server.py: fsync off, 127.0.0.1, password auth) gets a
database of 20 tables, ~200 MB on disk with their primary keys. Then, in the same run and
alternating so that caches and load treat both alike:

- pg_dump alone: `pg_dump --format=custom --lock-wait-timeout=… --file F` over TCP;
- the provider's dump step: the same pg_dump plus what the provider adds, an exported snapshot
  with exact row counts taken in it while pg_dump runs, the sha256 of the file and its record.

The backup action end to end (the dump step, then the restore into a scratch database that
verifies it, counted again, dropped) is measured once, for scale. The snapshot rows time
`PostgresProvider.snapshot()` over the 20 tables: estimated counts (the default, goal ≤ 1 s) and
exact count(*) for comparison.

Run alone with `.venv/bin/python scripts/bench_postgres.py`; scripts/bench.py can take `rows()`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

Row = tuple[str, str, str, str, bool]
from bench_cli import QUICK  # noqa: E402

TABLES = 2 if QUICK else 20
ROWS_PER_TABLE = 1_000 if QUICK else 54_000
"""20 × 54,000 rows of ~150 bytes, with primary keys: ~200 MB on disk."""
OVERHEAD_GOAL = 0.10
SNAPSHOT_GOAL_S = 1.0
RUNS = 1 if QUICK else 3
DBNAME = "bench"


def build(server: Any) -> int:
    """20 tables t01..t20 of ~10 MB each (payload text, primary key); the database's size."""
    server.create_database(DBNAME)
    with server.app(DBNAME) as conn:
        for i in range(1, TABLES + 1):
            conn.execute(
                f"CREATE TABLE t{i:02d} (id bigint PRIMARY KEY, n int NOT NULL, "
                "created_at timestamptz NOT NULL, payload text NOT NULL)"
            )
            conn.execute(
                f"INSERT INTO t{i:02d} SELECT g, g %% 1000, now() - g * interval '1 second', "
                "md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) "
                "FROM generate_series(1, %s) AS g",
                (ROWS_PER_TABLE,),
            )
        conn.execute("ANALYZE")
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def pg_dump_alone(server: Any, path: Path, lock_wait_ms: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            str(server.bin / "pg_dump"),
            "--format=custom",
            f"--lock-wait-timeout={lock_wait_ms}",
            "--file",
            str(path),
            "--dbname",
            server.dsn(DBNAME, password=""),
        ],
        env={**os.environ, "PGPASSWORD": server.password},
        check=True,
        capture_output=True,
        timeout=900,
    )
    return time.perf_counter() - started


def provider_dump(provider: Any, path: Path) -> tuple[float, Any]:
    started = time.perf_counter()
    archive = provider.tools.dump(
        provider.db,
        path,
        tables=provider.opts.tables,
        checks=provider.opts.checks,
        lock_wait_ms=provider.opts.lock_timeout_ms,
    )
    return time.perf_counter() - started, archive


def rows() -> list[Row]:
    """The benchmark rows (label, measured, baseline / detail, goal, met)."""
    import postgres_server

    reason = postgres_server.missing()
    if reason:
        return [("postgres benchmarks", "not run", reason, "PostgreSQL here", False)]
    from cockpit.core.actions import Report
    from providers.postgres import PostgresOptions, PostgresProvider

    with (
        postgres_server.PostgresServer() as server,
        tempfile.TemporaryDirectory(prefix="cockpit-bench-pg-") as folder,
    ):
        work = Path(folder)
        started = time.perf_counter()
        size = build(server)
        built = time.perf_counter() - started
        names = [f"t{i:02d}" for i in range(1, TABLES + 1)]
        options = PostgresOptions.model_validate(
            {
                "dsn": server.dsn(DBNAME),
                "backup_dir": str(work / "backups"),
                "tables": names,
                "timeout_seconds": 900,
            }
        )
        provider = PostgresProvider(options)
        alone: list[float] = []
        through: list[float] = []
        archive = None
        for run in range(RUNS):  # alternate, so both see the same caches and load
            plain = work / f"plain-{run}.dump"
            alone.append(pg_dump_alone(server, plain, options.lock_timeout_ms))
            took, archive = provider_dump(provider, work / "backups" / f"provider-{run}.dump")
            through.append(took)
            plain_size = plain.stat().st_size
            plain.unlink()
        base, ours = statistics.median(alone), statistics.median(through)
        overhead = ours / base - 1
        assert archive is not None
        plan = provider.preflight("backup", {})
        report = Report()
        started = time.perf_counter()
        executed = provider.execute(plan, report)
        verified = provider.verify(plan, executed, report)
        end_to_end = time.perf_counter() - started
        left = postgres_server.scratch_databases(server)

        estimated_times, exact_times = [], []
        for _ in range(5):
            started = time.perf_counter()
            estimated = provider.snapshot()
            estimated_times.append(time.perf_counter() - started)
        for _ in range(RUNS):
            started = time.perf_counter()
            exact = provider.snapshot(exact=True)
            exact_times.append(time.perf_counter() - started)
        estimate, count = statistics.median(estimated_times), statistics.median(exact_times)

    mb = size / 1e6
    return [
        (
            f"postgres backup of {mb:.0f} MB: provider dump step vs pg_dump alone",
            f"median {ours:.2f} s (+{overhead * 100:.1f} %)",
            f"pg_dump alone median {base:.2f} s; {RUNS} runs each, alternating; archive "
            f"{plain_size / 1e6:.1f} MB; in-snapshot counts {archive.snapshot.describe()}",
            f"≤ +{OVERHEAD_GOAL * 100:.0f} %",
            overhead <= OVERHEAD_GOAL,
        ),
        (
            f"postgres backup action end to end ({mb:.0f} MB, scratch-restore verification)",
            f"{end_to_end:.2f} s ({end_to_end / base:.1f}× pg_dump alone)",
            f"dump step, then restore into a scratch database, exact counts there, drop; "
            f"scratch databases left: {', '.join(left) or 'none'}; database built in {built:.0f} s",
            "verified, scratch database dropped",
            verified.ok and not left,
        ),
        (
            "postgres integrity snapshot, 20 tables, estimated counts",
            f"median {estimate * 1000:.0f} ms",
            f"{estimated.describe()}; 5 runs (one connection, read-only, each)",
            f"≤ {SNAPSHOT_GOAL_S:g} s",
            estimate <= SNAPSHOT_GOAL_S,
        ),
        (
            "postgres integrity snapshot, 20 tables, exact count(*)",
            f"median {count * 1000:.0f} ms",
            f"{exact.describe()}; {count / estimate:.0f}× the estimate; {RUNS} runs",
            "for comparison (exact_counts = true)",
            True,
        ),
    ]


def main() -> int:
    found = rows()
    for label, measured, detail, goal, met in found:
        print(f"{label}\n  {measured} | {detail} | goal {goal} | {'met' if met else 'NOT MET'}")
    return 0 if all(row[4] for row in found) else 1


if __name__ == "__main__":
    sys.exit(main())
