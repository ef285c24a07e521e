"""Where a restore's backup file comes from: a local path, or a fetcher that makes one.

Everything after this point (format detection, checksum, scratch restore, the restore itself)
works on a local file. A backup named by URL (`s3://bucket/db/backup.sql.gz`, `r2://…`) is
handed to the fetcher registered for its scheme in `FETCHERS`, which downloads it (into the
provider's backup folder) and returns the local path: providers.postgres.s3_fetch registers
s3:// and r2://; another scheme is refused with what to do instead. Plain names are relative to
`backup_dir`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.core.errors import ProviderError

if TYPE_CHECKING:
    from providers.postgres.provider import PostgresProvider

Fetch = Callable[["PostgresProvider", str, Mapping[str, Any]], Path]
"""(provider, the backup's URL, the action's params) → the local file it was fetched to."""
FETCHERS: dict[str, Fetch] = {}
"""URL scheme → its fetcher (providers.postgres.s3_fetch registers s3 and r2 here)."""
FETCHED: dict[str, str] = {}
"""Local path of a fetched file → where it came from and how it was checked, for the plan."""
BACKUP_SUFFIXES = (".dump", ".backup", ".sql", ".sql.gz", ".gz", ".tar")
URL = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)


def locate(provider: PostgresProvider, params: Mapping[str, Any]) -> Path:
    """The local backup file the params name (fetched first when it is a URL)."""
    given = params.get("backup") or params.get("backup_file")
    if not given:
        raise ProviderError(
            "restore_backup needs backup: <file>; in "
            f"{provider.backup_dir(create=False)}: {listing(candidates(provider, params))}"
        )
    scheme = URL.match(str(given))
    if scheme:
        fetch = FETCHERS.get(scheme.group(1).lower())
        if fetch is None:
            raise ProviderError(
                f"no fetcher for {scheme.group(1)}:// backups here: download {given} into "
                f"{provider.backup_dir(create=False)} and name the file"
            )
        return fetch(provider, str(given), params)
    path = Path(str(given)).expanduser()
    if not path.is_absolute():
        base = Path(str(params["backup_dir"])) if params.get("backup_dir") else None
        path = (base or provider.backup_dir(create=False)) / path
    if not path.is_file():
        raise ProviderError(
            f"no backup file at {path}; in {path.parent}: {listing(candidates(provider, params))}"
        )
    return path


def candidates(provider: PostgresProvider, params: Mapping[str, Any]) -> list[Path]:
    """Backup files in the folder, newest first: those matching backup_pattern when given."""
    base = params.get("backup_dir")
    folder = Path(str(base)).expanduser() if base else provider.backup_dir(create=False)
    if not folder.is_dir():
        return []
    pattern = str(params.get("backup_pattern") or "")
    found = [
        p
        for p in folder.iterdir()
        if p.is_file()
        and (fnmatch.fnmatch(p.name, pattern) if pattern else p.name.endswith(BACKUP_SUFFIXES))
    ]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def listing(found: list[Path]) -> str:
    return ", ".join(p.name for p in found[:5]) + (", …" if len(found) > 5 else "") or "none"
