"""Durations per phase (issue 19): each phase from the milestone before it, the first from the
impact's start, held against the procedure's target for that phase; missing and out-of-order
milestones, and a trigger's breach start kept from the board to the timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cockpit.core.board import Board
from cockpit.core.metrics import Sample
from cockpit.core.phases import phases
from cockpit.core.procedure_loader import load_builtin

OPENED = "2026-01-15T03:00:00.000Z"
TARGETS = {
    "time_to_detect": (5.0, "detect < 5 min"),
    "time_to_decide": (2.0, "decide < 2 min"),
    "time_to_rollback": (5.0, "roll back < 5 min"),
    "total_duration": (15.0, "total < 15 min"),
}


def at(minutes: float) -> str:
    moment = datetime(2026, 1, 15, 3, tzinfo=UTC) + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def reached(**milestones: float | None) -> dict[str, str | None]:
    keys = ("impact", "detect", "acknowledge", "decide", "rollback_start", "rollback_end")
    keys += ("verify", "total")
    return {k: None if milestones.get(k) is None else at(milestones[k] or 0) for k in keys}


def by_key(rows: list) -> dict:  # type: ignore[type-arg]
    return {row.key: row for row in rows}


def test_a_slow_detection_does_not_make_a_quick_decision_missed() -> None:
    rows = by_key(
        phases(
            reached(
                impact=1,
                detect=4,
                decide=4 + 10 / 60,
                rollback_start=5,
                rollback_end=7,
                verify=7.5,
                total=12,
            ),
            OPENED,
            still_open=False,
            targets=TARGETS,
        )
    )
    assert rows["detect"].seconds == 180 and rows["detect"].verdict == "met"
    assert rows["acknowledge"].verdict == "not reached"
    assert rows["decide"].start == "detect", "no acknowledgement: from the trigger"
    assert rows["decide"].seconds == 10 and rows["decide"].verdict == "met"
    assert rows["rollback"].seconds == 120 and rows["rollback"].verdict == "met"
    assert rows["total"].start == "impact" and rows["total"].seconds == 11 * 60
    assert rows["total"].verdict == "met"


def test_without_an_impact_start_detection_counts_from_the_opening() -> None:
    rows = by_key(phases(reached(detect=6), OPENED, still_open=True, targets=TARGETS))
    assert rows["detect"].start == "opened" and rows["detect"].seconds == 360
    assert rows["detect"].verdict == "missed"
    assert rows["decide"].verdict == "open" and rows["decide"].seconds is None
    assert rows["total"].verdict == "open"


def test_a_decision_before_any_trigger_is_out_of_order_not_negative() -> None:
    rows = by_key(
        phases(
            reached(impact=5, detect=6, decide=2, rollback_start=7),
            OPENED,
            still_open=False,
            targets=TARGETS,
        )
    )
    assert rows["decide"].verdict == "out of order" and rows["decide"].seconds is None
    assert rows["start"].start == "detect", "counted from the last milestone in order"
    assert rows["start"].seconds == 60


def test_a_damaged_impact_time_is_ignored_not_a_crash() -> None:
    milestones = reached(detect=3)
    milestones["impact"] = "yesterday"
    rows = by_key(phases(milestones, OPENED, still_open=False, targets=TARGETS))
    assert rows["detect"].start == "opened" and rows["detect"].seconds == 180


def test_the_board_keeps_when_the_breach_that_fired_began() -> None:
    procedure = load_builtin("pulse-messages")
    board = Board(procedure, 1.0)
    rule = next(r for r in procedure.triggers if r.metric == "error_rate")
    start = datetime(2026, 1, 15, 3, tzinfo=UTC)
    fired = []
    for second in range(rule.count + 5):
        value = 0.1 if second < 3 else rule.threshold + 5
        sample = Sample("error_rate", value, start + timedelta(seconds=second), "scrape")
        fired += [c for c in board.ingest([sample]) if c.rule.id == rule.id and c.verdict.firing]
    assert fired, "the rule fired"
    assert fired[0].began == start + timedelta(seconds=3), "the first breaching sample"
