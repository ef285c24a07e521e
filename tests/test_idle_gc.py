"""Full garbage collections wait for a quiet moment (no key for a second), come at least every
LATEST_S while someone types without a pause, and Python's own schedule comes back when the
last cockpit in the process stops."""

from __future__ import annotations

import gc
import itertools

from cockpit.idle_gc import GAP_S, LATEST_S, NEVER, QUIET_S, YOUNG, IdleCollector


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def collector(clock: Clock) -> tuple[IdleCollector, list[float]]:
    runs: list[float] = []
    return IdleCollector(clock=clock, collect=lambda: runs.append(clock.now)), runs


def test_a_full_collection_waits_for_a_quiet_moment() -> None:
    clock = Clock()
    gc_of, runs = collector(clock)
    gc_of.start()
    try:
        clock.now += GAP_S
        gc_of.input_seen()
        assert not gc_of.tick(), "a key just came: not now"
        clock.now += QUIET_S / 2
        assert not gc_of.tick()
        clock.now += QUIET_S / 2
        assert gc_of.tick(), "quiet for a second: collected"
        clock.now += 1.0
        assert not gc_of.tick(), "at most one every GAP_S"
        assert runs == [100.0 + GAP_S + QUIET_S]
    finally:
        gc_of.stop()


def test_typing_without_a_pause_still_collects_every_latest_s() -> None:
    clock = Clock()
    gc_of, runs = collector(clock)
    gc_of.start()
    try:
        for _ in range(int(LATEST_S * 3 * 4)):  # a key every 250 ms for 3 x LATEST_S
            clock.now += 0.25
            gc_of.input_seen()
            gc_of.tick()
        assert len(runs) == 3
        assert all(later - earlier >= LATEST_S for earlier, later in itertools.pairwise(runs))
    finally:
        gc_of.stop()


def test_python_collects_by_itself_again_once_the_last_cockpit_stops() -> None:
    before = gc.get_threshold()
    first, second = IdleCollector(), IdleCollector()
    first.start()
    second.start()
    assert gc.get_threshold()[2] == NEVER
    assert gc.get_threshold()[0] == YOUNG, "what a frame drops dies young"
    first.stop()
    assert gc.get_threshold()[2] == NEVER, "the other cockpit still runs"
    second.stop()
    second.stop()  # twice is harmless
    assert gc.get_threshold() == before


def test_a_stopped_collector_never_collects() -> None:
    clock = Clock()
    gc_of, runs = collector(clock)
    clock.now += LATEST_S * 2
    assert not gc_of.tick()
    assert runs == []
