"""Where the cockpits of one timeline take their locks, and where a cockpit keeps its files.

A SQLite timeline's cockpits share one host: flock files beside the database
(`cockpit.core.lock`). A PostgreSQL timeline's cockpits are on many jump hosts: advisory locks
in that database (`cockpit.core.pg_lock`, `cockpit.core.pg_incident_lock`). The App and the
action runner ask `locks_for(timeline)` and never know which.

Files (exports, drafts, tracebacks, the local journal) go beside a SQLite timeline, and into
the data directory for a PostgreSQL one: never to the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from cockpit.core.errors import LockLost
    from cockpit.core.lock import Holder
    from cockpit.core.pg_connect import PgTarget
    from cockpit.core.timeline_open import AnyTimeline


class Lock(Protocol):
    """What the App and the action runner use of a lock (both kinds have it)."""

    @property
    def held(self) -> bool: ...

    def holder(self) -> Holder | None: ...

    def acquire(self) -> None: ...

    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...


class DriverLock(Lock, Protocol):
    """An incident's lock: the cockpit holding it drives the incident."""

    def take_over(self, *, grace_seconds: float = 3.0) -> None: ...


class Locks(Protocol):
    """Makes the locks of one timeline's cockpits."""

    @property
    def remote(self) -> bool:
        """True when taking a lock goes over the network (never on the UI thread)."""

    def incident(
        self, incident_id: int, *, on_lost: Callable[[LockLost], object] | None = None
    ) -> DriverLock: ...

    def target(self, key: str, shown: str) -> Lock: ...


@dataclass(frozen=True)
class FileLocks:
    """flock files beside a SQLite timeline."""

    db_path: Path
    remote: bool = False

    def incident(
        self, incident_id: int, *, on_lost: Callable[[LockLost], object] | None = None
    ) -> DriverLock:
        """The driver's flock (never lost while this process lives: `on_lost` unused)."""
        from cockpit.core.lock import IncidentLock

        return IncidentLock(self.db_path, incident_id)

    def target(self, key: str, shown: str) -> Lock:
        from cockpit.core.lock import TargetLock

        return TargetLock(self.db_path, key, shown=shown)


@dataclass(frozen=True)
class PgLocks:
    """Advisory locks in a PostgreSQL timeline's database."""

    pg: PgTarget
    remote: bool = True

    def incident(
        self, incident_id: int, *, on_lost: Callable[[LockLost], object] | None = None
    ) -> DriverLock:
        """The driver's advisory lock; `on_lost` is called (on its watcher's thread) if its
        connection goes."""
        from cockpit.core.pg_incident_lock import PgIncidentLock

        return PgIncidentLock(self.pg, incident_id, on_lost=on_lost or (lambda _: None))

    def target(self, key: str, shown: str) -> Lock:
        from cockpit.core.pg_lock import PgTargetLock

        return PgTargetLock(self.pg, key, shown=shown)


def locks_for(timeline: AnyTimeline) -> Locks:
    """The locks the cockpits of `timeline` share."""
    from cockpit.core.timeline import Timeline

    if isinstance(timeline, Timeline):
        return FileLocks(timeline.path)
    return PgLocks(timeline.target)


def db_of(timeline: AnyTimeline) -> Path | str:
    """The timeline as a --db value names it: its file, or its URL without the password."""
    from cockpit.core.timeline import Timeline

    return timeline.path if isinstance(timeline, Timeline) else timeline.url


def files_for(timeline: AnyTimeline) -> Path:
    """The folder this cockpit keeps its files in (exports, drafts, tracebacks, journals)."""
    from cockpit.core.timeline import Timeline

    if isinstance(timeline, Timeline):
        return timeline.path.parent
    from cockpit.core.paths import data_dir

    return data_dir()
