"""The timeline's one writer: a thread that owns a connection and takes appends from a queue.

Why: a write waits on SQLite's write lock (another cockpit, the CLI, someone's sqlite3 shell)
and on fsync. On the UI thread each wait froze the screen, and past the 5 s busy timeout the
cockpit died with the event lost. Here a write is a job: `submit` returns a Future at once; the
thread runs jobs in the order they came, retries a busy lock for as long as it takes (saying so
through `on_stall`), and calls `on_commit` after each batch. Metric samples, which come several
times a second, are buffered and appended many per transaction. A caller that must not go on
before its write is durable (an action's intent) waits on the future, never on the UI thread.

Pure Python, no Textual: the App gives it callbacks that only post messages.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from cockpit.core.errors import TimelineBusy, TimelineDamaged, TimelineError

if TYPE_CHECKING:
    from typing import TypeAlias

    from cockpit.core.journal import JournaledTimeline
    from cockpit.core.metrics import Sample
    from cockpit.core.pg_timeline import PgTimeline
    from cockpit.core.timeline import Timeline

    WriterTimeline: TypeAlias = Timeline | PgTimeline | JournaledTimeline
    """What the writer writes through: a SQLite file, a team's PostgreSQL, or that with its
    local journal (`cockpit.core.journal`)."""

T = TypeVar("T")

WRITER_BUSY_TIMEOUT = 0.25
"""The writer's own busy timeout: short, so it can report a long wait while it retries."""

RETRY_PAUSE = 0.1
"""Pause between two attempts when the file cannot be written (not merely locked)."""

STALL_REPORT_AFTER = 1.0
"""A write waiting longer than this is reported (then once a second) through `on_stall`."""


class WriterStopped(TimelineError):
    """The writer stopped before this write could be made (the cockpit is leaving)."""

    title = "Not recorded"


@dataclass
class _Job:
    run: Callable[[WriterTimeline], Any]
    future: Future[Any]
    what: str


@dataclass
class _Stop:
    pass


@dataclass
class Stall:
    """The writer has been waiting: how long, why, and how many writes are queued."""

    seconds: float
    reason: str
    waiting: int


MAX_PENDING_SAMPLES = 100_000
"""Readings kept in memory while the timeline cannot take them (about two hours of 12 sources
at 1 Hz, some 20 MB); past it the oldest go. Samples only serve backtests and the export's
sparklines; events are never dropped."""


@dataclass
class _SampleBuffer:
    items: deque[tuple[int, Sequence[Sample]]] = field(default_factory=deque)
    count: int = 0
    dropped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, incident: int, samples: Sequence[Sample]) -> None:
        with self.lock:
            self.items.append((incident, samples))
            self.count += len(samples)
            while self.count > MAX_PENDING_SAMPLES and len(self.items) > 1:
                _, oldest = self.items.popleft()
                self.count -= len(oldest)
                self.dropped += len(oldest)

    def take(self) -> list[tuple[int, Sequence[Sample]]]:
        with self.lock:
            taken, self.items, self.count = list(self.items), deque(), 0
        return taken


