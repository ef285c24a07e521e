"""Provides CockpitScreen: what every cockpit screen shares.

The typed App, and the one route for a worker that fails: Textual delivers a worker's state
changes to the node that started it only, so without this a screen's worker that raised left
its "loading…" on screen for ever, seen by nobody. Here every failure is shown and recorded by
the App (`IncidentApp.worker_failed`), then the screen may replace its placeholder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

if TYPE_CHECKING:
    from cockpit.incident_app import IncidentApp

ResultType = TypeVar("ResultType")


class _Shared:
    """The part a full screen and a modal share (a mixin: Textual's two bases differ)."""

    app: Any

    @property
    def cockpit(self) -> IncidentApp:
        """The App, typed."""
        return cast("IncidentApp", self.app)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.cockpit.worker_failed(event.worker)
            self.show_failure(event.worker)

    def show_failure(self, worker: Worker[Any]) -> None:
        """Hook: replace what waited for this worker ("loading…") with what went wrong."""


class CockpitScreen(_Shared, Screen[ResultType]):
    """A full screen of the cockpit."""


class CockpitModal(_Shared, ModalScreen[ResultType]):
    """A modal of the cockpit."""
