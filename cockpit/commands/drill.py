"""`cockpit drill`: a scored drill. It runs the drill `cockpit demo --new` runs, and when the
cockpit exits prints its score out of 100 and the parts it is made of (cockpit/core/
drill_score.py), and ticks the procedure's practice-drill item the drill did (an item with
`drill: rollback` or `drill: full`). `cockpit drill --score ID` scores a drill already run,
without opening the TUI (headless: nothing here imports Textual until a drill runs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from cockpit.commands.common import db_option, db_path

DRILL_SCALE = 10.0
"""A scored drill's clock: ten times the wall's, so the runbooks' targets stay humanly reachable
(decide < 2 min is 12 s of the drill) while a 5-minute breach takes 30 s; the demo runs at ×120,
a show of the flow, not a test of the responder."""
SAMPLE_SECONDS = 60.0
"""The built-in procedures' sample interval; the drill clock records the exact scale."""


@click.command()
@click.argument("procedure", required=False, metavar="[PROCEDURE]")
@db_option
@click.option(
    "--procedure",
    "procedure_option",
    default=None,
    metavar="NAME|FILE",
    help="The same as PROCEDURE: a built-in (see `cockpit procedures list`) or a procedure "
    "file [default: pulse-messages].",
)
@click.option(
    "--incident",
    "incident_id",
    type=int,
    default=None,
    help="Resume this open drill instead of starting a new one (scored when it exits too).",
)
@click.option("--new", is_flag=True, hidden=True, help="The default (kept for old scripts).")
@click.option(
    "--deploy-at", type=float, default=16.0, show_default=True, help="Seconds until the bad deploy."
)
@click.option(
    "--scale",
    type=click.FloatRange(1, 120),
    default=DRILL_SCALE,
    show_default=True,
    help="How much faster the drill's clock runs than the wall's, for a procedure sampled "
    "every minute (the built-ins): every clock and target of the drill runs at it.",
)
@click.option(
    "--score",
    "score_id",
    type=int,
    default=None,
    metavar="ID",
    help="Score the drill incident ID (already run) and exit; the TUI does not open.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How the score is printed.",
)
@click.pass_context
def drill(
    ctx: click.Context,
    procedure: str | None,
    db: str | None,
    procedure_option: str | None,
    incident_id: int | None,
    new: bool,
    deploy_at: float,
    scale: float,
    score_id: int | None,
    fmt: str,
) -> None:
    """Rehearse a procedure on a simulated production (127.0.0.1 only), then score the drill.

    A new drill each time (--incident resumes one). When the cockpit exits, the drill's score
    out of 100 is printed with its parts: phases against the procedure's targets, checklist
    items left open, wrong turns in the wizard, status updates missed and keys pressed."""
    if procedure and procedure_option and procedure != procedure_option:
        raise click.UsageError(f"two procedures named: {procedure!r} and {procedure_option!r}")
    path = db_path(ctx, db)
    if score_id is not None:
        if procedure or procedure_option or incident_id is not None:
            raise click.UsageError("--score scores a drill already run: name nothing else")
        import gc

        gc.enable()  # `cockpit.cli` keeps it off for the TUI's first frame; none here
        show(*score_and_tick(path, score_id), fmt)
        return
    from cockpit.commands.demo import drill_session
    from cockpit.commands.run import launch

    session = drill_session(
        path,
        incident_id=incident_id,
        new=incident_id is None,
        deploy_at=deploy_at,
        procedure_name=procedure or procedure_option,
        poll_seconds=SAMPLE_SECONDS / scale,
    )
    code = launch(session)
    show(*score_and_tick(path, session.incident.id), fmt)
    sys.exit(code)


def score_and_tick(path: Path, incident_id: int) -> tuple[dict[str, Any], list[str]]:
    """Score the drill `incident_id` of the timeline at `path`, and record the ticks of the
    practice-drill items it did; returns the score (as data) and its lines.

    Raises:
        IncidentError: No such incident, or a real incident rather than a drill.
    """
    from cockpit.core.drill_history import drill_procedure, score_lines
    from cockpit.core.drill_score import practice_ticks, score_drill
    from cockpit.core.errors import IncidentError
    from cockpit.core.timeline import Timeline

    with Timeline(path, create=False) as store:
        incident = store.incident(incident_id)
        if not incident.drill:
            raise IncidentError(f"incident {incident_id} is a real incident, not a drill")
        events = store.events(incident_id)
        procedure = drill_procedure(store, incident)
        score = score_drill(incident, events, procedure)
        ticks = practice_ticks(score, events, procedure) if procedure is not None else []
        for kind, summary, payload in ticks:
            store.record(incident_id, kind, summary, payload)
    lines = score_lines(score)
    lines += [f"Ticked: {summary.removeprefix('Ticked by itself: ')}" for _, summary, _ in ticks]
    if score.status == "open":
        lines.append(
            f"The drill is still open: `cockpit incident close {incident_id}` ends it, "
            f"`cockpit drill --score {incident_id}` scores it again."
        )
    ticked = [{"list": p["list"], "item": p["item"]} for _, _, p in ticks]
    return {**score.as_dict(), "ticked": ticked}, lines


def show(data: dict[str, Any], lines: list[str], fmt: str) -> None:
    """Print the score as text or JSON."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo("\n".join(lines))
