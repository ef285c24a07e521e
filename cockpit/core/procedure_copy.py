"""The copy of its procedure an incident keeps: the file's exact text, its sha256, its source.

A procedure file is edited after an incident (a threshold tuned, a provider renamed), yet the
incident's export, its post-mortem and a cockpit resuming it must read the procedure it ran
under. So when an incident opens, the text of its procedure file is recorded as it was read
(not re-serialised), with the SHA-256 of its bytes and where it came from (a built-in, or the
file's absolute path): one ``procedure.recorded`` event, written only by
`Timeline.open_incident` and `Timeline.record_procedure` (the kind is reserved, so an incident
has one copy). An incident opened before this existed has none: the first cockpit session that
resumes it records the copy it uses, so it is stable from then on.

Readers load the recorded copy (`load`), compare it with the file as it is now (`note`: one
line when the file changed or is gone, None when it is the same) and, when the copy no longer
validates (a provider it names was removed), fall back to the file with a line saying so; a
procedure that cannot be had either way is an error message, never a crash.

The text goes through the timeline's redaction like every payload: a secret written in a
procedure file is removed from the copy, whose `sha256` still names the file's bytes.

Light to import (the first paint reads a copy's outline): the loader or the procedure cache,
and pydantic with them, only when `load` runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.core.errors import ProcedureFileError

if TYPE_CHECKING:
    from cockpit.core.event_log import EventLog
    from cockpit.core.pg_event_log import PgEventLog
    from cockpit.core.procedure import Procedure
    from cockpit.core.procedure_loader import Check

RECORDED = "procedure.recorded"
"""The event kind of an incident's copy of its procedure (reserved: see `EventLog.record`)."""

BUILTIN = "built-in"
"""The `source` of a built-in procedure's copy (a file's is its absolute path)."""


def sha256_of(text: str) -> str:
    """The SHA-256 of text as its UTF-8 bytes: those of the file it was read from."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ProcedureCopy:
    """A procedure file's text as read, its SHA-256, and where it came from."""

    name: str
    """As the incident names it: a built-in's name or the path it was given."""
    source: str
    """`BUILTIN`, or the file's absolute path."""
    text: str
    sha256: str
    """Of the file's bytes (the text may since have lost a secret to redaction)."""

    @property
    def builtin(self) -> bool:
        """Whether it is a built-in procedure's copy."""
        return self.source == BUILTIN

    @property
    def shown(self) -> str:
        """The file, as errors name it: `checklists/NAME.yaml` or the path."""
        return f"checklists/{self.name}.yaml" if self.builtin else self.source

    @property
    def described(self) -> str:
        """`procedure NAME (FILE)` for a human, the file left out when it is the name."""
        if self.shown == self.name:
            return f"procedure {self.name}"
        return f"procedure {self.name} ({self.shown})"

    @property
    def short(self) -> str:
        """The hash's first 8 digits, for a human."""
        return f"{self.sha256[:8]}…"

    def payload(self) -> dict[str, str]:
        """The ``procedure.recorded`` event's payload."""
        return {"name": self.name, "source": self.source, "sha256": self.sha256, "text": self.text}

    def summary(self, *, at_resume: bool = False) -> str:
        """The event's one line (the text stays in the payload, off the on-screen timeline)."""
        if at_resume:
            return (
                f"Procedure {self.name} recorded at resume (sha256 {self.short}): the incident "
                "was opened without a copy"
            )
        return f"Procedure {self.name} recorded (sha256 {self.short})"

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ProcedureCopy | None:
        """The copy a ``procedure.recorded`` event holds; None when it holds none."""
        fields = [payload.get(key) for key in ("name", "source", "text", "sha256")]
        if not all(isinstance(value, str) and value for value in fields):
            return None
        name, source, text, sha256 = (str(value) for value in fields)
        return cls(name, source, text, sha256)


