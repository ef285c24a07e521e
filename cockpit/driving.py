"""Which of the incident's cockpits drives it: the App's side of the driver's lock.

One cockpit drives (records the readings and triggers, pages, reminds, sends the outbox); the
others respond. The driver holds the incident's lock (`cockpit.core.locks`: a flock beside a
file, an advisory lock on a team database). A responder takes the lock when it is free (the
driver ended, however it ended), tried every few seconds; on a team database the attempt is a
round trip, so it runs in a worker, never on the UI thread. Losing the lock (a team database's
connection gone: the server released it) is looked into at once, off the UI thread: when
another cockpit holds it now, this one stops driving, so two never page or send twice; when
the database cannot be reached at all, this cockpit drives on, apart (its readings and
triggers go to its journal: an outage must not silence the triggers and the paging; a
responder whose host still reaches the database may take the lock meanwhile, and then both
page, which is the lesser harm), and takes the lock again as soon as the database answers, or
stops driving if another cockpit has it by then. Take over ends a wedged driver: its process
on this host, its lock's session on a team database.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from cockpit.core.errors import CockpitError

if TYPE_CHECKING:
    from cockpit.core.locks import DriverLock
    from cockpit.incident_app import IncidentApp

RETRY_SECONDS = 3.0
"""How often a responder looks whether the driving cockpit has ended."""


class Driving:
    """The driver's lock of one App, and the moves between driving and responding."""

    def __init__(self, app: IncidentApp, lock: DriverLock | None) -> None:
        self.app = app
        self.lock = lock
        """This process's hold on driving the incident, when it has it."""
        self.tried = 0.0
        self.apart = False
        """Driving without the lock: the team database cannot be reached (see the module)."""

    def new_lock(self) -> DriverLock:
        """The incident's driver lock, whose loss stops this cockpit driving."""
        app = self.app
        return app.session.locks.incident(
            app.session.incident.id,
            on_lost=lambda error: app.call_from_thread(self.lost, str(error)),
        )

    def if_free(self) -> None:
        """Drive when the driver has ended (tried every `RETRY_SECONDS`); driving apart, take
        the lock again when the team database answers."""
        app = self.app
        self.again_if_apart()
        if app.driving or app.read_only or app.state.incident.status == "closed":
            return
        now = app.session.clock.monotonic()
        if now - self.tried < RETRY_SECONDS:
            return
        self.tried = now
        lock = self.lock or self.new_lock()
        if app.session.locks.remote:
            app.run_worker(
                partial(self._try, lock),
                thread=True,
                group="driving",
                exclusive=True,
                exit_on_error=False,
            )
        elif lock.try_acquire():
            self.taken(lock)

    def _try(self, lock: DriverLock) -> None:
        """Worker: take the lock if it is free (an unreachable database: not now)."""
        try:
            got = lock.try_acquire()
        except CockpitError:
            return
        if got:
            self.app.call_from_thread(self.taken, lock)

    def take_over(self) -> None:
        """Drive from here, ending the driver now (in a worker: it may wait for it)."""
        app = self.app
        if app.driving or app.read_only:
            app.notify("This cockpit drives the incident already." if app.driving else "Watching.")
            return
        app.run_worker(
            partial(self._take_over, self.new_lock()),
            thread=True,
            group="driving",
            exit_on_error=False,
        )

    def _take_over(self, lock: DriverLock) -> None:
        try:
            lock.take_over()
        except CockpitError as error:  # still held, or the team database cannot be reached
            self.app.call_from_thread(
                self.app.notify, str(error), title="Could not take over", severity="error"
            )
            return
        self.app.call_from_thread(self.taken, lock, "took over")

    def taken(self, lock: DriverLock, how: str = "the driver ended") -> None:
        """This cockpit holds the lock: it records, triggers, pages, reminds."""
        app = self.app
        if app.driving or app.state.incident.status == "closed":
            lock.release()
            return
        self.lock, app.driving, app.session.held_by = lock, True, None
        self.apart = False
        app.record("session.driving", f"cockpit drives the incident now ({how})")
        if how == "the driver ended":
            app.notify(
                "The cockpit that drove this incident has ended: this one now records the "
                "readings and triggers, pages, reminds and sends.",
                title="Driving",
                timeout=15,
            )

    def lost(self, reason: str) -> None:
        """The lock went with its connection: find out, off this thread, whether another
        cockpit holds it now or the database cannot be reached (see the module)."""
        app = self.app
        if not app.driving:
            return
        self.lock = None
        app.run_worker(
            partial(self._after_loss, self.new_lock(), reason),
            thread=True,
            group="driving",
            exit_on_error=False,
        )

    def _after_loss(self, lock: DriverLock, reason: str) -> None:
        """Worker: take the lock again; unreachable → drive on apart; held → respond."""
        try:
            got = lock.try_acquire()
        except CockpitError:
            self.app.call_from_thread(self._apart, reason)
            return
        if got:
            self.app.call_from_thread(self._back, lock)
        else:
            self.app.call_from_thread(self._stop, reason)

    def _apart(self, reason: str) -> None:
        first = not self.apart
        self.apart = True
        if first and self.app.driving:
            self.app.notify(
                "The team database cannot be reached: this cockpit drives on apart (readings, "
                "triggers and pages go on and are kept in its journal) and takes the driver's "
                "lock again when the database answers.",
                title="Driving apart",
                severity="warning",
                timeout=30,
            )

    def _back(self, lock: DriverLock) -> None:
        """The lock is ours again: driving as before."""
        if not self.app.driving:
            lock.release()
            return
        self.lock, self.apart = lock, False

    def _stop(self, reason: str) -> None:
        app = self.app
        self.apart, self.tried = False, 0.0
        if not app.driving:
            return
        app.driving = False
        app.notify(
            f"This cockpit no longer drives the incident: {reason}; another cockpit drives it "
            "now. It will drive again when no other cockpit does.",
            title="Not driving",
            severity="warning",
            timeout=30,
        )

    def again_if_apart(self) -> None:
        """While driving apart: try to take the lock again (every `RETRY_SECONDS`)."""
        app = self.app
        if not self.apart or not app.driving:
            return
        now = app.session.clock.monotonic()
        if now - self.tried < RETRY_SECONDS:
            return
        self.tried = now
        app.run_worker(
            partial(self._after_loss, self.new_lock(), "the team database answers again"),
            thread=True,
            group="driving",
            exclusive=True,
            exit_on_error=False,
        )

    def give_up(self) -> None:
        """Stop driving by choice (this cockpit became an observer): another may drive."""
        app = self.app
        if not app.driving:
            return
        lock, self.lock = self.lock, None
        app.driving = False
        if lock is not None:
            app.run_worker(lock.release, thread=True, group="driving", exit_on_error=False)
