"""`cockpit demo` (or `cockpit drill`): the cockpit on a simulated production that goes bad
after a scripted deploy, rehearsing any procedure: a built-in's name or a procedure file.

The simulated production emits the procedure's own metrics, its bad deploy breaches the
procedure's own triggers (cockpit.demo.drill), and every platform the procedure's options roll
back through is simulated and configured (cockpit.demo.platforms): no cockpit.toml needed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from cockpit.core.clock import Clock
    from cockpit.core.procedure import Procedure
    from cockpit.core.procedure_copy import ProcedureCopy
    from cockpit.session import Session, StartedSources

DEMO_PROCEDURE = "pulse-messages"
DEMO_TITLE = "Demo: error spike after deploy v1.2.4"
#: Demo time is compressed: one poll every half second stands for one of the procedure's
#: one-minute samples, so "5 consecutive minutes" takes 2.5 s to count up.
DEMO_POLL_SECONDS = 0.5


@click.command()
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    help="Timeline database (default: demo.db in the data directory).",
)
@click.option(
    "--incident", "incident_id", type=int, default=None, help="Resume this demo incident."
)
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
def demo(
    db: str | None, incident_id: int | None, deploy_at: float, procedure_name: str | None
) -> None:
    """Rehearse a procedure on a simulated production (127.0.0.1 only)."""
    from cockpit.commands.run import launch, resolve_incident, session_procedure
    from cockpit.core.clock import SystemClock
    from cockpit.core.paths import data_dir
    from cockpit.core.procedure_copy import read_copy
    from cockpit.core.timeline import Timeline
    from cockpit.procedure_check import check_copy
    from cockpit.session import Session
    from cockpit.session_procedure import incident_copy

    def prepare(name: str) -> ProcedureCopy:
        # A file is validated now, with its providers, so a mistake is one line on the
        # terminal and no incident; a built-in after the first paint, as `cockpit` does.
        copy = read_copy(name)
        if not copy.builtin:
            check_copy(copy)
        return copy

    db_path = Path(db) if db else data_dir() / "demo.db"
    clock = SystemClock()
    timeline = Timeline(db_path)
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
    name = incident.procedure or procedure_name or DEMO_PROCEDURE  # a resumed one keeps its own
    copy, record = incident_copy(timeline, incident, name)  # ... and its copy of it
    outline, procedure, fallback = session_procedure(copy, None)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=procedure,
        outline=outline,
        procedure_copy=copy,
        record_copy=record,
        procedure_fallback=fallback,
        clock=clock,
        poll_interval=DEMO_POLL_SECONDS,
    )
    # After the first paint, with the procedure validated: the drill is built from it.
    session.start_sources = lambda: start_demo(clock, deploy_at, _validated(session))
    sys.exit(launch(session, db_path))


def _validated(session: Session) -> Procedure:
    assert session.procedure is not None, "sources start once the procedure validated"
    return session.procedure


def start_demo(
    clock: Clock, deploy_at: float, procedure: str | Procedure, *, job_seconds: float = 3.0
) -> StartedSources:
    """Start the simulated production (the procedure's metrics, going bad past its triggers)
    and the sources that read it (after the first paint); then, as `more`, the platforms its
    options roll back through and the providers that talk to them. `job_seconds`: how long a
    platform's rollback job takes."""
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.demo.drill import gauges, scenario_settings
    from cockpit.demo.platforms import start_platforms
    from cockpit.demo.scenario import Scenario
    from cockpit.demo.service import DemoService
    from cockpit.demo.sources import demo_sources
    from cockpit.session import StartedSources

    if isinstance(procedure, str):
        procedure = load_builtin(procedure)
    settings = scenario_settings(procedure)
    scenario = Scenario(clock, bad_deploy_at=deploy_at, ramp_seconds=4.0, **settings)  # type: ignore[arg-type]
    extra = gauges(procedure)
    service = DemoService(scenario, gauges=extra)
    base_url = service.start()

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
        sources=demo_sources(base_url, clock, extra),
        note=f"simulated production on {base_url}; bad deploy in {deploy_at:.0f}s",
        stop=service.stop,
        more=platforms,
    )
