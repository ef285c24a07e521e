"""How one metric source runs: its own thread that samples and posts messages to the App.

Not a Textual thread worker: those run on asyncio's default executor, min(32, CPUs + 4) threads
(six on a two-core jump host), and a poller never returns, so a seventh source would silently
never be polled and every later worker (procedure loading, rollback actions) would starve.

The thread never touches widgets: it posts MetricsSampled or SourceFailed (post_message is
thread-safe) and sleeps on its stop event, so stopping wakes it at once. A poll cannot overlap
the previous one because the loop is sequential, and each poll ends by the source's own deadline.

A source that says it is rate limited (RateLimited, from a 429 or a 503 with Retry-After) is not
polled again before the wait it asked for (one interval when it did not say, ten minutes at
most); the SourceFailed reason says when the next poll is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cockpit.core.errors import ProviderError, RateLimited
from cockpit.messages import MetricsSampled, SourceFailed

if TYPE_CHECKING:
    from textual.app import App

    from providers.base import MetricSource

MAX_BACKOFF = 600.0
"""The longest wait a rate limit can impose, whatever the source says: ten minutes."""


class Poller(threading.Thread):
    """Samples one source every `interval` seconds, on a fixed cadence, until stopped.

    `monotonic` and `wait` (sleep up to n seconds; returns early when stopped) are seams for
    tests; they default to time.monotonic and the stop event's wait.
    """

    def __init__(
        self,
        app: App[Any],
        source: MetricSource,
        interval: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wait: Callable[[float], object] | None = None,
    ) -> None:
        super().__init__(name=f"poll:{source.source_id}", daemon=True)
        self.app = app
        self.source = source
        self.interval = interval
        self.stopped = threading.Event()
        self.monotonic = monotonic
        self.wait = wait or self.stopped.wait

    def run(self) -> None:
        source = self.source
        due = self.monotonic()
        try:
            while not self.stopped.is_set():
                backoff = self.poll_once()
                now = self.monotonic()
                # A fixed cadence, not "interval after the last sample": a 1 Hz source stays at
                # 1 Hz however long a sample takes; one slower than its interval is not queued up.
                due = max(due + self.interval, now, now + backoff)
                self.wait(due - now)
        finally:
            source.close()

    def poll_once(self) -> float:
        """Sample once and post what came of it; returns the back-off a rate limit asks (0)."""
        source = self.source
        try:
            samples = source.sample()
        except RateLimited as error:
            asked = self.interval if error.retry_after is None else error.retry_after
            backoff = min(max(asked, self.interval), MAX_BACKOFF)
            reason = f"{error}: next poll in {backoff:g} s"
            self.app.post_message(SourceFailed(source.source_id, source.metric_names, reason))
            return backoff
        except ProviderError as error:
            self.app.post_message(SourceFailed(source.source_id, source.metric_names, str(error)))
        except Exception as error:  # a bug in a provider must not stop the polling silently
            reason = f"internal error in {source.source_id}: {type(error).__name__}: {error}"
            self.app.post_message(SourceFailed(source.source_id, source.metric_names, reason))
        else:
            self.app.post_message(MetricsSampled(source.source_id, samples))
        return 0.0

    def stop(self) -> None:
        """Ask the thread to finish after its current sample (each has its own deadline)."""
        self.stopped.set()
