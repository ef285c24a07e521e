"""Reading cockpit.toml: a regular file only (a FIFO would block a plain open), at most
MAX_CONFIG_BYTES, UTF-8, TOML; each failure one line naming the file. Shared by the validated
settings (`cockpit.core.config`, pydantic) and the team timeline's table
(`cockpit.core.timeline_config`, read by every headless command without pydantic).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from cockpit.core.errors import CockpitError, printable
from cockpit.core.safe_read import FileRefused, read_regular_file

MAX_CONFIG_BYTES = 1024 * 1024
"""1 MiB: a cockpit.toml is a few hundred bytes to a few KB; anything near this is a mistake."""


class ConfigFileError(CockpitError):
    """cockpit.toml cannot be read or does not validate."""

    title = "Bad cockpit.toml"


def read_config(path: Path) -> dict[str, Any]:
    """The file's TOML, as tables (nesting too deep for tomllib's recursive parser is an
    error, not a crash).

    Raises:
        ConfigFileError: It cannot be read, is not UTF-8, or is not TOML.
    """
    try:
        text = read_regular_file(path, MAX_CONFIG_BYTES).decode("utf-8")
    except FileRefused as refused:
        raise ConfigFileError(printable(f"{path}: {refused}")) from None
    except UnicodeDecodeError as error:
        raise ConfigFileError(f"{path}: cannot read: {error}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigFileError(printable(f"{path}: {error}")) from None
    except RecursionError:
        raise ConfigFileError(f"{path}: arrays or tables nested too deeply") from None
    except ValueError as error:  # an integer of more than 4,300 digits; drop Python's hint
        raise ConfigFileError(printable(f"{path}: {str(error).split('; use ')[0]}")) from None
