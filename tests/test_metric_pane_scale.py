"""A metric pane's bars mean something: they are drawn against the procedure's trigger threshold
(or a fixed top) and the pane says which; a reading no trigger watches is judged by the
procedure's own checks instead of passing for OK."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Group
from rich.text import Text
from textual.app import App, ComposeResult

from cockpit.core.board import Board, MetricView
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import PaneState, Sample
from cockpit.core.procedure import Procedure
from cockpit.core.procedure_loader import load_builtin
from widgets.metric_pane import MetricPane, bars

FULL = "█"


def board_after(procedure: Procedure, readings: dict[str, list[float]]) -> list[MetricView]:
    """The board's views after each metric's readings, one sample a second."""
    clock = FixedClock()
    board = Board(procedure, 1.0)
    for index in range(max(len(values) for values in readings.values())):
        clock.advance(1)
        board.ingest(
            [
                Sample(metric, values[index], clock.now(), "scrape")
                for metric, values in readings.items()
                if index < len(values)
            ]
        )
    return board.views(clock.now() + timedelta(seconds=0.5))


def view_of(views: list[MetricView], metric: str) -> MetricView:
    return next(view for view in views if view.metric == metric)


class PaneApp(App[None]):
    """One pane as wide as a dashboard's at 80 columns."""

    CSS = "MetricPane { width: 26; }"

    def __init__(self, view: MetricView) -> None:
        super().__init__()
        self.first_view = view

    def compose(self) -> ComposeResult:
        yield MetricPane(self.first_view.metric, self.first_view.title, id="pane")

    def on_mount(self) -> None:
        self.query_one(MetricPane).view = self.first_view


def spark_of(pane: MetricPane) -> str:
    group = pane.render()
    assert isinstance(group, Group)
    spark = group.renderables[1]
    assert isinstance(spark, Text)
    return spark.plain


async def test_a_low_steady_error_rate_draws_low_bars_and_says_the_threshold_is_full() -> None:
    steady = [0.40, 0.39, 0.41, 0.40] * 5  # ai-saas: > 5 % of requests failing
    view = view_of(board_after(load_builtin("ai-saas"), {"error_rate": steady}), "error_rate")
    async with PaneApp(view).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        pane = pilot.app.query_one(MetricPane)
        assert "0.40%  OK" in pane.reading()
        spark = spark_of(pane)
        assert spark and FULL not in spark
        assert set(spark) <= set("▁▂"), spark  # under a tenth of the threshold: the lowest bars
        assert str(pane.border_subtitle) == "0–5% (threshold)"


async def test_a_reading_past_the_threshold_is_a_full_bar() -> None:
    rising = [0.4, 0.4, 2.5, 5.0, 9.0]
    view = view_of(board_after(load_builtin("ai-saas"), {"error_rate": rising}), "error_rate")
    assert view.scale is not None and view.scale.top == 5.0
    assert bars(view.history, 10, view.scale.top) == "▂▂▅██"


def test_a_baseline_trigger_draws_its_line_from_the_baseline() -> None:
    # pulse-messages: p95 more than 50 % above its baseline; 180 ms steady, so 270 ms is full.
    procedure = load_builtin("pulse-messages")
    rule = next(rule for rule in procedure.triggers if rule.metric == "p95_latency_ms")
    steady = [180.0] * ((rule.baseline_samples or 1) + 3)
    view = view_of(board_after(procedure, {"p95_latency_ms": steady}), "p95_latency_ms")
    assert view.scale is not None
    assert (view.scale.top, view.scale.why) == (270.0, "baseline +50%")
    assert set(bars(view.history, 40, view.scale.top)) == {"▆"}  # two thirds of the way up


def test_a_metric_without_a_line_has_a_fixed_top() -> None:
    # five-levels: its health check is a 0/1 flag; a percentage with no trigger is 0-100.
    views = board_after(load_builtin("five-levels"), {"health_check_failed": [0.0] * 6})
    view = view_of(views, "health_check_failed")
    assert view.scale is not None and view.scale.top == 1.0
    assert bars(view.history, 6, view.scale.top) == "▁" * 6


def test_a_failing_health_check_no_trigger_watches_is_not_ok() -> None:
    # ai-saas has no trigger on health_check_failed; its checklists want it at 0.
    procedure = load_builtin("ai-saas")
    assert not any(rule.metric == "health_check_failed" for rule in procedure.triggers)
    failing = view_of(
        board_after(procedure, {"health_check_failed": [0.0, 1.0]}), "health_check_failed"
    )
    assert failing.value == 1.0
    assert failing.state is PaneState.WARNING
    assert "checklist wants == 0" in failing.detail and "no trigger" in failing.detail
    passing = view_of(
        board_after(procedure, {"health_check_failed": [1.0, 0.0]}), "health_check_failed"
    )
    assert passing.state is PaneState.OK and passing.detail == ""


async def test_the_failing_flag_says_warning_on_the_pane() -> None:
    procedure = load_builtin("pitchey")  # no trigger on its health check either
    views = board_after(procedure, {"health_check_failed": [1.0, 1.0]})
    async with PaneApp(view_of(views, "health_check_failed")).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        pane = pilot.app.query_one(MetricPane)
        assert pane.reading() == "1  WARNING"
        assert pane.has_class("-warning")
