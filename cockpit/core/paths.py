"""Where the cockpit keeps its files. Functions, called when needed: nothing happens at import."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "rollback-cockpit"


def data_dir() -> Path:
    """The platform data directory (XDG on Linux), or $COCKPIT_DATA_DIR when set."""
    override = os.environ.get("COCKPIT_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs  # deferred: only the commands that touch files pay for it

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_file() -> Path:
    """The user's cockpit.toml, or $COCKPIT_CONFIG when set."""
    override = os.environ.get("COCKPIT_CONFIG")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "cockpit.toml"


def timeline_db() -> Path:
    """The default timeline database, inside the data directory."""
    return data_dir() / "timeline.db"


def verify_command(db: Path | str) -> str:
    """The command that checks this timeline, for an export's footer: `cockpit timeline
    verify`, with --db when it is not the one every command reads by default (a team
    database's URL, without its password: `db_url`)."""
    import shlex

    if isinstance(db, str):
        return f"cockpit timeline verify --db {shlex.quote(db)}"

    if os.environ.get("COCKPIT_DB") is None and db.absolute() == timeline_db().absolute():
        return "cockpit timeline verify"
    return f"cockpit timeline verify --db {shlex.quote(str(db))}"


def ensure_private_dir(path: Path) -> Path:
    """Create a directory readable by its owner only (incident data is sensitive)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_atomically(path: Path, text: str, *, private: bool = False) -> Path:
    """Write `text` to `path` through a temporary file in the same folder and a rename, so a
    reader never sees half a file and a failure leaves the old one in place.

    Args:
        path: The file to write.
        text: Its whole content (UTF-8, newlines as given).
        private: Owner-only permissions (0600), for drafts and anything else sensitive.
    """
    import secrets

    folder = path.parent if str(path.parent) else Path(".")
    temporary = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # Created with the mode it keeps, so the kernel applies the umask: changing the umask to
    # read it would leave every other thread's new files world-writable for that moment.
    mode = 0o600 if private else 0o666
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