def read_copy(name_or_path: str) -> ProcedureCopy:
    """The procedure file a name resolves to (as every loader resolves it), as it is now.

    Raises:
        ProcedureFileError: It cannot be read (missing, not a regular file, too large, ...).
    """
    from cockpit.core.procedure_file import names_a_file, read_builtin, read_text

    if names_a_file(name_or_path):
        path = Path(name_or_path)
        text, source = read_text(path), str(path.absolute())
    else:
        text, source = read_builtin(name_or_path), BUILTIN
    return ProcedureCopy(name_or_path, source, text, sha256_of(text))


def on_disk(copy: ProcedureCopy) -> ProcedureCopy | str:
    """The file `copy` came from as it is now, or why it cannot be read."""
    from cockpit.core.procedure_file import read_builtin, read_text

    try:
        text = read_builtin(copy.name) if copy.builtin else read_text(Path(copy.source))
    except ProcedureFileError as error:
        return error.problems[0].message
    return ProcedureCopy(copy.name, copy.source, text, sha256_of(text))


def recorded_copy(timeline: EventLog | PgEventLog, incident: int) -> ProcedureCopy | None:
    """The copy of its procedure the incident recorded (the first), if any."""
    found = timeline.events(incident, kinds=[RECORDED], limit=1)
    return ProcedureCopy.from_payload(found[0].payload) if found else None


def note(copy: ProcedureCopy, fallback: str | None = None) -> str | None:
    """One line when the procedure in use is not the file on disk now; None when it is.

    `fallback`: the line `load` gave when the recorded copy did not validate (the file is
    used instead, and that is what needs saying).
    """
    if fallback is not None:
        return fallback
    disk = on_disk(copy)
    if isinstance(disk, str):
        return (
            f"{copy.described} cannot be read now ({disk}); the copy the "
            f"incident recorded is used (sha256 {copy.short})"
        )
    if disk.sha256 == copy.sha256:
        return None
    return (
        f"{copy.described} has changed since the incident recorded its copy "
        f"(sha256 {copy.short} then, {disk.short} now); the recorded copy is used"
    )


@dataclass(frozen=True)
class Loaded:
    """A procedure loaded from a copy: it, or why there is none."""

    procedure: Procedure | None
    fallback: str | None = None
    """Why the copy did not validate, when the file on disk is used instead (one line)."""
    error: str | None = None
    """Why there is no procedure at all (one line)."""


def load(
    copy: ProcedureCopy,
    *,
    check: Check | None = None,
    check_key: Callable[[], str] | None = None,
) -> Loaded:
    """The procedure `copy` holds, validated (and `check`ed); when it no longer validates,
    the file as it is now, with the reason; never raises for a procedure that is bad.

    Through the procedure cache (`cockpit.core.procedure_cache`): a text validated before is
    read, not validated again; with a `check`, only when `check_key` names what it consults.
    """
    from functools import partial

    from cockpit.core.procedure_cache import parse

    validate = partial(parse, check=check, check_key=check_key)
    try:
        return Loaded(validate(copy.text, copy.shown))
    except ProcedureFileError as error:
        failed = str(error)
    disk = on_disk(copy)
    if not isinstance(disk, str) and disk.sha256 == copy.sha256:
        return Loaded(None, error=failed)  # the file is the copy: its own error says it all
    recorded = f"the copy the incident recorded (sha256 {copy.short}) no longer validates"
    if isinstance(disk, str):
        return Loaded(
            None,
            error=f"{copy.described}: {recorded} ({failed}), and the file cannot be read now "
            f"({disk})",
        )
    try:
        procedure = validate(disk.text, disk.shown)
    except ProcedureFileError as error:
        return Loaded(
            None,
            error=f"{copy.described}: {recorded} ({failed}), nor does the file on disk ({error})",
        )
    return Loaded(
        procedure,
        fallback=f"{copy.described}: {recorded} ({failed}); the file on disk is used "
        f"instead (sha256 {disk.short})",
    )
