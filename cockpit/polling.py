"""How one metric source runs: a long-lived thread worker that samples and posts messages.

The worker never touches widgets: it posts MetricsSampled or SourceFailed to the App and sleeps
on the worker's cancel event, so quitting wakes it at once. A poll cannot overlap the previous
one because the loop is sequential.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.worker import get_current_worker

from cockpit.core.errors import ProviderError
from cockpit.messages import MetricsSampled, SourceFailed

if TYPE_CHECKING:
    from providers.base import MetricSource


def poll(app: App[Any], source: MetricSource, interval: float) -> None:
    """Sample `source` every `interval` seconds until the worker is cancelled."""
    worker = get_current_worker()
    while not worker.is_cancelled:
        try:
            samples = source.sample()
        except ProviderError as error:
            app.post_message(SourceFailed(source.name, source.metric_names, str(error)))
        else:
            app.post_message(MetricsSampled(source.name, samples))
        worker.cancelled_event.wait(interval)
    source.close()
