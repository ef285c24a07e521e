"""`cockpit stats`: rollback metrics across incidents, drills apart from real incidents.

Headless (click only at import; no Textual or Rich). Exit 2 with one line on stderr when the
timeline cannot be read.
"""

from __future__ import annotations

import json

import click

from cockpit.commands.common import db_url_option, fail, open_db


def _minutes(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds / 60:.1f} min"


@click.command("stats")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="A table, or one JSON document.",
)
@click.option(
    "--drills",
    is_flag=True,
    help="Instead: each procedure's drills, newest first, their scores and trend.",
)
@db_url_option
@click.pass_context
def stats(ctx: click.Context, fmt: str, drills: bool, db: str | None) -> None:
    """MTTD, MTTDecide, MTTR, rollback success rate and false positives, across incidents.

    --drills: the scored drills instead (cockpit/core/drill_score.py), per procedure, each
    with its change against the drill of that procedure before it."""
    from cockpit.core.errors import CockpitError

    if drills:
        _drills(ctx, fmt, db)
        return
    from cockpit.core.phases import PHASES
    from cockpit.core.stats import stats as summarize
    from cockpit.core.stats import timeline_times

    try:
        with open_db(ctx, db) as store:
            times = timeline_times(store)
    except CockpitError as error:
        fail(error)
    result = summarize(times)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    rows = [
        ("incidents", "incidents", str),
        ("mean time to detect", "mttd_seconds", _minutes),
        ("mean time to decide", "mttdecide_seconds", _minutes),
        ("mean time to recover", "mttr_seconds", _minutes),
        ("rollbacks run", "rollbacks_run", str),
        ("rollback success rate", "rollback_success_rate", _rate),
        ("false positives (fired, no rollback)", "false_positives", str),
    ]
    click.echo(f"{'':38} {'real':>12} {'drills':>12}")
    for label, key, show in rows:
        real, drill = result["real"][key], result["drills"][key]
        click.echo(f"{label:38} {show(real):>12} {show(drill):>12}")  # type: ignore[operator]
    for label, key in (
        ("success rate > 95 %", "success_rate"),
        ("false positives < 5 % of fired", "false_positive_rate"),
    ):
        real, drill = result["real"]["quality"][key], result["drills"]["quality"][key]
        click.echo(f"{label:38} {_judged(real):>12} {_judged(drill):>12}")
    click.echo("")
    click.echo("phases, each from the one before it: median / p90 / mean")
    for key, label, *_ in PHASES:
        _phase_line(label, result["real"]["phases"][key], result["drills"]["phases"][key])
    _phase_line("Total", result["real"]["total"], result["drills"]["total"])


def _drills(ctx: click.Context, fmt: str, db: str | None) -> None:
    from cockpit.core.drill_history import drill_scores, history, history_lines
    from cockpit.core.errors import CockpitError

    try:
        with open_db(ctx, db) as store:
            found = history(drill_scores(store))
    except CockpitError as error:
        fail(error)
    if fmt == "json":
        click.echo(json.dumps({"drills": found}, indent=2, sort_keys=True))
    else:
        click.echo("\n".join(history_lines(found)))


def _phase_line(label: str, real: dict[str, float | None], drill: dict[str, float | None]) -> None:
    def shown(spread: dict[str, float | None]) -> str:
        return " / ".join(
            _minutes(spread[k]).removesuffix(" min") for k in ("median", "p90", "mean")
        )

    click.echo(f"  {label.split(' (')[0]:36} real {shown(real)} min · drills {shown(drill)} min")


def _judged(rate: dict[str, float | None]) -> str:
    if rate["value"] is None:
        return "n/a"
    return f"{_rate(rate['value'])} {'met' if rate['met'] else 'missed'}"


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
