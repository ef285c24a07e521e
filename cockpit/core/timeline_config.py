"""cockpit.toml's ``[timeline]``: the team's shared timeline, so nobody types its URL.

    [timeline]
    url = "postgresql://responder@db.internal:5432/cockpit"
    password = { file = "~/.config/rollback-cockpit/db-password" }   # or { env = "NAME" }

Read with tomllib alone (`cockpit.core.config_file`, no pydantic): every headless command reads
it when neither --db nor COCKPIT_DB names a timeline, and they start in about 0.15 s; the
cockpit itself validates the table it already read (`timeline_setting`). The password, as for
providers, comes from the environment or a file, is registered with `cockpit.core.redact`, and
is handed to `cockpit.core.timeline_open` for that URL only; it is never printed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.core.config_file import ConfigFileError, read_config
from cockpit.core.errors import printable

KEYS = {"url", "password"}


@dataclass(frozen=True)
class TimelineSetting:
    """The configured team timeline: its URL, and its password when configured."""

    url: str
    password: str | None = field(default=None, repr=False)


def configured_timeline(path: Path | None = None) -> TimelineSetting | None:
    """The ``[timeline]`` of cockpit.toml (default: the user's), None when there is none.

    Raises:
        ConfigFileError: The file cannot be read, or the table is wrong (named, with the key).
    """
    if path is None:
        from cockpit.core.paths import config_file

        path = config_file()
    if not path.exists():
        return None
    return timeline_setting(path, read_config(path).get("timeline"))


def timeline_setting(path: Path, table: object) -> TimelineSetting | None:
    """The team timeline a ``[timeline]`` table of `path` names (None: no table), validated,
    its password read and registered.

    Raises:
        ConfigFileError: The table is wrong (the key named).
    """
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigFileError(f"{path}: timeline: a table ([timeline]) with url and password")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise ConfigFileError(
            printable(f"{path}: timeline.{unknown[0]}: unknown key (url, password)")
        )
    url = table.get("url")
    from cockpit.core.timeline_open import is_postgres

    if not isinstance(url, str) or not is_postgres(url):
        raise ConfigFileError(f"{path}: timeline.url: a postgresql://user@host:port/database URL")
    password = _secret(path, table.get("password"))
    if password is not None:
        from cockpit.core.redact import register_secret

        register_secret(password)
    return TimelineSetting(url, password)


def _secret(path: Path, value: object) -> str | None:
    """{ env = NAME } or { file = PATH } → the password; absent → None."""
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"env"}:
        name = str(value["env"])
        if name not in os.environ:
            raise ConfigFileError(
                f"{path}: timeline.password: environment variable {name} is not set"
            )
        return os.environ[name]
    if isinstance(value, dict) and set(value) == {"file"}:
        secret = Path(str(value["file"])).expanduser()
        try:
            lines = secret.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ConfigFileError(
                f"{path}: timeline.password: cannot read {secret}: {error.strerror or error}"
            ) from None
        return lines[0] if lines else ""
    raise ConfigFileError(f"{path}: timeline.password: {{ env = NAME }} or {{ file = PATH }}")
