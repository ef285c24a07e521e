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


def ensure_private_dir(path: Path) -> Path:
    """Create a directory readable by its owner only (incident data is sensitive)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
