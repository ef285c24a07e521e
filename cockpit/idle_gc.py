"""Provides IdleCollector: full garbage collections at quiet moments, not under a key.

Rendering leaves cyclic garbage behind (Textual's strips hold caches of themselves; each screen
shown again restyles through throwaway style nodes): ~15,000 objects a second while another
cockpit writes. Python's own full collection runs whenever its counters say so and takes
20-70 ms, and a key pressed then waits for it (make bench, 12 sources and another process
writing: key p99 45-94 ms). So while a cockpit runs:

- the youngest generation is collected every YOUNG allocations instead of Python's 700, so
  what a frame makes and drops dies young (a few milliseconds) instead of being promoted: the
  full collections get about a quarter of the garbage;
- the automatic full collection is off; one runs once no key or click has come for QUIET_S,
  and at the latest every LATEST_S even while someone types without a pause.

A deferred full collection costs what it waited for: deferring 10 s with Python's young
threshold ended in one 250-290 ms freeze (155,000 objects) under the hostile-sources bench.
With these settings: keys with another process writing p99 30-42 ms, keys under hostile
sources p99 15 ms and the longest stall 25 ms, RSS over 24 h of samples +3.4 MB from 6 to
24 h (a full collection at most 5 s apart held +5.6 MB). Measured with gc.callbacks and make
bench's rows. Everything is given back when the last cockpit in the process stops.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

QUIET_S = 1.0
"""A full collection waits until no input has come for this long."""

GAP_S = 2.0
"""At most one full collection this often: small ones, each at a quiet moment."""

LATEST_S = 3.0
"""A full collection runs at least this often, input or not."""

YOUNG = 7000
"""Allocations between two collections of the youngest generation (Python's default: 700)."""

NEVER = 1_000_000_000
"""A threshold for the oldest generation that is never reached."""

_holders = 0
_saved: tuple[int, int, int] | None = None


class IdleCollector:
    """Owns when the full collection runs while started; `tick` about once a second."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[], object] = gc.collect,
    ) -> None:
        self.clock = clock
        self.collect = collect
        self.started = False
        self.input_at = clock()
        self.collected_at = clock()
        self.collections = 0

    def start(self) -> None:
        """Young collections less often, the automatic full one off (both restored when the
        last one stops)."""
        global _holders, _saved
        if self.started:
            return
        self.started = True
        if _holders == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(YOUNG, _saved[1], NEVER)
        _holders += 1
        self.collected_at = self.clock()

    def stop(self) -> None:
        """Give the collection back to Python when no other cockpit in this process holds it."""
        global _holders, _saved
        if not self.started:
            return
        self.started = False
        _holders -= 1
        if _holders == 0 and _saved is not None:
            gc.set_threshold(*_saved)
            _saved = None

    def input_seen(self) -> None:
        """A key or a click came: the next full collection waits for a quiet moment."""
        self.input_at = self.clock()

    def tick(self) -> bool:
        """Run a full collection if one is due and the moment is quiet (or it is overdue)."""
        if not self.started:
            return False
        now = self.clock()
        since = now - self.collected_at
        quiet = now - self.input_at >= QUIET_S
        if since < GAP_S or not (quiet or since >= LATEST_S):
            return False
        self.collect()
        self.collected_at = self.clock()
        self.collections += 1
        return True
