"""Provides CockpitScreen: what every cockpit screen shares.

The typed App, and the one route for a worker that fails: Textual delivers a worker's state
changes to the node that started it only, so without this a screen's worker that raised left
its "loading…" on screen for ever, seen by nobody. Here every failure is shown and recorded by
the App (`IncidentApp.worker_failed`), then the screen may replace its placeholder.

And that a screen is styled once, as it mounts: Textual restyled the whole App on the first
visits of a screen (`styled_now`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

from textual._context import NoActiveAppError
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

    def on_mount(self) -> None:  # Textual runs each class's handler: the screen's, then this
        styled_now(cast(Screen[Any], self), mounted=True)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.cockpit.worker_failed(event.worker)
            self.show_failure(event.worker)

    def show_failure(self, worker: Worker[Any]) -> None:
        """Hook: replace what waited for this worker ("loading…") with what went wrong."""


def styled_now(screen: Screen[Any], *, mounted: bool = False) -> None:
    """Record that a screen's widgets are styled by the stylesheet as it is now.

    They are, as they mount, and a later theme change moves the App's count on, so the screen
    is restyled when next shown. Textual records it only for a mounted screen shown during a
    restyle: a new screen counts as unstyled, and on the first two switches to a new mode (the
    dashboard too, on the first return to it) Textual parsed the whole stylesheet again and
    restyled every widget of the App, 50-130 ms of a key. A screen built before the App runs
    (the first one) keeps Textual's start-up styling until it mounts.
    """
    try:
        app = screen.app
    except NoActiveAppError:  # built outside a running App (a test's fixture)
        return
    if mounted or app.screen_stack:
        screen._css_update_count = app._css_update_count


class CockpitScreen(_Shared, Screen[ResultType]):
    """A full screen of the cockpit."""

    def __init__(
        self, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name, id, classes)
        styled_now(self)


class CockpitModal(_Shared, ModalScreen[ResultType]):
    """A modal of the cockpit."""

    def __init__(
        self, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name, id, classes)
        styled_now(self)
