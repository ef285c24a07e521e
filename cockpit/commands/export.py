"""`cockpit export INCIDENT`: the post-mortem of one incident, headless, as Markdown or JSON.

Imports only click at the top (start-up budget, see `cockpit.cli`); the timeline, the procedure
loader and the renderer are imported in the command's body. Nothing here may import Textual or
Rich (a subprocess test checks it).

Exit codes: 0 success; 2 any error (unknown incident, unreadable timeline, unwritable file),
reported as one line on stderr, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cockpit.commands.common import db_option, db_path, fail

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.pool import AsyncResult, Pool

    from cockpit.core.procedure import Procedure

WORKER_TIMEOUT_S = 300.0
"""Longest wait for the second process's timeline (then it is rendered here instead)."""


def _procedure(name: str | None) -> Procedure | None:
    """The incident's procedure, or None (with a warning) when it cannot be loaded."""
    if not name:
        return None
    from cockpit.core.errors import CockpitError
    from cockpit.procedure_check import load_procedure

    try:
        return load_procedure(name)
    except (CockpitError, OSError) as error:  # one line: a ProcedureFileError's str() is one
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        click.echo(
            f"cockpit: warning: procedure {name!r} not loaded ({first}); "
            "exporting without targets and checklists",
            err=True,
        )
        return None


def _timeline_section(path: str, incident_id: int, head_id: int) -> str:
    """In the second process: the Timeline section, read and rendered on its own."""
    from cockpit.core.export import timeline_section
    from cockpit.core.timeline import Timeline

    with Timeline(Path(path), create=False) as store:
        return timeline_section(store.rows(incident_id, up_to=head_id))


class _Helper:
    """One forked worker process, or none (not wanted, or no fork on this platform); any
    failure of the worker means the caller does the work itself."""

    def __init__(self, wanted: bool) -> None:
        import multiprocessing

        self.pool: Pool | None = None
        if wanted and "fork" in multiprocessing.get_all_start_methods():
            self.pool = multiprocessing.get_context("fork").Pool(1)

    def __enter__(self) -> _Helper:
        return self

    def __exit__(self, *_: object) -> None:
        if self.pool is not None:
            self.pool.terminate()  # done or stuck, the worker goes: nothing outlives the command
            self.pool.join()

    def submit(self, function: Callable[..., str], *args: object) -> AsyncResult[str] | None:
        """Start `function(*args)` in the worker; None without one."""
        return self.pool.apply_async(function, args) if self.pool is not None else None

    def result(self, pending: AsyncResult[str] | None) -> str | None:
        """The worker's answer, or None (no worker, or it failed: the caller does it)."""
        if pending is None:
            return None
        try:
            return pending.get(timeout=WORKER_TIMEOUT_S)
        except Exception:  # whatever broke there is redone here, and reported if it breaks again
            return None


@click.command("export")
@click.argument("incident_id", metavar="INCIDENT", type=int)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file (atomically) instead of standard output.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json"]),
    default="md",
    show_default=True,
    help="Markdown post-mortem, or the same content as one JSON document.",
)
@db_option
@click.pass_context
def export(ctx: click.Context, incident_id: int, out: str | None, fmt: str, db: str | None) -> None:
    """Export the post-mortem of INCIDENT from the timeline (redacted, deterministic)."""
    from cockpit.core.errors import CockpitError
    from cockpit.core.export import render_json, render_markdown, timeline_section
    from cockpit.core.export_report import REPORT_KINDS
    from cockpit.core.export_rows import Row
    from cockpit.core.timeline import Timeline

    path = db_path(ctx, db)
    try:
        with Timeline(path, create=False) as store, _Helper(fmt == "md") as helper:
            incident = store.incident(incident_id)
            head = store.head()
            # The Markdown's full timeline is half the work of a long incident: a second
            # process reads and renders it meanwhile, when the platform can fork.
            pending = helper.submit(_timeline_section, str(path), incident_id, head[0])
            # Events only of the kinds the sections read; the full timeline as light rows.
            events = [
                event
                for event in store.events(incident_id, kinds=REPORT_KINDS)
                if event.id <= head[0]
            ]
            samples = store.samples(incident_id)
            procedure = _procedure(incident.procedure)

            def rows() -> list[Row]:
                return store.rows(incident_id, up_to=head[0])

            if fmt == "json":
                text = render_json(
                    events, incident, procedure, head=head, samples=samples, rows=rows()
                )
            else:

                def timeline() -> str:
                    found = helper.result(pending)
                    return found if found is not None else timeline_section(rows())

                text = render_markdown(
                    events, incident, procedure, head=head, samples=samples, timeline=timeline
                )
    except CockpitError as error:
        fail(error)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        from cockpit.core.paths import write_atomically

        write_atomically(Path(out), text)
    except OSError as error:
        fail(f"{out}: cannot write the export: {error.strerror or error}")
    click.echo(f"exported incident {incident_id} to {out}", err=True)
