"""`cockpit demo`: the cockpit on a simulated production that goes bad after a scripted
deploy, rehearsing any procedure: a built-in's name or a procedure file (`cockpit drill` runs
the same drill, new, and scores it: cockpit/commands/drill.py).

The simulated production emits the procedure's own metrics, its bad deploy breaches the
procedure's own triggers (cockpit.demo.drill), and every platform the procedure's options roll
back through is simulated and configured (cockpit.demo.platforms): no cockpit.toml needed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cockpit.commands.common import db_option, db_path

if TYPE_CHECKING:
    from cockpit.core.clock import Clock
    from cockpit.core.incidents import Incident
    from cockpit.core.procedure import Procedure
    from cockpit.core.procedure_copy import ProcedureCopy
    from cockpit.core.timeline import Timeline
    from cockpit.session import Session, StartedSources

DEMO_PROCEDURE = "pulse-messages"
DEMO_TITLE = "Demo: error spike after deploy v1.2.4"
#: Demo time is compressed: one poll every half second stands for one of the procedure's
#: one-minute samples, so "5 consecutive minutes" takes 2.5 s to count up.
DEMO_POLL_SECONDS = 0.5


@click.command()
@db_option
@click.option(
    "--incident", "incident_id", type=int, default=None, help="Resume this drill incident."
)
@click.option("--new", is_flag=True, help="Start a new drill even when one is open.")
@click.option(
    "--deploy-at", type=float, default=16.0, show_default=True, help="Seconds until the bad deploy."
)
@click.option(
    "--procedure",
    "procedure_name",
    default=None,
    metavar="NAME|FILE",
    help="Whose runbook: a built-in (see `cockpit procedures list`) or a procedure file "
    f"[default: {DEMO_PROCEDURE}, or the resumed incident's].",
)
@click.pass_context
def demo(
    ctx: click.Context,
    db: str | None,
    incident_id: int | None,
    new: bool,
    deploy_at: float,
    procedure_name: str | None,
) -> None:
    """Rehearse a procedure on a simulated production (127.0.0.1 only).

    The drill is an incident (marked as a drill) in the same timeline as every other, so
    `cockpit`, `cockpit timeline verify`, `cockpit stats` and exports find it. An open drill is
    resumed rather than a second one opened (--new opens another)."""
    sys.exit(
        rehearse(
            db_path(ctx, db),
            incident_id=incident_id,
            new=new,
            deploy_at=deploy_at,
            procedure_name=procedure_name,
        )
    )


def rehearse(
    db_path: Path,
    *,
    incident_id: int | None = None,
    new: bool = False,
    deploy_at: float = 16.0,
    procedure_name: str | None = None,
) -> int:
    """Run a drill in the timeline at `db_path`: the open one (or `incident_id`), else a new
    one; returns the exit code. `cockpit` without a command hands an open drill here too."""
    from cockpit.commands.run import launch

    session = drill_session(
        db_path,
        incident_id=incident_id,
        new=new,
        deploy_at=deploy_at,
        procedure_name=procedure_name,
    )
    return launch(session)


def drill_session(
    db_path: Path,
    *,
    incident_id: int | None = None,
    new: bool = False,
    deploy_at: float = 16.0,
    procedure_name: str | None = None,
    poll_seconds: float = DEMO_POLL_SECONDS,
) -> Session:
    """The session of the drill `rehearse` runs, ready to launch (`cockpit drill` scores its
    incident once the TUI exits). `poll_seconds` sets the drill clock: one poll stands for one
    of the procedure's samples (the demo's half second: ×120 for one-minute samples)."""
    from cockpit.commands.run import resolve_incident, session_procedure
    from cockpit.core.clock import SystemClock
    from cockpit.core.errors import IncidentError
    from cockpit.core.procedure_copy import read_copy
    from cockpit.core.timeline import Timeline
    from cockpit.session import Session
    from cockpit.session_procedure import incident_copy

    def prepare(name: str) -> ProcedureCopy:
        # A file is validated now, with its providers, so a mistake is one line on the
        # terminal and no incident; a built-in after the first paint, as `cockpit` does.
        copy = read_copy(name)
        if not copy.builtin:
            from cockpit.procedure_check import check_copy  # pydantic: only for a file

            check_copy(copy)
        return copy

    clock = SystemClock()
    timeline = Timeline(db_path)
    if incident_id is None and not new:
        found = open_drill(timeline, procedure_name)
        incident_id = found.id if found is not None else None
    resumed = incident_id is not None
    incident = resolve_incident(
        timeline,
        incident_id,
        title=DEMO_TITLE,
        severity="P1",
        procedure=procedure_name or DEMO_PROCEDURE,
        drill=True,
        requested=procedure_name,
        validate=prepare,  # the text the incident records
    )
    if not incident.drill:  # a simulated production must never feed a real incident
        raise IncidentError(
            f"incident {incident.id} is a real incident, not a drill: resume it with "
            f"`cockpit --incident {incident.id}`"
        )
    name = incident.procedure or procedure_name or DEMO_PROCEDURE  # a resumed one keeps its own
    copy, record = incident_copy(timeline, incident, name)  # ... and its copy of it
    outline, procedure, fallback = session_procedure(copy, None)
    done = rolled_back(timeline, incident.id)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=procedure,
        outline=outline,
        procedure_copy=copy,
        record_copy=record,
        procedure_fallback=fallback,
        clock=clock,
        poll_interval=poll_seconds,
        greeting=resume_note(incident, done) if resumed else "",
        drill_clock=True,
    )
    # After the first paint, with the procedure validated: the drill is built from it. A
    # drill whose rollback is done stays on the good version: no bad deploy again.
    session.start_sources = lambda: start_demo(
        clock, None if done else deploy_at, _validated(session)
    )
    return session


def open_drill(timeline: Timeline, procedure_name: str | None) -> Incident | None:
    """The latest open drill (of `procedure_name`, when one is named), if any."""
    for incident in timeline.incidents(include_closed=False):
        if incident.drill and (procedure_name is None or incident.procedure == procedure_name):
            return incident
    return None


def rolled_back(timeline: Timeline, incident_id: int) -> bool:
    """Whether a rollback option of this incident already succeeded."""
    options: set[str] = set()
    for event in timeline.events(incident_id, kinds=("action.intent", "action.result")):
        action_id = str(event.payload.get("action_id", ""))
        if event.kind == "action.intent" and event.payload.get("option"):
            options.add(action_id)
        elif action_id in options and event.payload.get("outcome") == "succeeded":
            return True
    return False


def resume_note(incident: Incident, done: bool) -> str:
    """What the responder is told on resuming a drill, and how to choose otherwise."""
    opened = incident.opened_at[11:16]
    note = (
        f"Drill incident {incident.id} ({incident.procedure}, opened {opened} UTC) is still "
        f"open: resumed. `cockpit demo --new` starts another; `cockpit incident close "
        f"{incident.id}` ends this one."
    )
    if done:
        note += " Its rollback is done: production stays on the good version."
    return note


def _validated(session: Session) -> Procedure:
    assert session.procedure is not None, "sources start once the procedure validated"
    return session.procedure


def start_demo(
    clock: Clock,
    deploy_at: float | None,
    procedure: str | Procedure,
    *,
    job_seconds: float = 3.0,
) -> StartedSources:
    """Start the simulated production (the procedure's metrics, going bad past its triggers)
    and the sources that read it (after the first paint); then, as `more`, the platforms its
    options roll back through and the providers that talk to them. `deploy_at`: seconds to
    the bad deploy (None: it stays healthy, a resumed drill already rolled back).
    `job_seconds`: how long a platform's rollback job takes."""
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.demo.drill import gauges, scenario_settings
    from cockpit.demo.platforms import start_platforms
    from cockpit.demo.scenario import Scenario
    from cockpit.demo.sentry import METRIC, start_sentry
    from cockpit.demo.service import DemoService
    from cockpit.demo.sources import TIMEOUT_SECONDS, demo_sources
    from cockpit.session import StartedSources

    if isinstance(procedure, str):
        procedure = load_builtin(procedure)
    settings = scenario_settings(procedure)
    never = float("inf")  # a drill already rolled back: the bad deploy never lands again
    bad_at = never if deploy_at is None else deploy_at
    scenario = Scenario(clock, bad_deploy_at=bad_at, ramp_seconds=4.0, **settings)  # type: ignore[arg-type]
    extra = gauges(procedure)
    service = DemoService(scenario, gauges=extra)
    base_url = service.start()
    # Its team reads user-reported critical bugs in Sentry, so the drill does too.
    in_sentry = [METRIC] if METRIC in procedure.metrics else []
    sources = demo_sources(base_url, clock, extra, elsewhere=in_sentry)
    where = f"simulated production on {base_url}"
    stop = service.stop
    if in_sentry:
        sentry = start_sentry(scenario, clock, TIMEOUT_SECONDS)
        sources.append(sentry.source)
        where += f", Sentry on {sentry.simulator.url}"

        def stop() -> None:
            service.stop()
            sentry.stop()

    def platforms() -> StartedSources:
        # Seconds (a database cluster, a git remote): started while the metrics are polled.
        started = start_platforms(
            scenario, procedure=procedure, job_seconds=job_seconds, health_url=f"{base_url}/health"
        )
        return StartedSources(
            sources=[],
            note=f"platform simulators: {started.describe()}",
            stop=started.stop,
            actions=started.providers,
            notifiers=started.notifiers,
        )

    return StartedSources(
        sources=sources,
        note=f"{where}; "
        + ("rolled back already" if deploy_at is None else f"bad deploy in {deploy_at:.0f}s"),
        stop=stop,
        more=platforms,
    )
