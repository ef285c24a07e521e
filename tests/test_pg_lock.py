"""Per-target action locks on PostgreSQL (cockpit.core.pg_lock) against a real PostgreSQL 15.

The holder is a real second process (as a responder on another jump host would be); the
server's own release is tested by terminating the holder's backend, as a dead host or a
failover would end it. Skipped, with the reason, where the PostgreSQL server binaries are
missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import postgres_server
import pytest

from cockpit.core.errors import LockHeld, LockLost
from cockpit.core.pg_connect import PgTarget
from cockpit.core.pg_lock import WATCH_PERIOD, PgTargetLock, lock_key
from cockpit.core.pg_schema import APPEND_LOCK, MIGRATE_LOCK

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parent.parent
KEY = "vercel:web-production"

_HOLDER = """
import os, sys
sys.path.insert(0, sys.argv[1])
from cockpit.core.errors import LockLost
from cockpit.core.pg_connect import PgTarget
from cockpit.core.pg_lock import PgTargetLock

target = PgTarget.parse(sys.argv[2], password=os.environ["HOLDER_PASSWORD"])
lock = PgTargetLock(target, sys.argv[3], shown="web-production", actor="bob via ssh 198.51.100.4")
lock.acquire()
backend = lock._conn.execute("SELECT pg_backend_pid()").fetchone()[0]
print("held", backend, flush=True)
for line in sys.stdin:
    try:
        lock.check()
        print("ok", flush=True)
    except LockLost as error:
        print("lost", error, flush=True)
