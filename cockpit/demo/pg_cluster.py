"""A private, real PostgreSQL cluster: a drill's database, and the postgres tests' and bench's.

Each `PostgresServer` is a throwaway cluster in its own temp dir, on a free port on 127.0.0.1
and a unix socket in that dir. initdb and pg_ctl refuse to run as root, so as root they run as
the `postgres` user (runuser) on a dir it owns; otherwise as whoever runs it. initdb uses
--no-sync and the server fsync=off: nothing here needs to survive a crash, and startup is ~1.5 s.
Autovacuum is off, so estimated row counts move only when ANALYZE runs.

Authentication is what a real deployment has: the unix socket trusts the superuser `postgres`
(the helper's own admin connection), TCP wants a password (scram-sha-256). The provider
connects over TCP as `cockpit`, who owns the application's database and may create databases
(its scratch restores), with a random password per cluster.

`seed_shop()` builds the database the runbooks talk about: customers, orders (a foreign key to
customers), and a Rails-style `schema_migrations` with three versions whose down scripts are in
`rollback/` beside it (the seeds' `sql-scripts/rollback/<migration>.sql`).

Teardown is `pg_ctl stop -m immediate` and removing the dir. Every subprocess has a timeout.
Needs Debian's server binaries (`missing()` says why not); nothing here installs them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql

from cockpit.demo.reaper import Reaper, stop_postgres

ROOT = Path(__file__).resolve().parent.parent
APP_USER = "cockpit"
VERSIONS = {
    "20240101120000": "create_customers",
    "20240115120000": "create_orders",
    "20240201090000": "add_orders_status",
}
"""The shop's migrations, oldest first: version → name (the down script is <version>_<name>.sql)."""
DOWN_SCRIPTS = {
    "20240101120000": "DROP TABLE customers;\n",
    "20240115120000": "DROP TABLE orders;\n",
    "20240201090000": (
        "-- reverse of add_orders_status\n"
        "DROP INDEX IF EXISTS orders_status_idx;\n"
        "ALTER TABLE orders DROP COLUMN status;\n"
    ),
}
SHOP_SCHEMA = """
CREATE TABLE schema_migrations (version varchar(255) PRIMARY KEY);
CREATE TABLE customers (
    id bigserial PRIMARY KEY,
    email text,
    name text NOT NULL
);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    total_cents integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';
CREATE INDEX orders_status_idx ON orders (status);
"""


def bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<n>/bin that has initdb, pg_ctl and pg_dump."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    needed = ("initdb", "pg_ctl", "postgres", "pg_dump", "pg_restore")
    return next((path for path in found if all((path / n).exists() for n in needed)), None)


