"""Validated procedures kept by the hash of their text, so a second start validates nothing.

Validating a procedure on a start costs the YAML parse, the build of pydantic's validators
(about 0.1 s for a built-in in a new process) and, for a procedure file, importing every
provider it names to check its options (0.2-0.4 s more). The same text validated before is
read here from JSON in a few milliseconds (`cockpit.core.procedure_json`: constructed, not
validated, so the validators are never built: see `defer_build` in `cockpit.core.procedure`).

An entry is named by the sha256 of everything its validated form depends on (`key`): the
text, the cockpit's version, pydantic's, and the source of the modules that read and validate
a procedure (`SCHEMA_MODULES`); and, when the procedure is also checked against the providers,
the key the check gives (see `cockpit.procedure_check.check_key`). Any of them changing names
another entry, so a stale one is never read, only left for the pruning. Only a procedure that
validated is kept: a bad one raises its ProcedureFileError on every start, as before.

Entries live in the data directory (`cache/procedures`, owner-only), are written through a
temporary file and a rename, and the newest KEEP are kept. An entry that is missing, corrupt,
unreadable, or not the owner's own is validated again from the text and rewritten: the cache
can make a start slower, never make it fail.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable
from contextlib import suppress
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.core.procedure import Procedure
    from cockpit.core.procedure_loader import Check

FORMAT = "procedure-cache/1"
"""Bumped when the entry's layout changes (the codec's source is in the key as well)."""

KEEP = 32
"""Entries kept: a write past this removes the least recently used."""

MAX_ENTRY_BYTES = 8 * 1024 * 1024
"""A 1 MiB procedure (the most a file may be) is at most a few MiB of JSON."""

SCHEMA_MODULES = (
    "checklist_state",
    "errors",
    "metrics",
    "procedure",
    "procedure_cache",
    "procedure_file",
    "procedure_json",
    "procedure_loader",
    "rules",
    "safe_read",
    "safe_yaml",
)
"""The modules of cockpit.core that shape a validated procedure: the models, the loader and
its cross-reference checks, the YAML reading, and this cache with its codec. The tests check
that these are every cockpit module the loader imports."""

_STALE_TEMPORARY_SECONDS = 3600.0
"""A temporary file this old was left by a writer that died; a live one is milliseconds old."""


def cache_dir() -> Path:
    """Where validated procedures are kept: the data directory's cache folder."""
    from cockpit.core.paths import data_dir

    return data_dir() / "cache" / "procedures"


@cache
def schema_fingerprint() -> str | None:
    """The hash of what shapes a validated procedure besides its text; None (nothing is
    cached) when the sources cannot be read.

    Once per process: it names the models this process has imported, which a file edited
    while the cockpit runs no longer describes.
    """
    import sys

    import pydantic
    import pydantic_core

    import cockpit

    digest = hashlib.sha256()
    for part in (
        FORMAT,
        cockpit.__version__,
        pydantic.VERSION,
        pydantic_core.__version__,
        f"{sys.version_info.major}.{sys.version_info.minor}",
    ):
        digest.update(part.encode() + b"\0")
    folder = Path(__file__).parent
    try:
        for name in SCHEMA_MODULES:
            digest.update(name.encode() + b"\0" + (folder / f"{name}.py").read_bytes() + b"\0")
    except OSError:
        return None
    return digest.hexdigest()


def key(text: str, check_key: str = "") -> str | None:
    """The entry's name for this text (checked with the check whose key is `check_key`)."""
    schema = schema_fingerprint()
    if schema is None:
        return None
    digest = hashlib.sha256()
    for part in (schema, check_key, hashlib.sha256(text.encode("utf-8")).hexdigest()):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def parse(
    text: str,
    shown: str,
    *,
    check: Check | None = None,
    check_key: Callable[[], str] | None = None,
    folder: Path | None = None,
) -> Procedure:
    """`parse_procedure`, through the cache: the same text, validated before with the same
    models (and `check`, whose `check_key` names what it consults), is read, not validated.

    A `check` without a `check_key` is run every time: what it consults is unknown.

    Raises:
        ProcedureFileError: The procedure does not validate (never cached).
    """
    if check is not None and check_key is None:
        return _validate(text, shown, check)
    name = key(text, check_key() if check_key is not None else "")
    if name is None:
        return _validate(text, shown, check)
    folder = cache_dir() if folder is None else folder
    entry = folder / f"{name}.json"
    found = read_entry(entry, name)
    if found is not None:
        return found
    procedure = _validate(text, shown, check)
    write_entry(folder, entry, name, procedure)
    return procedure


def _validate(text: str, shown: str, check: Check | None) -> Procedure:
    # Imported here: the loader brings PyYAML, which a start from the cache does without.
    from cockpit.core.procedure_loader import parse_procedure

    return parse_procedure(text, shown, check=check)


def load_builtin(name: str) -> Procedure:
    """A built-in procedure (not checked against the providers), through the cache."""
    from cockpit.core.procedure_file import read_builtin

    return parse(read_builtin(name), f"checklists/{name}.yaml")


def read_entry(entry: Path, name: str) -> Procedure | None:
    """The procedure an entry holds; None for anything else (missing, corrupt, another key's,
    not the owner's own, ...), so that it is validated again."""
    from cockpit.core.procedure_json import loads
    from cockpit.core.safe_read import read_regular_file

    try:
        if not _owned(entry):
            return None
        head, _, body = read_regular_file(entry, MAX_ENTRY_BYTES).decode("utf-8").partition("\n")
        if head != name:  # a file copied or renamed over another key's
            return None
        found = loads(body)
    except Exception:  # any failure to read an entry means: validate the text again
        return None
    with suppress(OSError):  # a read-only data directory still reads
        os.utime(entry)  # used: the pruning keeps the most recently used
    return found


def _owned(entry: Path) -> bool:
    """Whether no one but its owner, this user, could have written the entry: what a file
    says is trusted as validated, so one another user could plant is not read."""
    info = os.stat(entry)
    if not stat.S_ISREG(info.st_mode):
        return False
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None:  # Windows: the data directory's ACL is the user's
        return True
    return info.st_uid == geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def write_entry(folder: Path, entry: Path, name: str, procedure: Procedure) -> None:
    """Keep a validated procedure (atomically, owner-only) and prune the oldest entries. A
    data directory that cannot be written, or a procedure the format cannot hold, is not an
    error: the next start validates again."""
    from cockpit.core.paths import ensure_private_dir, write_atomically
    from cockpit.core.procedure_json import NotEncodable, dumps

    try:
        body = f"{name}\n{dumps(procedure)}"
    except NotEncodable:
        return
    if len(body) > MAX_ENTRY_BYTES:
        return
    try:
        ensure_private_dir(folder)
        write_atomically(entry, body, private=True)
        prune(folder)
    except OSError:
        pass


def prune(folder: Path, keep: int | None = None) -> None:
    """Remove all but the `keep` (KEEP) most recently used entries, and temporary files left
    by a writer that died."""
    keep = KEEP if keep is None else keep
    entries: list[tuple[float, Path]] = []
    now = time.time()
    for path in folder.iterdir():
        try:
            used = path.stat().st_mtime
        except OSError:
            continue  # removed meanwhile by another cockpit's pruning
        if path.name.endswith(".json") and not path.name.startswith("."):
            entries.append((used, path))
        elif path.name.endswith(".tmp") and now - used > _STALE_TEMPORARY_SECONDS:
            path.unlink(missing_ok=True)
    entries.sort(reverse=True)
    for _, path in entries[keep:]:
        path.unlink(missing_ok=True)