lock.release()
"""


server = postgres_server.server


@pytest.fixture
def url(server: Any) -> Iterator[str]:
    """A fresh database holding a timeline (schema made by its owner), dropped afterwards."""
    with postgres_server.fresh_database(server, "lock_", timeline=True) as made:
        yield made


def target(url: str, server: Any) -> PgTarget:
    return PgTarget.parse(url, password=server.password)


class Holder:
    """A second process holding `KEY`; `check()` asks it whether it still holds the lock."""

    def __init__(self, url: str, server: Any) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(ROOT), url, KEY],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "HOLDER_PASSWORD": server.password},
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        line = self.proc.stdout.readline().split()
        assert line[:1] == ["held"], line
        self.backend = int(line[1])

    def check(self) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("check\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def acquire_within(lock: PgTargetLock, seconds: float) -> None:
    """The server ends a terminated backend a moment after it is told to."""
    deadline = time.monotonic() + seconds
    while not lock.try_acquire():
        assert time.monotonic() < deadline, "the lock was never released"
        time.sleep(0.05)


def test_the_key_is_a_stable_bigint_outside_the_event_logs_locks() -> None:
    key = lock_key(KEY)
    assert key == lock_key(KEY) and -(2**63) <= key < 2**63
    assert key != lock_key("vercel:web-staging")
    assert APPEND_LOCK[0] == MIGRATE_LOCK[0] == 0x436B7074  # two-integer: another key space
    # Pinned: every host and Python must compute the same key for the same target.
    assert key == -3315583769715110405


def test_a_second_process_is_refused_naming_the_holder_until_it_is_released(
    url: str, server: Any
) -> None:
    holder = Holder(url, server)
    try:
        mine = PgTargetLock(target(url, server), KEY, shown="web-production")
        with pytest.raises(LockHeld) as caught:
            mine.acquire()
        message = str(caught.value)
        assert message.startswith("another action is running on web-production: held by ")
        assert "bob via ssh 198.51.100.4" in message and f"(pid {holder.proc.pid})" in message
        named = caught.value.holder  # type: ignore[attr-defined]
        assert named.pid == holder.proc.pid and named.actor == "bob via ssh 198.51.100.4"
        assert named.host and named.since
        assert not mine.held and not mine.try_acquire()
        assert mine.holder() == named
        other = PgTargetLock(target(url, server), "vercel:web-staging")
        other.acquire()  # another target is free
        other.release()
        assert holder.check() == "ok"
    finally:
        holder.stop()
    mine.acquire()  # released by the holder
    assert mine.held
    assert mine.holder() is not None and mine.holder().pid == os.getpid()  # type: ignore[union-attr]
    mine.release()
    assert not mine.held and mine.holder() is None
    assert server.scalar("SELECT count(*) FROM cockpit.action_locks", url.rpartition("/")[2]) == 0


def test_a_killed_holders_lock_is_released_by_the_server_and_the_holder_knows(
    url: str, server: Any
) -> None:
    holder = Holder(url, server)
    try:
        mine = PgTargetLock(target(url, server), KEY)
        assert not mine.try_acquire()
        assert server.scalar("SELECT pg_terminate_backend(%s)", params=(holder.backend,))
        acquire_within(mine, 5.0)
        # The row the dead holder left is not shown: the new holder's is.
        assert mine.holder() is not None and mine.holder().pid == os.getpid()  # type: ignore[union-attr]
        answer = holder.check()
        assert answer.startswith("lost the action lock on web-production was lost"), answer
        assert "another responder may act" in answer and server.password not in answer
        mine.release()
    finally:
        holder.stop()


def test_a_lost_lock_is_announced_at_once_and_refused_by_check(url: str, server: Any) -> None:
    lost: list[LockLost] = []
    told = threading.Event()

    def on_lost(error: LockLost) -> None:
        lost.append(error)
        told.set()

    lock = PgTargetLock(target(url, server), KEY, shown="web", on_lost=on_lost)
    lock.acquire()
    lock.check()
    assert lock._conn is not None
    backend = lock._conn.execute("SELECT pg_backend_pid()").fetchone()
    assert backend is not None
    assert server.scalar("SELECT pg_terminate_backend(%s)", params=(backend[0],))
    assert told.wait(5.0), "the watcher never noticed"
    assert not lock.held and lock.lost is lost[0] and len(lost) == 1
    with pytest.raises(LockLost, match="lock on web was lost"):
        lock.check()
    lock.release()  # harmless on a lost lock
    again = PgTargetLock(target(url, server), KEY)
    again.acquire()
    again.release()


def test_check_before_acquire_and_after_release_refuses(url: str, server: Any) -> None:
    lock = PgTargetLock(target(url, server), KEY)
    with pytest.raises(LockLost, match="not held"):
        lock.check()
    lock.acquire()
    lock.acquire()  # held already: nothing to do
    lock.release()
    with pytest.raises(LockLost, match="not held"):
        lock.check()
    lock.acquire()  # the same object again: the first holding's watcher must not judge it
    time.sleep(3 * WATCH_PERIOD)
    assert lock.held and lock.lost is None
    lock.check()
    lock.release()


def test_responders_in_the_group_role_take_and_name_locks(url: str, server: Any) -> None:
    """The table is granted to PUBLIC: a responder role made before version 3 may use it."""
    import postgres_server
    from psycopg import sql

    from cockpit.core.pg_schema import responder_role_sql

    dbname = url.rpartition("/")[2]
    group = postgres_server.unique("responders_")
    members = [postgres_server.unique("alice_"), postgres_server.unique("bob_")]
    with server.admin(dbname) as admin:
        for statement in responder_role_sql(group):
            admin.execute(statement)
        for member in members:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw' IN ROLE {}").format(
                    sql.Identifier(member), sql.Identifier(group)
                )
            )
    try:
        where = f"host=127.0.0.1 port={server.port} dbname={dbname} user="
        alice = PgTargetLock(PgTarget.parse(where + members[0], password="pw"), KEY, actor="alice")
        bob = PgTargetLock(PgTarget.parse(where + members[1], password="pw"), KEY, actor="bob")
        alice.acquire()
        with pytest.raises(LockHeld, match="held by alice on "):
            bob.acquire()
        alice.release()
        bob.acquire()
        bob.release()
    finally:
        server.drop_database(dbname)
        for role in (*members, group):
            server.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