def missing() -> str | None:
    """Why a cluster cannot be started here, or None."""
    if bin_dir() is None:
        return (
            "needs PostgreSQL server binaries in /usr/lib/postgresql/<n>/bin (Debian package "
            "`postgresql`; `make test` as root installs it via scripts/services.sh)"
        )
    if os.geteuid() == 0 and not _has_user("postgres"):
        return "running as root needs the `postgres` user (created by Debian's postgresql)"
    return None


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def free_port() -> int:
    """A port the kernel just handed out; start() retries if someone takes it meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One throwaway cluster; enter to start it, exit to stop it and remove its dir."""

    def __init__(self) -> None:
        found = bin_dir()
        if found is None:
            raise RuntimeError(missing() or "no PostgreSQL")
        self.bin = found
        self.dir = Path(tempfile.mkdtemp(prefix="pg-"))
        self.data = self.dir / "data"
        self.port = 0
        self.password = "pw-" + secrets.token_urlsafe(18)
        """The `cockpit` role's password: random, so a leak is easy to look for."""
        self.rollback_dir = self.dir / "rollback"
        self.timings: dict[str, float] = {}
        self.running = False
        self.reaper: Reaper | None = None
        """Stops the cluster and removes its folder if this process is killed outright."""

    # Lifecycle.

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        started = time.monotonic()
        self.reaper = Reaper(stop_postgres(self.data, self.dir))
        as_root = os.geteuid() == 0
        if as_root:
            self._chown(self.dir)
        self._as_owner(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "--no-instructions",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            timeout=120,
        )
        self.timings["initdb"] = time.monotonic() - started
        for attempt in range(5):
            self.port = free_port()
            done = self._pg_ctl_start()
            if done.returncode == 0:
                break
            if attempt == 4:
                raise RuntimeError(f"pg_ctl start failed: {done.stderr or done.stdout}{self.log()}")
        self.running = True
        self.timings["ready"] = time.monotonic() - started
        self.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                sql.Identifier(APP_USER), sql.Literal(self.password)
            )
        )

    def _pg_ctl_start(self) -> subprocess.CompletedProcess[str]:
        """`pg_ctl start` on the data dir and `self.port`, waiting until it accepts."""
        settings = (
            f"-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off "
            "-c max_connections=40 -c shared_buffers=64MB -c wal_level=minimal "
            "-c max_wal_senders=0 -c autovacuum=off"
        )
        return self._as_owner(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                settings,
                "-l",
                str(self.dir / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            timeout=90,
            check=False,
        )

    def halt(self) -> None:
        """Kill the server as a crash would (`pg_ctl stop -m immediate`: every session cut, no
        checkpoint), keeping its data dir and port for `resume()`. As in a real crash with this
        cluster's ``synchronous_commit=off``, the last commits may be lost: a test that needs
        every acknowledged commit kept sets ``synchronous_commit`` on for its database."""
        if self.running:
            self._as_owner(
                [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                timeout=60,
            )
            self.running = False

    def resume(self) -> None:
        """Start a halted server again on the same data dir and port (it runs crash recovery
        first); returns once it accepts connections."""
        if self.running:
            return
        done = self._pg_ctl_start()
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr or done.stdout}{self.log()}")
        self.running = True

    def stop(self) -> None:
        started = time.monotonic()
        if self.reaper is not None:
            self.reaper.cancel()
            self.reaper = None
        if self.running:
            self._as_owner(
                [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                timeout=60,
                check=False,
            )
            self.running = False
        shutil.rmtree(self.dir, ignore_errors=True)
        self.timings["stop"] = time.monotonic() - started

    def log(self) -> str:
        try:
            return "\n" + (self.dir / "server.log").read_text()[-2000:]
        except OSError:
            return ""

    # Connections.

    def admin(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """The superuser over the unix socket (trusted), autocommit."""
        return psycopg.connect(
            host=str(self.dir),
            port=self.port,
            user="postgres",
            dbname=dbname,
            autocommit=True,
            connect_timeout=10,
        )

    def dsn(self, dbname: str = "shop", password: str | None = None) -> str:
        """The provider's URL: `cockpit` over TCP, with the password in it ("" leaves it out)."""
        secret = self.password if password is None else password
        user = f"{APP_USER}:{secret}" if secret else APP_USER
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def execute(self, statement: Any, dbname: str = "postgres", params: Any = None) -> None:
        with self.admin(dbname) as conn:
            conn.execute(statement, params)

    def query(self, statement: Any, dbname: str = "postgres", params: Any = None) -> list[Any]:
        with self.admin(dbname) as conn:
            return list(conn.execute(statement, params).fetchall())

    def scalar(self, statement: Any, dbname: str = "postgres", params: Any = None) -> Any:
        rows = self.query(statement, dbname, params)
        return rows[0][0] if rows else None

    def databases(self) -> list[str]:
        return [
            row[0] for row in self.query("SELECT datname FROM pg_database WHERE NOT datistemplate")
        ]

    def create_database(self, name: str, *, template: str | None = None) -> None:
        statement = sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(APP_USER)
        )
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        self.execute(statement)
        # The app role owns public too, as a database's owner does in production.
        self.execute(
            sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(APP_USER)), name
        )

    def drop_database(self, name: str) -> None:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        self.execute(drop.format(sql.Identifier(name)))

    def app(self, dbname: str = "shop") -> psycopg.Connection[Any]:
        """The app role over TCP with its password, autocommit: what production writes with."""
        return psycopg.connect(self.dsn(dbname), autocommit=True, connect_timeout=10)

    def app_execute(self, statement: Any, dbname: str = "shop", params: Any = None) -> None:
        with self.app(dbname) as conn:
            conn.execute(statement, params)

    def count(self, table: str, dbname: str = "shop") -> int:
        return int(
            self.scalar(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)), dbname)
        )

    # The shop.

    def seed_shop(self, name: str = "shop", customers: int = 50, orders: int = 200) -> None:
        """customers, orders (FK), schema_migrations with 3 versions, down scripts in rollback/.

        Every customer has an email except none; every order's customer exists. ANALYZE runs, so
        estimated counts start out equal to the real ones.
        """
        self.create_database(name)
        with self.app(name) as conn:
            conn.execute(SHOP_SCHEMA)
            conn.execute(
                "INSERT INTO customers (email, name) "
                "SELECT 'c' || i || '@example.com', 'Customer ' || i "
                "FROM generate_series(1, %s) AS i",
                (customers,),
            )
            conn.execute(
                "INSERT INTO orders (customer_id, total_cents) "
                "SELECT 1 + (i %% %s), 100 * i FROM generate_series(1, %s) AS i",
                (customers, orders),
            )
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO schema_migrations (version) VALUES (%s)",
                    [(version,) for version in VERSIONS],
                )
            conn.execute("ANALYZE")
        self.rollback_dir.mkdir(exist_ok=True)
        for version, down in DOWN_SCRIPTS.items():
            (self.rollback_dir / f"{version}_{VERSIONS[version]}.sql").write_text(down)

    def dump(self, dbname: str, path: Path) -> None:
        """pg_dump -Fc of `dbname` as the application (the password in PGPASSWORD only)."""
        subprocess.run(
            [str(self.bin / "pg_dump"), "-Fc", "-f", str(path), "-d", self.dsn(dbname, "")],
            env={**os.environ, "PGPASSWORD": self.password},
            check=True,
            timeout=120,
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )

    # Running the cluster's own tools.

    def _as_owner(
        self, argv: list[str], *, timeout: float, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a server tool as the cluster's owner: `postgres` when we are root."""
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"{argv[0]} took over {timeout:g} s{self.log()}") from error
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr or done.stdout}")
        return done

    def _chown(self, path: Path) -> None:
        import pwd

        owner = pwd.getpwnam("postgres")
        os.chown(path, owner.pw_uid, owner.pw_gid)
