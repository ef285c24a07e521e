"""Provides MetricPane: one metric's value, state word, sparkline and trigger counter.

One widget drawing three lines, rather than a container of labels and a Sparkline widget:
the dashboard's first paint is budgeted, and Textual styles, lays out and renders every widget
on its own. Each line is one styled segment, drawn by `render_line` without Rich's console:
a pane changes with every poll round, and going through a Rich group cost ~0.9 ms a pane
(twelve sources at 1 Hz: 5 ms of every second); `render` gives the same lines as Rich text,
for a text selection.

The bars are drawn against the scale the board gives (cockpit.core.pane_rules: the trigger's
threshold, else a fixed top), and the pane says which on its bottom border ("scale 0–5%
(threshold)"): a bar's height means something only when the reader knows what full is.
"""

from __future__ import annotations

import math
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.console import Group, RenderableType
from rich.segment import Segment
from rich.text import Text
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from cockpit.core.board import MetricView
from cockpit.core.metrics import PaneState
from cockpit.core.pane_rules import scale_label
from cockpit.core.redact import scrub
from widgets.plain import plain, plain_text, visible

_STATE_CLASSES = {state: f"-{state.value.replace(' ', '-')}" for state in PaneState}


def format_value(value: float | None, unit: str) -> str:
    """A compact reading: '7.21%', '652 ms', '1'; '—' for no reading (NaN and ±Inf included:
    the core turns them into no data, and a pane must not die if one gets through)."""
    if value is None or not math.isfinite(value):
        return "—"
    if unit == "%":
        return f"{value:.2f}%"
    number = f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.2f}"
    return f"{number} {unit}" if unit else number


_BARS = "▁▂▃▄▅▆▇█"


def bars(values: list[float], width: int, top: float | None = None) -> str:
    """A one-line sparkline of the newest values, one column each, from 0 (or below) to `top`
    (a value past it is a full bar); without `top`, to the highest value. A value that is not
    finite is left out."""
    recent = [v for v in values[-width:] if math.isfinite(v)]
    if not recent:
        return ""
    # Anchored at zero: a flat 0.40 % must not look volatile because it wobbles by 0.01.
    low = min(0.0, *recent)
    high = top if top is not None and math.isfinite(top) and top > low else max(recent)
    span = high - low
    if span == 0:
        return _BARS[0] * len(recent)
    last = len(_BARS) - 1
    return "".join(_BARS[min(last, round((v - low) / span * last))] for v in recent)


class MetricPane(Widget):
    """A bordered pane for one metric. Its state is a CSS class and a word, never colour alone."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "metric-pane--reading",
        "metric-pane--detail",
        "metric-pane--spark",
    }
    DEFAULT_CSS = """
    MetricPane { height: 5; border: round $panel-lighten-2; padding: 0 1; }
    MetricPane > .metric-pane--reading { text-style: bold; }
    MetricPane > .metric-pane--detail { color: $text-muted; }
    MetricPane > .metric-pane--spark { color: $primary; }
    """

    view: reactive[MetricView | None] = reactive(None)
    """The metric's current view; set by the dashboard (attributes down)."""

    def __init__(self, metric: str, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.metric = metric
        self.border_title = plain(title, one_line=True)  # the procedure's words, not markup
        self._scale_shown = ""

    def reading(self) -> str:
        """The first line: value and state word, e.g. '9.00%  BREACH'."""
        view = self.view
        if view is None:
            return "—  WAITING"
        return f"{format_value(view.value, view.unit)}  {view.state.value.upper()}"

    def scale_text(self) -> str:
        """What a full bar stands for, as the bottom border says it ("" before a reading)."""
        view = self.view
        width = max(1, self.content_size.width)
        if view is None or view.scale is None or not view.history:
            return ""
        low = min([0.0, *(v for v in view.history[-width:] if math.isfinite(v))])  # as bars()
        # The border keeps a corner, a rule and a space each side of the subtitle.
        return scale_label(view.scale, low, view.unit, max(0, self.size.width - 6))

    def line_text(self, y: int) -> tuple[str, str]:
        """Line `y` of the pane as shown (before cutting to width) and its component class:
        the reading, the bars, the detail (a source's error, in its words, made visible)."""
        view = self.view
        if y == 0:
            return self.reading(), "metric-pane--reading"
        if y == 1:
            history = view.history if view is not None else []
            top = view.scale.top if view is not None and view.scale is not None else None
            return bars(history, max(1, self.content_size.width), top), "metric-pane--spark"
        detail = view.detail if view is not None else ""
        return visible(scrub(detail), one_line=True), "metric-pane--detail"

    def render_line(self, y: int) -> Strip:
        """One line: its text cut with an ellipsis, in the pane's style and its component's (the
        pane pads it to its width)."""
        if y > 2:
            return Strip([])
        text, component = self.line_text(y)
        width = self.content_size.width
        if cell_len(text) > width:
            text = set_cell_size(text, width - 1) + "…" if width > 0 else ""
        if not text:
            return Strip([])
        style = self.visual_style.rich_style + self.get_component_rich_style(component)
        return Strip([Segment(text, style)], cell_len(text))

    def rich_line(self, y: int) -> Text:
        """Line `y` as Rich text, cut as render_line cuts it."""
        text, component = self.line_text(y)
        style = self.get_component_rich_style(component)
        return plain_text(text, style=style, no_wrap=True, overflow="ellipsis")

    def render(self) -> RenderableType:
        """The same lines as Rich text (what a text selection reads; render_line draws them)."""
        return Group(self.rich_line(0), self.rich_line(1), self.rich_line(2))

    def watch_view(self, view: MetricView | None) -> None:
        if view is None:
            return
        for state, css_class in _STATE_CLASSES.items():
            self.set_class(state is view.state, css_class)
        self.show_scale()

    def on_resize(self) -> None:
        self.show_scale()

    def show_scale(self) -> None:
        """Put the scale on the bottom border (set only when it changed: setting repaints)."""
        text = self.scale_text()
        if text != self._scale_shown:
            self._scale_shown = text
            self.border_subtitle = plain(text, one_line=True)  # holds the procedure's unit
