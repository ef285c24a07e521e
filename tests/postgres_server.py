"""A private, real PostgreSQL (Debian's 15) for the postgres provider's tests and benchmark.

Each `PostgresServer` is a throwaway cluster in its own temp dir, on a free port on 127.0.0.1
and a unix socket in that dir. initdb and pg_ctl refuse to run as root, so as root they run as
the `postgres` user (runuser) on a dir it owns; otherwise as whoever runs the tests. initdb uses
--no-sync and the server fsync=off: nothing here needs to survive a crash, and startup is ~1.5 s.
Autovacuum is off, so estimated row counts move only when a test runs ANALYZE.

Authentication is what a real deployment has: the unix socket trusts the superuser `postgres`
(the helper's own admin connection), TCP wants a password (scram-sha-256). The provider under
test connects over TCP as `cockpit`, who owns the `shop` database and may create databases (its
scratch restores), with a random password per cluster, so a test can look for that password in
everything recorded.

`seed_shop()` builds the database the runbooks talk about: customers, orders (a foreign key to
customers), and a Rails-style `schema_migrations` with three versions whose down scripts are in
`rollback/` beside it (the seeds' `sql-scripts/rollback/<migration>.sql`).

Teardown is `pg_ctl stop -m immediate` and removing the dir. Every subprocess has a timeout.
`shared()` is one cluster for the whole test process (the contract case), stopped at exit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import system_packages

from cockpit.demo.pg_cluster import (  # noqa: F401 - the tests' names for them
    APP_USER,
    DOWN_SCRIPTS,
    SHOP_SCHEMA,
    VERSIONS,
    PostgresServer,
    bin_dir,
    free_port,
    missing,
)

ROOT = Path(__file__).resolve().parent.parent


def ensure() -> str | None:
    """`missing()`, after trying scripts/services.sh once when we are root; None when ready."""
    return system_packages.ensure(missing)


def shared() -> PostgresServer:
    """One PostgresServer for the whole test process, stopped when it exits; skips the calling test,
    with the reason, when PostgreSQL cannot be had here."""
    return system_packages.one_per_process(
        "postgres", missing, lambda: PostgresServer().__enter__()
    )


_names_lock = threading.Lock()
_names: list[int] = [0]


def unique(prefix: str) -> str:
    """A database name not used before in this process."""
    with _names_lock:
        _names[0] += 1
        return f"{prefix}{_names[0]}"


CHECKS = {
    "customers_without_email": "SELECT count(*) FROM customers WHERE email IS NULL",
    "orders_without_customer": (
        "SELECT count(*) FROM orders o LEFT JOIN customers c ON c.id = o.customer_id "
        "WHERE c.id IS NULL"
    ),
}
"""The seeds' integrity checks ("both queries should return 0 rows"), as counts."""


class Shop:
    """A seeded shop database of its own on a cluster, a backup folder and the down scripts.

    With `damaged`, a good backup `before-deploy.dump` is made by hand (pg_dump -Fc, as a
    runbook would: no cockpit record beside it), then the bad deploy deletes 80 of the 200 orders
    and blanks 3 customers' emails.
    """

    def __init__(self, server: PostgresServer | None = None, *, damaged: bool = False) -> None:
        self.given = server
        self.damaged = damaged

    def __enter__(self) -> Shop:
        self.server = self.given or shared()
        self.token = self.server.password
        self.dbname = unique("shop_")
        self.dir = Path(tempfile.mkdtemp(prefix="pg-shop-"))
        self.backups = self.dir / "backups"
        self.backups.mkdir(mode=0o700)
        self.scripts = self.dir / "rollback"
        self.server.seed_shop(self.dbname)
        shutil.copytree(self.server.rollback_dir, self.scripts)
        if self.damaged:
            self.good = self.backups / "before-deploy.dump"
            self.pg_dump(self.good)
            self.execute("DELETE FROM orders WHERE id > 120")
            self.execute("UPDATE customers SET email = NULL WHERE id <= 3")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.server.drop_database(self.dbname)
        shutil.rmtree(self.dir, ignore_errors=True)

    def pg_dump(self, path: Path) -> None:
        """pg_dump -Fc by hand (the password in PGPASSWORD)."""
        subprocess.run(
            [str(self.server.bin / "pg_dump"), "-Fc", "-f", str(path), "-d", self.url()],
            env={**os.environ, "PGPASSWORD": self.server.password},
            check=True,
            timeout=60,
            capture_output=True,
        )

    def url(self) -> str:
        return self.server.dsn(self.dbname, password="")

    def options(self, **overrides: Any) -> dict[str, Any]:
        return {
            "dsn": self.server.dsn(self.dbname),
            "backup_dir": str(self.backups),
            "rollback_scripts": str(self.scripts),
            "checks": CHECKS,
            "timeout_seconds": 60.0,
            **overrides,
        }

    def provider(self, **overrides: Any) -> Any:
        """A PostgresProvider on this shop (options overridden as given)."""
        from providers.postgres import PostgresOptions, PostgresProvider

        return PostgresProvider(PostgresOptions.model_validate(self.options(**overrides)))

    def execute(self, statement: Any, params: Any = None) -> None:
        self.server.app_execute(statement, self.dbname, params)

    def scalar(self, statement: Any, params: Any = None) -> Any:
        return self.server.scalar(statement, self.dbname, params)

    def count(self, table: str) -> int:
        return self.server.count(table, self.dbname)

    def columns(self, table: str) -> list[str]:
        rows = self.server.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
            self.dbname,
            (table,),
        )
        return [str(row[0]) for row in rows]

    def versions(self) -> list[str]:
        rows = self.server.query("SELECT version FROM schema_migrations", self.dbname)
        return sorted((str(row[0]) for row in rows), reverse=True)


def scratch_databases(server: PostgresServer) -> list[str]:
    return [name for name in server.databases() if name.startswith("cockpit_verify_")]


# Fixtures: a test module takes them as its own (`shop = postgres_server.shop`).


def _fixture(*args: Any, **kwargs: Any) -> Any:
    import pytest

    return pytest.fixture(*args, **kwargs)


@_fixture(scope="session")
def postgres() -> PostgresServer:
    """The test process's cluster (skips with the reason where PostgreSQL cannot run)."""
    return shared()


@_fixture
def server() -> PostgresServer:
    """The test process's cluster, as the timeline tests name it (`server =
    postgres_server.server`); skips with the reason where PostgreSQL cannot run."""
    return shared()


@contextlib.contextmanager
def fresh_database(server: PostgresServer, prefix: str, *, timeline: bool = False) -> Iterator[str]:
    """A new database on `server`, its URL without the password (the `cockpit` role's is
    `server.password`), dropped afterwards; `timeline`: with the timeline's schema made by its
    owner first."""
    name = unique(prefix)
    server.create_database(name)
    url = f"postgresql://{APP_USER}@127.0.0.1:{server.port}/{name}"
    try:
        if timeline:
            from cockpit.core.pg_timeline import PgTimeline

            PgTimeline(url, password=server.password).close()
        yield url
    finally:
        server.drop_database(name)


@_fixture
def shop(postgres: PostgresServer) -> Any:
    """A fresh seeded shop database, dropped afterwards."""
    with Shop(postgres) as made:
        yield made


@_fixture
def damaged_shop(postgres: PostgresServer) -> Any:
    """A shop with a good backup, then a bad deploy's damage."""
    with Shop(postgres, damaged=True) as made:
        yield made
