"""Trigger semantics: consecutive, window, baseline, min_samples, no-data policy, clearing."""

from __future__ import annotations

import pytest

from cockpit.core.procedure import TriggerRule
from cockpit.core.triggers import TriggerStatus, replay


def rule(**overrides: object) -> TriggerRule:
    fields: dict[str, object] = {
        "id": "errors",
        "title": "Error rate > 5% for 5 consecutive minutes",
        "metric": "error_rate",
        "comparison": ">",
        "threshold": 5,
        "mode": "consecutive",
        "count": 5,
        "source_text": "Error rate > 5% for 5 consecutive minutes",
    }
    fields.update(overrides)
    return TriggerRule.model_validate(fields)


def test_consecutive_fires_on_the_fifth_breach_in_a_row_and_counts_up() -> None:
    verdicts = replay(rule(), [6, 7, 8, 9, 10], "%")
    assert [v.counter for v in verdicts] == [f"{n}/5 consecutive" for n in range(1, 6)]
    assert [v.status for v in verdicts[:4]] == [TriggerStatus.PENDING] * 4
    assert verdicts[4].status is TriggerStatus.FIRING and verdicts[4].changed
    assert "error_rate 10% breaches > 5%" in verdicts[4].explanation
    assert "5/5 consecutive" in verdicts[4].explanation


def test_a_healthy_sample_resets_the_run() -> None:
    verdicts = replay(rule(), [6, 6, 6, 6, 1, 6, 6, 6, 6])
    assert not any(v.firing for v in verdicts)
    assert verdicts[-1].counter == "4/5 consecutive"


def test_exactly_the_threshold_does_not_breach_a_strict_comparison() -> None:
    verdicts = replay(rule(count=1), [5.0])
    assert verdicts[0].status is TriggerStatus.OK


def test_min_samples_holds_back_an_early_fire() -> None:
    verdicts = replay(rule(count=1, min_samples=3), [9, 9, 9])
    assert [v.firing for v in verdicts] == [False, False, True]
    assert "1/3 samples before it may fire" in verdicts[0].explanation


def test_window_mode_counts_breaches_in_the_last_y() -> None:
    health = rule(
        id="health",
        metric="health_check_failed",
        comparison="==",
        threshold=1,
        mode="window",
        count=4,
        within=5,
    )
    verdicts = replay(health, [1, 0, 1, 1, 0, 1, 1])
    assert verdicts[5].counter == "3/4 in last 5"  # last five: 0 1 1 0 1
    assert not verdicts[5].firing
    assert verdicts[6].counter == "4/4 in last 5"  # last five: 1 1 0 1 1
    assert verdicts[6].firing and verdicts[6].changed


def test_window_mode_forgets_old_breaches() -> None:
    health = rule(
        id="health",
        metric="health_check_failed",
        comparison="==",
        threshold=1,
        mode="window",
        count=4,
        within=5,
    )
    verdicts = replay(health, [1, 1, 1, 0, 0, 0, 0, 0, 1])
    assert not any(v.firing for v in verdicts)
    assert verdicts[-1].counter == "1/4 in last 5"  # the first three breaches fell out


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("hold", "3/5 consecutive"), ("breach", "4/5 consecutive"), ("ignore", "0/5 consecutive")],
)
def test_no_data_policy(policy: str, expected: str) -> None:
    verdicts = replay(rule(no_data=policy), [6, 6, 6, None])
    assert verdicts[-1].counter == expected
    assert "no data" in verdicts[-1].explanation


def test_a_flapping_metric_does_not_fire_clear_fire() -> None:
    flappy = rule(count=2, clear_after=3)
    verdicts = replay(flappy, [6, 6, 1, 6, 1, 6, 1, 1, 1])
    changes = [(i, v.status) for i, v in enumerate(verdicts) if v.changed]
    assert changes == [(1, TriggerStatus.FIRING), (8, TriggerStatus.OK)]
    assert all(v.firing for v in verdicts[1:8])
    assert "still firing until 3 healthy in a row (1/3)" in verdicts[4].explanation


def test_baseline_mode_compares_with_the_median_of_healthy_samples() -> None:
    p95 = rule(
        id="p95",
        metric="p95_latency_ms",
        comparison=">",
        threshold=50,
        mode="baseline",
        count=1,
        baseline_samples=4,
    )
    verdicts = replay(p95, [200, 210, 190, 200, 220, 320], "ms")
    assert verdicts[0].status is TriggerStatus.WAITING
    assert verdicts[0].counter == "baseline 1/4"
    assert verdicts[4].status is TriggerStatus.OK  # +10 %
    assert verdicts[5].firing
    # the healthy 220 joined the baseline: median of 210, 190, 200, 220 is 205
    assert "320 ms is +56% vs baseline 205 ms" in verdicts[5].explanation


def test_baseline_is_not_poisoned_by_breaching_values() -> None:
    p95 = rule(
        id="p95",
        metric="p95_latency_ms",
        comparison=">",
        threshold=50,
        mode="baseline",
        count=1,
        baseline_samples=3,
        clear_after=1,
    )
    verdicts = replay(p95, [100, 100, 100] + [400] * 10)
    assert all(v.firing for v in verdicts[3:])


def test_values_in_explanations_read_naturally() -> None:
    from cockpit.core.triggers import _fmt

    assert [_fmt(v) for v in (4.001, 4.5, 9.0, 0.25, 694.2)] == ["4", "4.5", "9", "0.25", "694"]
