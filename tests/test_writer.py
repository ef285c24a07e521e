"""The one writer: writes in order, never lost to a held lock, never on the caller's thread."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from cockpit.core.clock import FixedClock
from cockpit.core.errors import IncidentError
from cockpit.core.metrics import Sample
from cockpit.core.timeline import Event, Timeline
from cockpit.core.writer import Stall, TimelineWriter, WriterStopped
from tests.lock_holder import hold_write_lock


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "timeline.db"


def writer_for(timeline: Timeline, **callbacks: object) -> TimelineWriter:
    return TimelineWriter(lambda: timeline.sibling(busy_timeout=0.05), **callbacks)  # type: ignore[arg-type]


def test_writes_come_back_in_order_as_committed_events(db: Path, clock: FixedClock) -> None:
    with Timeline(db, clock=clock) as timeline:
        incident = timeline.open_incident("x", "P1", "p").id
        commits = threading.Event()
        writer = writer_for(timeline, on_commit=commits.set)
        futures = [
            writer.submit(lambda t, n=n: t.record(incident, "note", f"n{n}"), "note")
            for n in range(20)
        ]
        events = [future.result(timeout=10) for future in futures]
        assert writer.stop(10)
        assert [e.summary for e in events] == [f"n{n}" for n in range(20)]
        assert [e.summary for e in timeline.events(incident)][1:] == [f"n{n}" for n in range(20)]
        assert commits.is_set()


def test_a_held_lock_delays_writes_and_loses_none(db: Path, clock: FixedClock) -> None:
    stalls: list[Stall] = []
    with Timeline(db, clock=clock) as timeline:
        incident = timeline.open_incident("x", "P1", "p").id
        writer = writer_for(timeline, on_stall=stalls.append)
        with hold_write_lock(db):
            at = clock.now()
            futures: list[Future[Event]] = [
                writer.submit(
                    lambda t, n=n: t.record(incident, "note", f"while locked {n}", at=at), "note"
                )
                for n in range(3)
            ]
            clock.advance(30)  # the lock is held for a while
            # Submitting never waited; nothing is written while the other process holds it.
            with pytest.raises(TimeoutError):
                futures[0].result(timeout=1.5)
            assert writer.waiting == 3
            assert stalls and stalls[-1].seconds >= 1 and "write lock" in stalls[-1].reason
        events = [future.result(timeout=10) for future in futures]
        assert writer.stop(10)
    assert [e.summary for e in events] == [f"while locked {n}" for n in range(3)]
    assert all(e.at == at for e in events), "stamped when it happened, not when the lock freed"
    assert stalls[-1].seconds == 0, "the end of the wait is told too"


def test_a_write_refused_for_good_fails_its_future_and_the_rest_go_on(
    db: Path, clock: FixedClock
) -> None:
    with Timeline(db, clock=clock) as timeline:
        writer = writer_for(timeline)
        refused = writer.submit(lambda t: t.record(99, "note", "no such incident"), "note")
        incident = timeline.open_incident("x", "P1", "p").id
        fine = writer.submit(lambda t: t.record(incident, "note", "fine"), "note")
        with pytest.raises(IncidentError):
            refused.result(timeout=10)
        assert fine.result(timeout=10).summary == "fine"
        assert writer.stop(10)


def test_a_write_cancelled_while_it_waits_is_never_made(db: Path, clock: FixedClock) -> None:
    with Timeline(db, clock=clock) as timeline:
        incident = timeline.open_incident("x", "P1", "p").id
        writer = writer_for(timeline)
        with hold_write_lock(db):
            first = writer.submit(lambda t: t.record(incident, "note", "first"), "note")
            second = writer.submit(lambda t: t.record(incident, "note", "second"), "note")
            assert second.cancel()
        assert first.result(timeout=10).summary == "first"
        assert writer.stop(10)
        assert [e.summary for e in timeline.events(incident)][-1] == "first"


def test_leaving_while_locked_names_what_was_given_up(db: Path, clock: FixedClock) -> None:
    with Timeline(db, clock=clock) as timeline:
        incident = timeline.open_incident("x", "P1", "p").id
        writer = writer_for(timeline)
        with hold_write_lock(db):
            futures = [
                writer.submit(lambda t, n=n: t.record(incident, "note", f"n{n}"), "note")
                for n in range(3)
            ]
            assert not writer.stop(0.3), "still waiting for the lock"
            assert writer.abandon() == 3
        for future in futures:
            with pytest.raises(WriterStopped):
                future.result(timeout=1)
        late = writer.submit(lambda t: t.record(incident, "note", "late"), "note")
        with pytest.raises(WriterStopped):
            late.result(timeout=1)


def test_samples_are_kept_many_per_transaction(db: Path, clock: FixedClock) -> None:
    with Timeline(db, clock=clock) as timeline:
        incident = timeline.open_incident("x", "P1", "p").id
        commits: list[int] = []
        writer = writer_for(timeline, on_commit=lambda: commits.append(1))
        with hold_write_lock(db):
            for n in range(50):
                writer.samples(incident, [Sample("error_rate", float(n), clock.now(), "src")])
        assert writer.stop(10)
        assert [s.value for s in timeline.samples(incident)] == [float(n) for n in range(50)]
        assert len(commits) < 10, "not one commit per sample"


def test_samples_waiting_for_a_locked_timeline_are_bounded(
    db: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events wait for ever; readings (for backtests) are kept up to a bound, then the oldest
    go, counted, so a lock held for hours cannot grow the cockpit without end."""
    from cockpit.core import writer as module

    monkeypatch.setattr(module, "MAX_PENDING_SAMPLES", 10)
    with Timeline(db, clock=clock) as timeline:
        incident = timeline.open_incident("x", "P1", "p").id
        writer = writer_for(timeline)
        with hold_write_lock(db):
            writer.samples(incident, [Sample("m", 0.0, clock.now(), "s")])
            for _ in range(100):  # the first batch is in the writer's hands, waiting
                if writer.samples_waiting == 1 and not writer._samples.count:
                    break
                threading.Event().wait(0.01)
            for n in range(1, 26):
                writer.samples(incident, [Sample("m", float(n), clock.now(), "s")])
            assert writer.samples_dropped == 15
        assert writer.stop(10)
        kept = [s.value for s in timeline.samples(incident)]
    assert kept == [0.0, *[float(n) for n in range(16, 26)]]


def test_a_flush_is_done_once_the_readings_before_it_are_committed(
    db: Path, clock: FixedClock
) -> None:
    """Readings wait for the end of their interval; the export asks for them first, so its
    sparklines end where the timeline does."""
    with Timeline(db, clock=clock) as timeline:
        incident = timeline.open_incident("x", "P1", "p").id
        writer = TimelineWriter(lambda: timeline.sibling(busy_timeout=0.05), sample_period=3600)
        writer.flush().result(10)  # an interval starts now
        writer.samples(incident, [Sample("error_rate", 1.0, clock.now(), "src")])
        writer.submit(lambda t: t.head()).result(10)  # the writer has seen it, and waits
        assert timeline.samples(incident) == [], "an hour's interval: not written yet"
        writer.samples(incident, [Sample("error_rate", 2.0, clock.now(), "src")])
        writer.flush().result(10)
        assert [s.value for s in timeline.samples(incident)] == [1.0, 2.0]
        writer.flush().result(10)  # nothing waiting: done all the same
        assert writer.stop(10)
        abandoned = TimelineWriter(lambda: timeline.sibling(busy_timeout=0.05))
        abandoned.abandon()
        assert abandoned.flush().done(), "a writer that gave up never keeps a caller waiting"
