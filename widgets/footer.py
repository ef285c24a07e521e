"""Provides KeyFooter: Textual's Footer, rebuilt only when the keys it shows change.

Textual's Footer rebuilds all its key widgets on every bindings change (each focus move, screen
switch, refresh_bindings). Each rebuild restyles some fifteen widgets; during an action that was
most of the cockpit's own time (make bench). The keys shown rarely change, so this compares what
would be shown with what is shown and skips the rebuild when they are the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Footer

if TYPE_CHECKING:
    from textual.screen import Screen


class KeyFooter(Footer):
    """A Footer that skips rebuilds which would show the same keys."""

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[tuple[str, str, bool], ...] | None = None

    def _wanted(self, screen: Screen[object]) -> tuple[tuple[str, str, bool], ...]:
        return tuple(
            (binding.key, binding.description, enabled)
            for (_, binding, enabled, _) in screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen and self._bindings_ready:
            wanted = self._wanted(screen)
            if wanted == self._shown:
                return
            self._shown = wanted
        super().bindings_changed(screen)
