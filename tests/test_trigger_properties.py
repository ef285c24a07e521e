"""Properties of the trigger engine (hypothesis), and every built-in trigger evaluated."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.core.metrics import compare
from cockpit.core.procedure import TriggerRule
from cockpit.core.procedure_loader import builtin_names, load_builtin
from cockpit.core.rules import TriggerMode
from cockpit.core.triggers import TriggerEvaluator, replay

COMPARISONS = [">", ">=", "<", "<="]


def rule_with(**fields: object) -> TriggerRule:
    base: dict[str, object] = {
        "id": "r",
        "title": "r",
        "metric": "m",
        "source_text": "r",
        "comparison": ">",
        "threshold": 5.0,
    }
    base.update(fields)
    return TriggerRule.model_validate(base)


rules = st.builds(
    lambda comparison, threshold, mode, count, extra, min_samples, no_data, clear_after: rule_with(
        comparison=comparison,
        threshold=threshold,
        mode=mode,
        count=count,
        within=count + extra if mode == "window" else None,
        min_samples=min_samples,
        no_data=no_data,
        clear_after=clear_after,
    ),
    st.sampled_from(COMPARISONS),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from(["consecutive", "window"]),
    st.integers(1, 8),
    st.integers(0, 5),
    st.integers(1, 8),
    st.sampled_from(["hold", "ignore"]),
    st.integers(1, 4),
)


@settings(max_examples=300, deadline=None)
@given(rule=rules, data=st.data())
def test_a_series_that_never_crosses_the_threshold_never_fires(
    rule: TriggerRule, data: st.DataObject
) -> None:
    healthy = st.floats(-1e7, 1e7, allow_nan=False).filter(
        lambda v: not compare(v, rule.comparison, rule.threshold)
    )
    values = data.draw(st.lists(st.one_of(healthy, st.none()), max_size=60))
    assert not any(verdict.firing for verdict in replay(rule, values))


@settings(max_examples=300, deadline=None)
@given(
    count=st.integers(1, 10),
    threshold=st.floats(-1e6, 1e6, allow_nan=False),
    comparison=st.sampled_from(COMPARISONS),
    prefix=st.lists(st.floats(-1e7, 1e7, allow_nan=False) | st.none(), max_size=20),
    data=st.data(),
)
def test_n_consecutive_breaches_always_fire_in_consecutive_mode(
    count: int, threshold: float, comparison: str, prefix: list[float | None], data: st.DataObject
) -> None:
    rule = rule_with(comparison=comparison, threshold=threshold, count=count, min_samples=1)
    breaching = st.floats(-1e7, 1e7, allow_nan=False).filter(
        lambda v: compare(v, comparison, threshold)
    )
    run = data.draw(st.lists(breaching, min_size=count, max_size=count))
    verdicts = replay(rule, [*prefix, *run])
    assert verdicts[-1].firing


def series_for(rule: TriggerRule, *, breach: bool) -> list[float | None]:
    """Enough samples of one kind for the rule to decide: breaching or healthy throughout."""
    t = rule.threshold
    if rule.mode is TriggerMode.BASELINE:
        base = [100.0] * (rule.baseline_samples or 1)
        factor = 1 + rule.threshold / 100 * (2 if breach else 0.5)
        return [*base, *[100.0 * factor] * max(rule.count, rule.min_samples)]
    if rule.comparison in (">", ">="):
        value = t + abs(t) + 1 if breach else t - abs(t) - 1
    elif rule.comparison in ("<", "<="):
        value = t - abs(t) - 1 if breach else t + abs(t) + 1
    elif rule.comparison == "==":
        value = t if breach else t + 1
    else:
        value = t + 1 if breach else t
    return [value] * max(rule.count, rule.within or 0, rule.min_samples)


BUILTIN_RULES = [
    pytest.param(name, rule, id=f"{name}:{rule.id}")
    for name in builtin_names()
    for rule in load_builtin(name).triggers
]


@pytest.mark.parametrize(("name", "rule"), BUILTIN_RULES)
def test_every_builtin_trigger_fires_on_breaches_and_not_on_health(
    name: str, rule: TriggerRule
) -> None:
    unit = load_builtin(name).metrics[rule.metric].unit
    fired = replay(rule, series_for(rule, breach=True), unit)
    assert fired[-1].firing, fired[-1].explanation
    quiet = replay(rule, series_for(rule, breach=False), unit)
    assert not any(v.firing for v in quiet), quiet[-1].explanation


def test_the_builtins_carry_every_automatic_trigger_of_their_seed() -> None:
    counts = {name: len(load_builtin(name).triggers) for name in builtin_names()}
    # seed 000: errors, p95, bug reports, health checks, DB connections, auth (6)
    # seed 001: error rate, response time, pool exhaustion (3)
    # seed 002: HTTP 500s, p95, memory, pool, auth (5)
    # seed 003: error rate, p95, health checks, memory, pool (5)
    # seed 004: error rate, p95, database connectivity (3)
    assert counts == {
        "pulse-messages": 6,
        "huntaze": 3,
        "ai-saas": 5,
        "five-levels": 5,
        "pitchey": 3,
    }


def test_an_evaluator_step_and_observe_agree() -> None:
    rule = rule_with(mode="window", count=3, within=5)
    values = [6, 1, 6, None, 6, 6, 1, 1, 1, 1, 6]
    stepper = TriggerEvaluator(rule)
    changes = [stepper.step(v) for v in values]
    assert changes == [v.changed for v in replay(rule, values)]
