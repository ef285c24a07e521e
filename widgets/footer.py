"""Provides KeyFooter: the keys that work now, as one line of text at the bottom of a screen.

Textual's Footer is a container of one widget per key, rebuilt on every bindings change; each
screen switch restyles all of them (component classes included), and that was most of the time
a key took to switch screens (make bench: input latency). This is a single widget that
re-renders its line only when the keys it shows change. No mouse clicks on keys: on a jump host
over SSH the keyboard is what is used, and `?` lists every key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.widget import Widget

if TYPE_CHECKING:
    from textual.app import RenderResult
    from textual.screen import Screen

Shown = tuple[tuple[str, str, bool], ...]


class KeyFooter(Widget):
    """One line: each shown binding's key and description; disabled ones dimmed."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-footer--key"}
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    KeyFooter > .key-footer--key {
        color: $footer-key-foreground;
        text-style: bold;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.shown: Shown = ()

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)

    def wanted(self, screen: Screen[object]) -> Shown:
        """What would be shown: (key display, description, enabled) per shown binding."""
        seen: set[str] = set()
        keys = []
        for _, binding, enabled, _ in screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            keys.append((self.app.get_key_display(binding), binding.description, enabled))
        return tuple(keys)

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Re-render only when the keys shown would change."""
        wanted = self.wanted(screen)
        if wanted != self.shown:
            self.shown = wanted
            self.refresh()

    def render(self) -> RenderResult:
        key_style = self.get_component_rich_style("key-footer--key")
        line = Text(no_wrap=True, overflow="ellipsis")
        for key, description, enabled in self.shown:
            line.append(f" {key} ", style=key_style if enabled else "dim")
            line.append(f"{description} ", style="" if enabled else "dim")
        return line
