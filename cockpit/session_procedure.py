"""Which procedure a cockpit session runs: the incident's recorded copy, told against the disk.

An incident keeps the text of its procedure as it was when it opened (see
`cockpit.core.procedure_copy`); a cockpit that resumes it, `cockpit postmortem` and `cockpit
demo` run that copy, not the file as edited since. `incident_copy` finds the copy before the
App starts (an incident opened without one gets the file as it is now, which the session then
records); `load_session_procedure` validates it in the App's worker after the first paint and
says, in one line, when the file on disk is not what runs (changed, gone, or used instead of a
copy that no longer validates).

Headless (no Textual): the App only posts what these return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cockpit.core.errors import CockpitError
from cockpit.core.procedure_copy import ProcedureCopy, read_copy, recorded_copy

if TYPE_CHECKING:
    from cockpit.core.incidents import Incident
    from cockpit.core.procedure import Procedure
    from cockpit.core.procedure_copy import Loaded
    from cockpit.core.timeline_open import AnyTimeline
    from cockpit.session import Session


def incident_copy(
    timeline: AnyTimeline, incident: Incident, name: str, *, watching: bool = False
) -> tuple[ProcedureCopy, bool]:
    """The copy of its procedure the incident recorded, and False; for an incident opened
    without one, the file `name` as it is now, and True: the session records it (a watcher,
    which writes nothing, does not).

    Raises:
        ProcedureFileError: There is no copy and the file cannot be read.
    """
    recorded = recorded_copy(timeline, incident.id)
    if recorded is not None:
        return recorded, False
    return read_copy(name), not watching


@dataclass(frozen=True)
class SessionProcedure:
    """What the App's worker found: the procedure (or why none), and what to tell."""

    procedure: Procedure | None
    fallback: str | None = None
    """Why the recorded copy did not validate, when `procedure` is the file on disk."""
    error: str | None = None
    note: str | None = None
    """One line when the file on disk is not what runs; None when it is."""


def load_session_procedure(session: Session) -> SessionProcedure:
    """In a worker: validate the session's procedure (its copy, else the built-in named by
    its outline) unless it already is, and compare its copy with the file on disk. A text
    validated on an earlier start is read from the procedure cache instead
    (`cockpit.core.procedure_cache`).

    Not against the providers when it is the built-in as installed: the tests check every
    built-in against every one (`cockpit procedures validate`), and importing them all
    (psycopg among them) cost each session about 12 MiB and 0.1 s for nothing. A copy that
    differs from the installed built-in is checked against them (a provider may have gone
    since); a procedure file is checked before the cockpit starts (commands/run.py).
    """
    from cockpit.core.procedure_copy import note

    copy, procedure, fallback = (
        session.procedure_copy,
        session.procedure,
        session.procedure_fallback,
    )
    if copy is None:
        if procedure is not None:
            return SessionProcedure(procedure)
        from cockpit.core.procedure_cache import load_builtin

        try:
            return SessionProcedure(load_builtin(session.procedure_name))
        except CockpitError as error:
            return SessionProcedure(None, error=str(error))
    if procedure is None:
        loaded = _load_copy(copy)
        if loaded.procedure is None:
            return SessionProcedure(None, error=loaded.error)
        procedure, fallback = loaded.procedure, loaded.fallback
    return SessionProcedure(procedure, fallback, note=note(copy, fallback))


def _load_copy(copy: ProcedureCopy) -> Loaded:
    from cockpit.core.procedure_copy import load, on_disk

    disk = on_disk(copy)
    if copy.builtin and not isinstance(disk, str) and disk.sha256 == copy.sha256:
        return load(copy)
    from cockpit.procedure_check import check_key, provider_problems

    return load(copy, check=provider_problems, check_key=check_key)
