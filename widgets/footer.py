"""Provides KeyFooter: the keys that work now, as one line of text at the bottom of a screen.

Textual's Footer is a container of one widget per key, rebuilt on every bindings change; each
screen switch restyles all of them (component classes included), and that was most of the time
a key took to switch screens (make bench: input latency). This is a single widget that
re-renders its line only when the keys it shows change. No mouse clicks on keys: on a jump host
over SSH the keyboard is what is used, and `?` lists every key.

One rule at every width: the screen's own keys first, then the App's, each shown whole or not
at all, and the help key always last: "? Help", or "? more" when some keys did not fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

if TYPE_CHECKING:
    from textual.app import RenderResult
    from textual.screen import Screen

Shown = tuple[tuple[str, str, bool], ...]

HELP = "help"
"""What the footer calls the key that lists every key: always shown, last, as "more" when keys
were left out for want of room."""

HELP_ACTIONS = ("help", "help_anywhere")
"""The help keys: `?`, and F1 where `?` is text (an editor); the first one active is shown."""


def fitted(keys: Shown, width: int) -> Shown:
    """The keys that fit `width` columns, whole and in order, then the help key: "Help" when
    every key fits, "more" when some were left out (they are on the help screen). A key is
    left out whole, never cut mid-word."""
    helps = [key for key in keys if key[1] == HELP]
    rest = [key for key in keys if key[1] != HELP]
    tail = (helps[0][0], "more", True) if helps else None
    room = width - (_width(tail) if tail is not None else 0)
    shown: list[tuple[str, str, bool]] = []
    used = 0
    for key in rest:
        if used + _width(key) > room:
            break
        shown.append(key)
        used += _width(key)
    if tail is not None:
        everything = len(shown) == len(rest)
        shown.append((tail[0], "Help" if everything else "more", True))
    return tuple(shown)


def _width(key: tuple[str, str, bool]) -> int:
    return cell_len(key[0]) + cell_len(key[1]) + 3  # " k " and "Desc "


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
        """What would be shown: (key display, description, enabled) per shown binding, the
        screen's own keys first (what this screen is for), then the App's; the help key's
        description is HELP (the footer words it)."""
        seen: set[str] = set()
        own: list[tuple[str, str, bool]] = []
        app: list[tuple[str, str, bool]] = []
        helps: list[tuple[str, str, bool]] = []
        for node, binding, enabled, _ in screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            if binding.action in HELP_ACTIONS:
                helps.append((self.app.get_key_display(binding), HELP, enabled))
                continue
            key = (self.app.get_key_display(binding), binding.description, enabled)
            (app if node is self.app else own).append(key)
        helps.sort(key=lambda key: key[0] != "?")  # ? when it works here, else F1
        return (*own, *app, *helps[:1])

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Re-render only when the keys shown would change."""
        wanted = self.wanted(screen)
        if wanted != self.shown:
            self.shown = wanted
            self.refresh()

    def render(self) -> RenderResult:
        key_style = self.get_component_rich_style("key-footer--key")
        line = Text(no_wrap=True, overflow="ellipsis")
        for key, description, enabled in fitted(self.shown, self.size.width):
            line.append(f" {key} ", style=key_style if enabled else "dim")
            line.append(f"{description} ", style="" if enabled else "dim")
        return line
