"""Provides MetricPane: one metric's value, state word, sparkline and trigger counter.

One widget rendering one Rich group, rather than a container of labels and a Sparkline widget:
the dashboard's first paint is budgeted, and Textual styles, lays out and renders every widget
on its own.

The bars are drawn against the scale the board gives (cockpit.core.pane_rules: the trigger's
threshold, else a fixed top), and the pane says which on its bottom border ("scale 0–5%
(threshold)"): a bar's height means something only when the reader knows what full is.
"""

from __future__ import annotations

import math
from typing import ClassVar

from rich.console import Group, RenderableType
from textual.reactive import reactive
from textual.widget import Widget

from cockpit.core.board import MetricView
from cockpit.core.metrics import PaneState
from cockpit.core.pane_rules import scale_label
from widgets.plain import plain, plain_text

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

    def render(self) -> RenderableType:
        view = self.view
        history = view.history if view is not None else []
        top = view.scale.top if view is not None and view.scale is not None else None
        spark = plain_text(
            bars(history, max(1, self.content_size.width), top),
            style=self.get_component_rich_style("metric-pane--spark"),
            no_wrap=True,
        )
        return Group(
            plain_text(
                self.reading(),
                style=self.get_component_rich_style("metric-pane--reading"),
                no_wrap=True,
                overflow="ellipsis",
            ),
            spark,
            plain_text(
                view.detail if view is not None else "",  # a source's error, in its words
                one_line=True,
                no_wrap=True,
                overflow="ellipsis",
                style=self.get_component_rich_style("metric-pane--detail"),
            ),
        )

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
