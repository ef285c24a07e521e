"""Provides MetricPane: one metric's value, state word, sparkline and trigger counter."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, Sparkline

from cockpit.core.board import MetricView
from cockpit.core.metrics import PaneState

_STATE_CLASSES = {state: f"-{state.value.replace(' ', '-')}" for state in PaneState}


def format_value(value: float | None, unit: str) -> str:
    """A compact reading: '7.21 %', '652 ms', '1'."""
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.2f}%"
    number = f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.2f}"
    if not unit:
        return number
    return f"{number} {unit}"


class MetricPane(Widget):
    """A bordered pane for one metric. Its state is a CSS class and a word, never colour alone."""

    DEFAULT_CSS = """
    MetricPane { height: 5; border: round $panel-lighten-2; padding: 0 1; }
    MetricPane > .reading { width: 1fr; height: 1; }
    MetricPane > Sparkline { height: 1; }
    MetricPane > .detail { height: 1; color: $text-muted; }
    """

    view: reactive[MetricView | None] = reactive(None, layout=False)
    """The metric's current view; set by the dashboard (attributes down)."""

    def __init__(self, metric: str, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.metric = metric
        self.border_title = title

    def compose(self) -> ComposeResult:
        yield Label("—", classes="reading")
        yield Sparkline([], summary_function=max)
        yield Label("", classes="detail")

    def watch_view(self, view: MetricView | None) -> None:
        if view is None:
            return
        reading = self.query_one(".reading", Label)
        word = view.state.value.upper()
        reading.update(f"{format_value(view.value, view.unit)}  {word}")
        self.query_one(Sparkline).data = view.history[-60:]
        self.query_one(".detail", Label).update(view.detail)
        for state, css_class in _STATE_CLASSES.items():
            self.set_class(state is view.state, css_class)
