"""Replays a procedure's trigger rules over recorded samples: when each would have fired, and why.

Samples come from a file (CSV with a header `at,metric,value`, or JSON lines with those keys) or
from an incident's persisted samples. An empty value means the source had no reading; the rule's
no-data policy decides what that counts as, exactly as it does live.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.core.clock import iso_ms, parse_iso
from cockpit.core.errors import CockpitError
from cockpit.core.triggers import TriggerEvaluator, Verdict

if TYPE_CHECKING:
    from cockpit.core.procedure import Procedure


class SamplesFileError(CockpitError):
    """A samples file cannot be read; the message names the file and the line."""

    title = "Bad samples file"


@dataclass(frozen=True)
class RecordedSample:
    """One reading at a time; `value` None when the source had none."""

    at: datetime
    metric: str
    value: float | None


@dataclass(frozen=True)
class Transition:
    """A rule fired or cleared at a sample."""

    at: datetime
    rule_id: str
    title: str
    verdict: Verdict

    @property
    def fired(self) -> bool:
        """True when the rule fired here, False when it cleared."""
        return self.verdict.firing

    @property
    def explanation(self) -> str:
        """Why, worded when read: a replay may find many transitions and print few."""
        return self.verdict.explanation


@dataclass(frozen=True)
class Report:
    """What a replay found."""

    transitions: list[Transition]
    final: dict[str, Verdict | None]
    """Each rule's verdict after the last sample (None: its metric had no sample)."""
    samples: int
    metrics: list[str]
    first: datetime | None
    last: datetime | None


def replay_procedure(procedure: Procedure, samples: Iterable[RecordedSample]) -> Report:
    """Feed every rule its metric's samples in time order, as the live board does."""
    ordered = sorted(samples, key=lambda s: s.at)
    by_metric: dict[str, list[tuple[str, TriggerEvaluator]]] = {}
    evaluators: dict[str, TriggerEvaluator] = {}
    for rule in procedure.triggers:
        evaluator = TriggerEvaluator(rule, procedure.metrics[rule.metric].unit)
        evaluators[rule.id] = evaluator
        by_metric.setdefault(rule.metric, []).append((rule.title, evaluator))
    transitions: list[Transition] = []
    fed = {sample.metric for sample in ordered} & set(by_metric)
    for sample in ordered:
        for title, evaluator in by_metric.get(sample.metric, ()):
            if evaluator.step(sample.value):
                transitions.append(
                    Transition(sample.at, evaluator.rule.id, title, evaluator.verdict(changed=True))
                )
    seen_rules = {evaluator.rule.id for metric in fed for _, evaluator in by_metric[metric]}
    return Report(
        transitions=transitions,
        final={
            rule_id: evaluator.verdict() if rule_id in seen_rules else None
            for rule_id, evaluator in evaluators.items()
        },
        samples=len(ordered),
        metrics=sorted({s.metric for s in ordered}),
        first=ordered[0].at if ordered else None,
        last=ordered[-1].at if ordered else None,
    )


def _value(text: str | float | int | None, where: str) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        raise SamplesFileError(f"{where}: value: {text!r} is not a number") from None


def _time(text: object, where: str) -> datetime:
    try:
        moment = parse_iso(str(text))
    except ValueError:
        raise SamplesFileError(f"{where}: at: {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise SamplesFileError(f"{where}: at: {text!r} has no time zone (write Z for UTC)")
    return moment


def read_samples(path: Path) -> list[RecordedSample]:
    """Read a CSV (`at,metric,value`) or JSON-lines samples file; errors name file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SamplesFileError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise SamplesFileError(f"{path}: not UTF-8 text") from None
    if path.suffix in {".jsonl", ".ndjson", ".json"}:
        return _read_jsonl(path, text)
    return _read_csv(path, text)


def _read_csv(path: Path, text: str) -> list[RecordedSample]:
    rows = csv.DictReader(text.splitlines())
    missing = {"at", "metric", "value"} - set(rows.fieldnames or [])
    if missing:
        raise SamplesFileError(f"{path}:1: header lacks {', '.join(sorted(missing))}")
    samples = []
    for line, row in enumerate(rows, start=2):
        where = f"{path}:{line}"
        if not row.get("metric"):
            raise SamplesFileError(f"{where}: metric: missing")
        samples.append(
            RecordedSample(_time(row["at"], where), row["metric"], _value(row["value"], where))
        )
    return samples


def _read_jsonl(path: Path, text: str) -> list[RecordedSample]:
    samples = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{line}"
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as error:
            raise SamplesFileError(f"{where}: not JSON: {error.msg}") from None
        if not isinstance(item, dict) or "at" not in item or "metric" not in item:
            raise SamplesFileError(f"{where}: needs an object with at, metric and value")
        samples.append(
            RecordedSample(
                _time(item["at"], where), str(item["metric"]), _value(item.get("value"), where)
            )
        )
    return samples


def format_report(procedure: Procedure, report: Report) -> list[str]:
    """The report as lines of text, times in UTC."""
    if report.first is None or report.last is None:
        return [f"{procedure.name}: no samples to replay"]
    lines = [
        f"{procedure.name}: {report.samples} samples of {len(report.metrics)} metrics, "
        f"{iso_ms(report.first)} to {iso_ms(report.last)}",
    ]
    unknown = sorted(set(report.metrics) - set(procedure.metrics))
    if unknown:
        lines.append(f"ignored (not metrics of this procedure): {', '.join(unknown)}")
    for change in report.transitions:
        word = "FIRED  " if change.fired else "CLEARED"
        lines.append(f"{iso_ms(change.at)}  {word}  {change.rule_id}: {change.explanation}")
    fired = {change.rule_id for change in report.transitions if change.fired}
    for rule in procedure.triggers:
        verdict = report.final.get(rule.id)
        if rule.id in fired:
            if verdict is not None and verdict.firing:
                lines.append(f"{rule.id}: still firing at the last sample")
            continue
        state = (
            f"never fired; last: {verdict.explanation}" if verdict else "never fired; no samples"
        )
        lines.append(f"{rule.id}: {state}")
    lines.extend(automatic_lines(procedure, report))
    return lines


def automatic_start(procedure: Procedure, report: Report) -> tuple[str, datetime] | None:
    """When the procedure's automatic rollback would have started: its countdown after the
    first of its triggers fired (at most one per incident, as live); None if never."""
    for change in report.transitions:
        if not change.fired:
            continue
        for entry in procedure.automatic:
            if change.rule_id in entry.triggers:
                return entry.option, change.at + timedelta(seconds=entry.countdown_seconds)
    return None


def automatic_lines(procedure: Procedure, report: Report) -> list[str]:
    """The automatic rollback's line, for a procedure that opts in to one."""
    if not procedure.automatic:
        return []
    start = automatic_start(procedure, report)
    if start is None:
        return ["automatic rollback: would not have started (none of its triggers fired)"]
    option, at = start
    return [
        f"automatic rollback: {option} would have started at {iso_ms(at)} "
        "(unless a responder cancelled its countdown)"
    ]
