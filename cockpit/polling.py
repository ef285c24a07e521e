"""How one metric source runs: its own thread that samples and posts messages to the App.

Not a Textual thread worker: those run on asyncio's default executor, min(32, CPUs + 4) threads
(six on a two-core jump host), and a poller never returns, so a seventh source would silently
never be polled and every later worker (procedure loading, rollback actions) would starve.

The thread never touches widgets: it posts MetricsSampled or SourceFailed (post_message is
thread-safe) and sleeps on its stop event, so stopping wakes it at once. A poll cannot overlap
the previous one because the loop is sequential.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from cockpit.core.errors import ProviderError
from cockpit.messages import MetricsSampled, SourceFailed

if TYPE_CHECKING:
    from textual.app import App

    from providers.base import MetricSource


class Poller(threading.Thread):
    """Samples one source every `interval` seconds, on a fixed cadence, until stopped."""

    def __init__(self, app: App[Any], source: MetricSource, interval: float) -> None:
        super().__init__(name=f"poll:{source.name}", daemon=True)
        self.app = app
        self.source = source
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        source = self.source
        due = time.monotonic()
        try:
            while not self.stopped.is_set():
                try:
                    samples = source.sample()
                except ProviderError as error:
                    self.app.post_message(
                        SourceFailed(source.name, source.metric_names, str(error))
                    )
                except Exception as error:  # a bug in a provider must not stop the polling silently
                    reason = f"internal error in {source.name}: {type(error).__name__}: {error}"
                    self.app.post_message(SourceFailed(source.name, source.metric_names, reason))
                else:
                    self.app.post_message(MetricsSampled(source.name, samples))
                # A fixed cadence, not "interval after the last sample": a 1 Hz source stays at
                # 1 Hz however long a sample takes; one slower than its interval is not queued up.
                due = max(due + self.interval, time.monotonic())
                self.stopped.wait(due - time.monotonic())
        finally:
            source.close()

    def stop(self) -> None:
        """Ask the thread to finish after its current sample (each has its own timeout)."""
        self.stopped.set()
