"""A reading that is not a finite number is no data, with its reason: never healthy, never a crash.

NaN compares false with everything, so before this a NaN under a "> 5" rule counted as healthy
and cleared a firing trigger; -Inf under "> 5" did the same; and the metric pane died formatting
either. These tests hold the whole path: the sample, the trigger engine, the board, the pane.
"""

from __future__ import annotations

import math

import pytest

from cockpit.core.board import Board
from cockpit.core.clock import FixedClock
from cockpit.core.metrics import PaneState, Sample
from cockpit.core.procedure import Procedure, TriggerRule
from cockpit.core.triggers import TriggerStatus, replay
from widgets.metric_pane import bars, format_value

NON_FINITE = [math.nan, math.inf, -math.inf]


def rule(no_data: str) -> TriggerRule:
    return TriggerRule.model_validate(
        {
            "id": "errors",
            "title": "Error rate > 5%",
            "metric": "error_rate",
            "comparison": ">",
            "threshold": 5,
            "mode": "consecutive",
            "count": 2,
            "clear_after": 1,
            "no_data": no_data,
            "source_text": "Error rate > 5%",
        }
    )


@pytest.mark.parametrize("bad", NON_FINITE)
def test_a_sample_that_is_not_finite_is_no_data_with_its_reason(bad: float) -> None:
    sample = Sample("error_rate", bad, FixedClock().now(), "scrape")
    assert sample.value is None
    assert "error_rate" in sample.error and ("NaN" in sample.error or "Inf" in sample.error)


def test_a_value_that_is_not_a_number_at_all_is_no_data() -> None:
    sample = Sample("error_rate", "9.5", FixedClock().now(), "buggy")  # type: ignore[arg-type]
    assert sample.value is None and "not a number" in sample.error


@pytest.mark.parametrize("policy", ["hold", "breach", "ignore"])
@pytest.mark.parametrize("bad", NON_FINITE)
def test_no_data_never_clears_a_firing_trigger(policy: str, bad: float) -> None:
    verdicts = replay(rule(policy), [9, 9, bad, bad, bad])
    assert verdicts[1].firing
    assert all(v.firing for v in verdicts[2:]), [v.explanation for v in verdicts]
    assert "no data" in verdicts[-1].explanation


@pytest.mark.parametrize("policy", ["hold", "ignore"])
@pytest.mark.parametrize("bad", NON_FINITE)
def test_no_data_is_never_reported_as_ok(policy: str, bad: float) -> None:
    verdicts = replay(rule(policy), [1, 1, bad])
    assert verdicts[1].status is TriggerStatus.OK
    assert verdicts[2].status is TriggerStatus.NO_DATA


def test_a_healthy_reading_after_the_gap_still_clears() -> None:
    verdicts = replay(rule("hold"), [9, 9, math.nan, 1])
    assert verdicts[2].firing and not verdicts[3].firing


def test_the_board_shows_no_data_with_the_reason_where_a_trigger_fires(
    pulse_procedure: Procedure,
) -> None:
    clock = FixedClock()
    board = Board(pulse_procedure, 15.0)
    metric = pulse_procedure.triggers[0].metric
    for _ in range(10):
        board.ingest([Sample(metric, 99.0, clock.now(), "scrape")])
    assert any(r.metric == metric for r, _ in board.firing())
    board.ingest([Sample(metric, math.nan, clock.now(), "scrape")])
    view = next(v for v in board.views(clock.now()) if v.metric == metric)
    assert view.state is PaneState.NO_DATA and view.value is None
    assert "NaN" in view.detail
    assert any(r.metric == metric for r, _ in board.firing()), "still firing"


@pytest.mark.parametrize("bad", NON_FINITE)
def test_the_pane_formats_what_it_cannot_print_as_a_dash(bad: float) -> None:
    assert format_value(bad, "%") == "—"
    assert format_value(bad, "ms") == "—"
    assert bars([1.0, bad, 2.0], 10) == bars([1.0, 2.0], 10)
