"""Backup archives of the PostgreSQL provider: what is known about one, and its record.

Beside each archive the provider makes, `<file>.json` (0600) keeps its integrity snapshot and
migration tables as counted in pg_dump's own snapshot, its size and sha256. A restore uses that
record only while the sha256 still matches, as what a scratch restore must give back.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from providers.postgres.db import Snapshot


@dataclass(frozen=True)
class Archive:
    """A backup file and what is known about it."""

    path: str
    size: int
    sha256: str
    snapshot: Snapshot
    """Its integrity snapshot: exact counts (from the dump's snapshot or a scratch restore)."""
    migrations: list[dict[str, Any]]
    entries: int = 0
    """Entries in its table of contents (pg_restore --list)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "snapshot": self.snapshot.as_dict(),
            "migrations": self.migrations,
            "entries": self.entries,
        }


def file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return path.stat().st_size, digest.hexdigest()


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def write_sidecar(path: Path, archive: Archive) -> None:
    """`<file>.json` beside the archive: its counts and migrations when it was made (0600)."""
    data = {**archive.as_dict(), "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    target = sidecar(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)


def read_sidecar(path: Path, sha256: str) -> dict[str, Any] | None:
    """The sidecar, when there is one and it describes this very file (same sha256)."""
    try:
        data = json.loads(sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("sha256") == sha256 else None
