"""Keeps what went wrong: a traceback saved to a private file beside the timeline.

A crash or a failed worker during an incident is recorded in the timeline with a pointer to
this file (the timeline holds one line; the file holds the whole traceback, scrubbed of
secrets), so the responder can carry on and the bug can still be reported afterwards.
"""

from __future__ import annotations

import re
import traceback
from datetime import UTC, datetime
from pathlib import Path

from cockpit.core.paths import ensure_private_dir, write_atomically
from cockpit.core.redact import scrub


def save_traceback(folder: Path, error: BaseException | None, label: str) -> Path | None:
    """Write `error`'s traceback to `<folder>/crashes/<label>-<UTC time>.txt` (0600).

    Returns the file, or None when there was nothing to save or it could not be written: the
    caller goes on either way (a full disk must not turn a worker failure into a crash).
    """
    if error is None:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-")[:60] or "crash"
    path = folder / "crashes" / f"{name}-{stamp}.txt"
    text = "".join(traceback.format_exception(error))
    try:
        ensure_private_dir(path.parent)
        write_atomically(path, scrub(text), private=True)
    except OSError:
        return None
    return path
