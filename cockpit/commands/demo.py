"""`cockpit demo`: the cockpit on a simulated production that goes bad after a scripted deploy."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from cockpit.core.clock import Clock
    from cockpit.session import StartedSources

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
    type=click.Choice(["pulse-messages", "ai-saas"]),
    default=DEMO_PROCEDURE,
    show_default=True,
    help="Whose runbook: pulse-messages rolls back through flags and Vercel, ai-saas through "
    "Kubernetes.",
)
def demo(db: str | None, incident_id: int | None, deploy_at: float, procedure_name: str) -> None:
    """Run the cockpit on the built-in simulated production (127.0.0.1 only)."""
    from cockpit.commands.run import launch, resolve_incident, session_procedure
    from cockpit.core.clock import SystemClock
    from cockpit.core.paths import data_dir
    from cockpit.core.procedure_copy import read_copy
    from cockpit.core.timeline import Timeline
    from cockpit.session import Session
    from cockpit.session_procedure import incident_copy

    db_path = Path(db) if db else data_dir() / "demo.db"
    clock = SystemClock()
    timeline = Timeline(db_path)
    incident = resolve_incident(
        timeline,
        incident_id,
        title=DEMO_TITLE,
        severity="P1",
        procedure=procedure_name,
        drill=True,
        validate=read_copy,  # the text the incident records; validated after the first paint
    )
    name = incident.procedure or procedure_name  # a resumed incident keeps its own
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
        start_sources=partial(start_demo, clock, deploy_at, name),
        clock=clock,
        poll_interval=DEMO_POLL_SECONDS,
    )
    sys.exit(launch(session, db_path))


def start_demo(clock: Clock, deploy_at: float, procedure: str = DEMO_PROCEDURE) -> StartedSources:
    """Start the simulated production, the platform simulators it rolls back through, and the
    sources and providers that talk to them (after the first paint)."""
    from cockpit.demo.platforms import start_platforms
    from cockpit.demo.scenario import Scenario
    from cockpit.demo.service import DemoService
    from cockpit.demo.sources import demo_sources
    from cockpit.session import StartedSources

    scenario = Scenario(clock, bad_deploy_at=deploy_at, ramp_seconds=4.0)
    service = DemoService(scenario)
    base_url = service.start()
    platforms = start_platforms(scenario, procedure=procedure, health_url=f"{base_url}/health")

    def stop() -> None:
        platforms.stop()
        service.stop()

    return StartedSources(
        sources=demo_sources(base_url, clock),
        note=(
            f"simulated production on {base_url}; bad deploy in {deploy_at:.0f}s; "
            f"platform simulators: {platforms.describe()}"
        ),
        stop=stop,
        actions=platforms.providers,
        notifiers=platforms.notifiers,
    )