class TimelineWriter:
    """One thread, one connection, every write of this process in order.

    Args:
        connect: Opens the writer's own Timeline (called on the writer's thread).
        on_commit: Called (on the writer's thread) after each batch that wrote something.
        on_stall: Called (on the writer's thread) while a write waits: after
            `STALL_REPORT_AFTER` seconds and about once a second after that; once more with
            seconds=0 when the wait is over.
    """

    def __init__(
        self,
        connect: Callable[[], WriterTimeline],
        *,
        on_commit: Callable[[], object] = lambda: None,
        on_stall: Callable[[Stall], object] = lambda _: None,
        sample_period: float = 0.0,
    ) -> None:
        self._connect = connect
        self.sample_period = sample_period
        """Readings are written at most once per this many seconds (one transaction for all
        the sources' readings of an interval); 0: as soon as the thread is free."""
        self._flushed_at = 0.0
        self._flush_now = False
        self._flush_waiters: list[Future[None]] = []
        self._on_commit = on_commit
        self._on_stall = on_stall
        self._queue: queue.SimpleQueue[_Job | _Stop | None] = queue.SimpleQueue()
        self._samples = _SampleBuffer()
        self._abandon = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._queued = 0
        self._queued_lock = threading.Lock()

    # --- what callers use -----------------------------------------------------------------------

    def submit(self, run: Callable[[WriterTimeline], T], what: str = "write") -> Future[T]:
        """Queue a write; the future holds its result once it is committed.

        `run` gets the writer's Timeline and makes one write (one transaction). It is retried
        while the lock is held by someone else, so it must not have done anything when it
        raises TimelineBusy (every Timeline method is one transaction: it has not).
        """
        future: Future[T] = Future()
        if self._abandon.is_set():
            future.set_exception(WriterStopped(f"not recorded ({what}): the cockpit is leaving"))
            return future
        with self._queued_lock:
            self._queued += 1
        self._queue.put(_Job(run, future, what))
        self._ensure_started()
        return future

    def samples(self, incident: int, samples: Sequence[Sample]) -> None:
        """Keep metric readings; appended with others in one transaction, soon."""
        if not samples or self._abandon.is_set():
            return
        was_empty = not self._samples.count
        self._samples.add(incident, samples)
        if was_empty:
            self._queue.put(None)  # wakes the thread, which then times the next flush
        self._ensure_started()

    def flush(self) -> Future[None]:
        """Write the readings now rather than at the end of their interval; the future is done
        once those handed over before this call are committed (or could not be: samples are
        never worth failing for). The export waits on it, so its sparklines miss nothing."""
        done: Future[None] = Future()
        if self._abandon.is_set():
            done.set_result(None)
            return done
        with self._samples.lock:
            self._flush_waiters.append(done)
            self._flush_now = True
        self._queue.put(None)
        self._ensure_started()
        return done

    @property
    def waiting(self) -> int:
        """Writes queued and not yet committed (samples not counted)."""
        return self._queued

    @property
    def samples_waiting(self) -> int:
        """Readings handed over and not yet written (being written included)."""
        return self._samples.count + self._samples_writing

    @property
    def samples_dropped(self) -> int:
        """Readings given up because too many waited (MAX_PENDING_SAMPLES)."""
        return self._samples.dropped

    _samples_writing = 0

    def stop(self, timeout: float | None = None) -> bool:
        """Write what is queued, then end the thread; True once it has ended.

        Waits up to `timeout` seconds (None: as long as it takes). When it returns False,
        writes are still waiting (for the lock, for the disk): wait again, or `abandon`.
        """
        thread = self._thread
        if thread is None:
            return True
        if not self._stopping:
            self._stopping = True
            self._queue.put(_Stop())
        thread.join(timeout)
        return not thread.is_alive()

    def abandon(self) -> int:
        """Give up on what still waits; returns how many writes were not made (each one's
        future says so, nothing is dropped silently)."""
        self._abandon.set()
        thread = self._thread
        if thread is not None:
            thread.join(5.0)
        return self._given_up

    _stopping = False

    # --- the thread -----------------------------------------------------------------------------

    _given_up = 0

    def _ensure_started(self) -> None:
        # Started at the first write, and again for a write after a stop (the crash record
        # comes after the App, and its writer, have stopped).
        thread = self._thread
        if thread is not None and (thread.is_alive() or self._abandon.is_set()):
            return
        with self._start_lock:
            thread = self._thread
            if thread is None or not (thread.is_alive() or self._abandon.is_set()):
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._run, name="timeline-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        timeline: WriterTimeline | None = None
        try:
            timeline = self._open()
            stopping = False
            while not stopping:
                batch: list[_Job | _Stop | None] = []
                with contextlib.suppress(queue.Empty):
                    batch.append(self._queue.get(timeout=self._until_flush()))
                with contextlib.suppress(queue.Empty):
                    while len(batch) < 256:
                        batch.append(self._queue.get_nowait())
                wrote = False
                for position, item in enumerate(batch):
                    if self._abandon.is_set():
                        for left in batch[position:]:
                            self._give_up(left)
                        break
                    if isinstance(item, _Stop):
                        stopping = True
                    elif isinstance(item, _Job):
                        wrote |= self._do(timeline, item)
                if stopping or self._until_flush() == 0.0:
                    wrote |= self._flush_samples(timeline)
                if wrote:
                    self._on_commit()
                if self._abandon.is_set():
                    break
        finally:
            self._fail_the_rest()
            if timeline is not None:
                timeline.close()

    def _until_flush(self) -> float | None:
        """Seconds until readings are due to be written; None when there are none."""
        if self._flush_now:
            return 0.0
        if not self._samples.count:
            return None
        return max(0.0, self._flushed_at + self.sample_period - time.monotonic())

    def _open(self) -> WriterTimeline:
        started = time.monotonic()
        while True:
            try:
                return self._connect()
            except TimelineError as error:  # opening may migrate, which needs the lock
                self._waited(started, str(error))
                if self._abandon.wait(RETRY_PAUSE):
                    raise WriterStopped("the cockpit left before the timeline opened") from None

    def _do(self, timeline: WriterTimeline, job: _Job) -> bool:
        if not job.future.set_running_or_notify_cancel():
            self._done_one()
            return False  # cancelled before it ran: nothing written, as the caller asked
        try:
            result = self._retrying(_keyed(timeline, lambda: job.run(timeline)))
        except BaseException as error:
            if isinstance(error, WriterStopped):
                self._given_up += 1
            job.future.set_exception(error)
            self._done_one()
            return False
        job.future.set_result(result)
        self._done_one()
        return True

    def _flush_samples(self, timeline: WriterTimeline) -> bool:
        with self._samples.lock:  # the waiters first: their samples are all in what is taken
            waiters, self._flush_waiters = self._flush_waiters, []
            self._flushed_at, self._flush_now = time.monotonic(), False
        try:
            return self._write_samples(timeline)
        finally:
            for waiter in waiters:
                waiter.set_result(None)

    def _write_samples(self, timeline: WriterTimeline) -> bool:
        taken = self._samples.take()
        if not taken:
            return False
        self._samples_writing = sum(len(samples) for _, samples in taken)
        by_incident: dict[int, list[Sample]] = {}
        for incident, samples in taken:
            by_incident.setdefault(incident, []).extend(samples)

        def write() -> None:
            for incident, samples in by_incident.items():
                timeline.record_samples(incident, samples)

        try:
            self._retrying(_keyed(timeline, write))
        except WriterStopped:
            return False
        except TimelineError:
            return False  # samples are a convenience (backtest), never worth stopping for
        finally:
            self._samples_writing = 0
        return True

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run one write until it is made: a held lock or an unwritable file is waited out."""
        started = time.monotonic()
        stalled = False
        try:
            while True:
                if self._abandon.is_set():
                    raise WriterStopped("the cockpit left while the timeline was locked")
                try:
                    return attempt()
                except TimelineBusy as error:
                    stalled |= self._waited(started, str(error))
                except (WriterStopped, TimelineDamaged):
                    raise  # waiting would not mend a damaged file: said at once, not retried
                except TimelineError as error:
                    # Disk full, read-only, I/O: say so and keep trying; losing the event is
                    # worse than waiting for someone to free the disk.
                    stalled |= self._waited(started, str(error))
                    self._abandon.wait(RETRY_PAUSE)
        finally:
            if stalled:
                self._reported_at = 0.0
                self._on_stall(Stall(0.0, "", self._queued))

    _reported_at = 0.0

    def _waited(self, started: float, reason: str) -> bool:
        now = time.monotonic()
        waited = now - started
        if waited < STALL_REPORT_AFTER:
            return False
        if now - self._reported_at >= 1.0:
            self._reported_at = now
            self._on_stall(Stall(waited, reason, self._queued))
        return True

    def _done_one(self) -> None:
        with self._queued_lock:
            self._queued -= 1

    def _fail_the_rest(self) -> None:
        with self._samples.lock:
            waiters, self._flush_waiters = self._flush_waiters, []
        for waiter in waiters:
            waiter.set_result(None)
        while True:
            try:
                self._give_up(self._queue.get_nowait())
            except queue.Empty:
                return

    def _give_up(self, item: _Job | _Stop | None) -> None:
        if isinstance(item, _Job) and item.future.set_running_or_notify_cancel():
            self._given_up += 1
            item.future.set_exception(
                WriterStopped(f"not recorded ({item.what}): the cockpit left first")
            )
            self._done_one()


def _keyed(timeline: WriterTimeline, write: Callable[[], T]) -> Callable[[], T]:
    """`write` with one idempotency key for all its tries (a team database's timeline takes
    one, `PgEventLog.keyed`): a try whose commit answer was lost is found by the next, not
    stored twice. A SQLite write is one local transaction: it needs none."""
    keyed = getattr(timeline, "keyed", None)
    if keyed is None:
        return write
    job_key = uuid.uuid4().hex

    def attempt() -> T:
        keyed(job_key)
        try:
            return write()
        finally:
            keyed(None)

    return attempt
