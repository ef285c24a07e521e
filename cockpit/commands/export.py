"""`cockpit export INCIDENT`: the post-mortem of one incident, headless, as Markdown or JSON.

Imports only click at the top (start-up budget, see `cockpit.cli`); the timeline, the procedure
loader and the renderer are imported in the command's body. Nothing here may import Textual or
Rich (a subprocess test checks it).

Only a timeline that verifies is exported: the chain up to the head the report names is
proven, in a forked process while this one builds the report (0.4 s of CPU for 100,000
events, hidden when a core is free for it; done here when there is no fork). When it does not
verify, the export is refused, naming where the chain failed; `--unverified` writes it anyway,
its first line and its footer saying where the chain failed instead of naming a verified head.
(As JSON, the document's ``chain`` says ``verified: false`` and the failure; the warning goes
to stderr.)

The procedure is the copy the incident recorded when it opened, not the file as edited since;
when the file on disk differs (or is gone, or is used because the copy no longer validates),
the report's note near the top and a warning on stderr say so.

Exit codes: 0 success; 2 any error (unknown incident, a timeline that does not verify, a damaged
or unreadable timeline, unwritable file), reported as one line on stderr, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cockpit.commands.common import db_target, db_url_option, fail, open_db, shown_db

if TYPE_CHECKING:
    from collections.abc import Callable

    from cockpit.core.procedure import Procedure
    from cockpit.core.timeline import Incident
    from cockpit.core.timeline_open import AnyTimeline

WORKER_TIMEOUT_S = 20.0
"""Longest wait for a child's answer, then its work is done here instead (proving 100,000
events takes a child 0.4 s; 20 s covers millions on a loaded machine)."""


class _Refused(Exception):
    """The timeline does not verify and --unverified was not given; the message says why."""


def _procedure(store: AnyTimeline, incident: Incident) -> tuple[Procedure | None, str | None]:
    """The incident's procedure (the copy it recorded; else, for an incident opened without
    one, the file as it is now), and the line saying how the file on disk differs, or None.

    A procedure that cannot be loaded is exported without (with a warning)."""
    name = incident.procedure
    if not name:
        return None, None
    from cockpit.core.errors import CockpitError
    from cockpit.core.procedure_copy import note, read_copy, recorded_copy
    from cockpit.procedure_check import load_copy

    try:
        copy = recorded_copy(store, incident.id) or read_copy(name)
        loaded = load_copy(copy)
    except (CockpitError, OSError) as error:  # one line: a ProcedureFileError's str() is one
        _not_loaded(name, str(error).splitlines()[0] if str(error) else type(error).__name__)
        return None, None
    if loaded.procedure is None:
        _not_loaded(name, loaded.error or "it does not validate")
        # Said in the report too when the file is not the copy (changed, or gone).
        return None, loaded.error if note(copy) is not None else None
    said = note(copy, loaded.fallback)
    if said is not None:
        click.echo(f"cockpit: warning: {said}", err=True)
    return loaded.procedure, said


def _not_loaded(name: str, why: str) -> None:
    click.echo(
        f"cockpit: warning: procedure {name!r} not loaded ({why}); "
        "exporting without targets and checklists",
        err=True,
    )


def _verify_url(url: str) -> str:
    """The command that checks a PostgreSQL timeline, for an export's footer (`url` is
    shown without its password)."""
    import shlex

    return f"cockpit timeline verify --db {shlex.quote(url)}"


def _timeline_section(path: str, incident_id: int, head_id: int) -> str:
    """In a worker process: the Timeline section, read and rendered on its own."""
    from cockpit.core.export import timeline_section
    from cockpit.core.timeline import Timeline

    with Timeline(Path(path), create=False) as store:
        return timeline_section(store.rows(incident_id, up_to=head_id))


def chain_failure(store: AnyTimeline, head: tuple[int, str]) -> str:
    """Why the timeline up to `head` (the one the export names) does not verify; "" when it
    does. Other errors (a lock, a disk error) are raised."""
    from cockpit.core.errors import ChainBroken, TimelineDamaged

    try:
        report = store.verify(up_to=head[0])
    except ChainBroken as broken:
        return f"the hash chain fails at event {broken.event_id}: {broken.reason}"
    except TimelineDamaged as damaged:
        where = f" at {damaged.where}" if damaged.where else ""
        return f"the timeline is damaged{where}: {damaged.problem}"
    if report.head_hash != head[1]:
        return f"the hash chain fails at event {head[0]}: its hash changed during the export"
    return ""


def _chain_failure(path: str, head: tuple[int, str]) -> str:
    """In a worker process: `chain_failure` on a connection of its own."""
    from cockpit.core.timeline import Timeline

    with Timeline(Path(path), create=False) as store:
        return chain_failure(store, head)


class _Helper:
    """Forked children, one per task, or none (no fork here, or other threads run); whatever a
    child does not answer in time, or fails at, the caller does itself.

    A bare fork and a pipe, not multiprocessing.Pool: a pool's worker that died or hung left
    its result (and terminate()) waiting on a lock in the pool's queues; a child here is read
    with a deadline and then killed, whatever state it is in.
    """

    def __init__(self, workers: int) -> None:
        import os
        import threading

        # Forking a process that runs other threads can copy a lock one of them holds into the
        # child, which then never answers. With another thread alive the caller does the work.
        self.can_fork = bool(workers) and hasattr(os, "fork") and threading.active_count() == 1
        self.children: list[_Child] = []

    def __enter__(self) -> _Helper:
        return self

    def __exit__(self, *_: object) -> None:
        for child in self.children:
            child.end()  # done or stuck, the child goes: nothing outlives the command

    def submit(self, function: Callable[..., str], *args: object) -> _Child | None:
        """Start `function(*args)` in a child; None without one."""
        import os

        if not self.can_fork:
            return None
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: answer through the pipe, then leave without any cleanup
            status = 1
            try:
                os.close(read)
                data = function(*args).encode("utf-8", "surrogatepass")
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(data)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        child = _Child(pid, read)
        self.children.append(child)
        return child

    def result(self, child: _Child | None) -> str | None:
        """The child's answer, or None (no child, it failed, or it took longer than
        WORKER_TIMEOUT_S: the caller does it)."""
        return child.answer(WORKER_TIMEOUT_S) if child is not None else None


class _Child:
    """One forked task: its pid and the pipe its answer comes through."""

    def __init__(self, pid: int, pipe: int) -> None:
        self.pid = pid
        self.pipe: int | None = pipe
        self.running = True

    def answer(self, timeout: float) -> str | None:
        import os
        import select
        import time

        if self.pipe is None:
            return None
        deadline = time.monotonic() + timeout
        chunks: list[bytes] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.pipe], [], [], left)[0]:
                self.end()  # stuck: killed, and the caller does the work
                return None
            chunk = os.read(self.pipe, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        # The pipe closed: the child wrote all it had and is exiting; its status says if the
        # answer is whole.
        if self.end(kill=False) != 0:
            return None
        return b"".join(chunks).decode("utf-8", "surrogatepass")

    def end(self, *, kill: bool = True) -> int | None:
        """Close the pipe, kill the child if it still runs (unless told it is exiting), reap
        it; its exit status (None if it was killed or already reaped)."""
        import os
        import signal

        if self.pipe is not None:
            os.close(self.pipe)
            self.pipe = None
        if not self.running:
            return None
        self.running = False
        if kill:
            os.kill(self.pid, signal.SIGKILL)  # a child already gone is a zombie until reaped
        _, status = os.waitpid(self.pid, 0)
        return None if kill else os.waitstatus_to_exitcode(status)


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
@click.option(
    "--unverified",
    is_flag=True,
    help="Export even when the timeline does not verify; the report's first line and footer "
    "then say where the chain failed.",
)
@db_url_option
@click.pass_context
def export(
    ctx: click.Context,
    incident_id: int,
    out: str | None,
    fmt: str,
    unverified: bool,
    db: str | None,
) -> None:
    """Export the post-mortem of INCIDENT from the timeline (redacted, deterministic).

    Refused when the timeline does not verify, unless --unverified.
    """
    from cockpit.core.errors import CockpitError
    from cockpit.core.export import render_json, render_markdown, timeline_section
    from cockpit.core.export_report import REPORT_KINDS
    from cockpit.core.export_rows import Row
    from cockpit.core.paths import verify_command

    target = db_target(ctx, db)
    path = target if isinstance(target, Path) else None  # None: a PostgreSQL timeline
    shown = shown_db(target)
    verify = verify_command(path) if path is not None else _verify_url(shown)
    failed: list[str] = []  # the chain's failure, once known
    try:
        # One worker per task: with a core free for each, both are done before this process.
        # A PostgreSQL timeline's work is the server's and this connection's: no child.
        workers = (2 if fmt == "md" else 1) if path is not None else 0
        with open_db(ctx, db) as store, _Helper(workers) as helper:
            incident = store.incident(incident_id)
            head = store.head()
            # Proving the chain and the Markdown's full timeline are each about a third of the
            # work of a long incident: other processes do them meanwhile, when the platform
            # can fork; whatever they cannot do is done here.
            checking = helper.submit(_chain_failure, str(path), head)
            pending = (
                helper.submit(_timeline_section, str(path), incident_id, head[0])
                if fmt == "md"
                else None
            )
            # Events only of the kinds the sections read; the full timeline as light rows.
            events = [
                event
                for event in store.events(incident_id, kinds=REPORT_KINDS)
                if event.id <= head[0]
            ]
            samples = store.samples(incident_id)
            procedure, said = _procedure(store, incident)

            def rows() -> list[Row]:
                return store.rows(incident_id, up_to=head[0])

            def failure() -> str | None:
                found = helper.result(checking)
                failed.append(found if found is not None else chain_failure(store, head))
                if failed[0] and not unverified:
                    # Refused before the rest is rendered (and never half-written).
                    raise _Refused(failed[0])
                return failed[0] or None

            if fmt == "json":
                every = rows()
                text = render_json(
                    events,
                    incident,
                    procedure,
                    head=head,
                    samples=samples,
                    rows=every,
                    failure=failure(),
                    note=said,
                    verify=verify,
                )
            else:

                def timeline() -> str:
                    found = helper.result(pending)
                    return found if found is not None else timeline_section(rows())

                text = render_markdown(
                    events,
                    incident,
                    procedure,
                    head=head,
                    samples=samples,
                    timeline=timeline,
                    failure=failure,
                    note=said,
                    verify=verify,
                )
    except _Refused as refused:
        fail(
            f"{shown}: incident {incident_id} not exported: {refused} (`cockpit timeline "
            "verify` says more; --unverified exports it anyway, marked as unverified)"
        )
    except CockpitError as error:
        fail(error)
    if failed and failed[0]:
        click.echo(f"cockpit: warning: exported unverified: {failed[0]}", err=True)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        from cockpit.core.paths import write_atomically

        write_atomically(Path(out), text)
    except OSError as error:
        fail(f"{out}: cannot write the export: {error.strerror or error}")
    click.echo(f"exported incident {incident_id} to {out}", err=True)
