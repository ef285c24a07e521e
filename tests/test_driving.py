"""The driver whose team database goes away keeps the triggers and the paging going.

A team database's driver lock dies with its connection. Then: when another cockpit holds it
now, this one stops driving (two never page twice); when the database cannot be reached at
all, this one drives on apart (an outage must not silence the triggers) and takes the lock
again once the database answers, or stops if another cockpit drives by then. The locks here
are stand-ins with the advisory lock's contract (cockpit.core.locks); the real one, lost with
its connection, is tests/test_pg_lock.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pilot_wait import until
from test_app import make_app

from cockpit.core.clock import FixedClock
from cockpit.core.errors import LockLost, TimelineUnavailable
from cockpit.core.lock import Holder
from cockpit.core.procedure import Procedure
from cockpit.core.timeline import Timeline
from cockpit.driving import RETRY_SECONDS


@dataclass
class Server:
    """What the team database answers to `try_acquire`: reachable, and whether free."""

    reachable: bool = True
    free: bool = True


@dataclass
class StandInLock:
    server: Server
    on_lost: Callable[[LockLost], object]
    held: bool = False

    def holder(self) -> Holder | None:
        return None

    def acquire(self) -> None:
        self.try_acquire()

    def try_acquire(self) -> bool:
        if not self.server.reachable:
            raise TimelineUnavailable("db.internal:5432: the connection failed: refused")
        self.held = self.server.free
        return self.held

    def release(self) -> None:
        self.held = False

    def take_over(self, *, grace_seconds: float = 3.0) -> None:
        self.held = True


@dataclass
class StandInLocks:
    server: Server
    remote: bool = True
    made: list[StandInLock] = field(default_factory=list)

    def incident(self, incident_id: int, *, on_lost: Any = None) -> StandInLock:
        self.made.append(StandInLock(self.server, on_lost or (lambda _: None)))
        return self.made[-1]

    def target(self, key: str, shown: str) -> Any:
        raise AssertionError("no action here")


def driving_app(timeline: Timeline, procedure: Procedure, clock: FixedClock) -> tuple[Any, Server]:
    server = Server()
    app = make_app(timeline, procedure, clock)
    app.session.__dict__["locks"] = StandInLocks(server)  # the cached property's value
    lock = app.session.locks.incident(app.session.incident.id)
    lock.acquire()
    app.driver.lock = lock
    return app, server


def titles(app: Any) -> list[str]:
    return [n.title for n in app._notifications]


async def test_a_driver_cut_off_from_the_database_drives_on_then_takes_its_lock_again(
    timeline: Timeline, pulse_procedure: Procedure, clock: FixedClock
) -> None:
    app, server = driving_app(timeline, pulse_procedure, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.driving
        server.reachable = False
        app.driver.lost("the connection to db.internal:5432 was lost")
        await until(pilot, lambda: app.driver.apart, "driving apart")
        assert app.driving, "an outage must not silence the triggers and the paging"
        assert "Driving apart" in titles(app)
        server.reachable = True
        clock.advance(RETRY_SECONDS)
        app.driver.if_free()
        await until(pilot, lambda: not app.driver.apart, "the lock taken again")
        assert app.driving and app.driver.lock is not None and app.driver.lock.held


async def test_a_driver_whose_lock_another_took_meanwhile_stops_driving(
    timeline: Timeline, pulse_procedure: Procedure, clock: FixedClock
) -> None:
    app, server = driving_app(timeline, pulse_procedure, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        server.reachable = False
        app.driver.lost("the connection to db.internal:5432 was lost")
        await until(pilot, lambda: app.driver.apart, "driving apart")
        # Back, but a responder whose host reached the database drives now.
        server.reachable, server.free = True, False
        clock.advance(RETRY_SECONDS)
        app.driver.if_free()
        await until(pilot, lambda: not app.driving, "driving stopped")
        assert "Not driving" in titles(app) and not app.driver.apart


async def test_a_lost_lock_another_cockpit_holds_at_once_stops_driving_at_once(
    timeline: Timeline, pulse_procedure: Procedure, clock: FixedClock
) -> None:
    app, server = driving_app(timeline, pulse_procedure, clock)
    async with app.run_test(size=(100, 30)) as pilot:
        server.free = False  # taken over: the database answers, the lock is someone else's
        app.driver.lost("the connection to db.internal:5432 was lost")
        await until(pilot, lambda: not app.driving, "driving stopped")
        assert not app.driver.apart and "Driving apart" not in titles(app)
