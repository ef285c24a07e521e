"""cockpit.toml: which procedure and which metric sources a plain `cockpit` run uses.

    procedure = "pulse-messages"        # built-in name or path to a YAML file
    poll_interval_seconds = 15

    [[sources]]
    provider = "prometheus_scrape"      # an entry point in the cockpit.providers group
    [sources.options]                   # validated by that provider's Options model
    url = "http://10.0.0.5:9100/metrics"

    [providers.vercel]                  # the name procedures use in `provider:`
    type = "vercel"                     # the entry point; defaults to the name above
    [providers.vercel.options]
    project = "huntaze"
    token = { env = "VERCEL_TOKEN" }    # secrets come from the environment or a file
    [providers.vercel.params]           # win over the procedure's parameters
    health_url = "https://staging.example.com/health"

    [timeline]                          # a team's shared timeline (cockpit.core.timeline_config)
    url = "postgresql://responder@db.internal:5432/cockpit"
    password = { env = "COCKPIT_DB_PASSWORD" }

Plain tomllib + pydantic: the file is small and read once, so pydantic-settings' 0.2 s import
buys nothing here yet; environment overrides arrive with the providers that need secrets.
Read like a procedure file: a regular file only (a FIFO would block a plain open), at most
MAX_CONFIG_BYTES, and nesting too deep for tomllib's recursive parser is an error, not a crash.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cockpit.core.errors import CockpitError, printable
from cockpit.core.safe_read import FileRefused, read_regular_file

MAX_CONFIG_BYTES = 1024 * 1024
"""1 MiB: a cockpit.toml is a few hundred bytes to a few KB; anything near this is a mistake."""


class ConfigFileError(CockpitError):
    """cockpit.toml cannot be read or does not validate."""

    title = "Bad cockpit.toml"


class SourceConfig(BaseModel):
    """One metric source: a provider name and its options."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    provider: str
    options: dict[str, Any] = {}


class ProviderConfig(BaseModel):
    """One action provider a procedure can name: which implementation, with which options."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    type: str | None = None
    """The entry point; None means the same name as the section."""
    options: dict[str, Any] = {}
    params: dict[str, Any] = {}
    """Action parameters for this environment; they win over the procedure's."""


class Settings(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    procedure: str | None = None
    poll_interval_seconds: float = Field(default=15.0, gt=0)
    sources: list[SourceConfig] = []
    providers: dict[str, ProviderConfig] = {}
    timeline: dict[str, Any] = {}
    """The team's shared timeline ([timeline] url, password): `cockpit.core.timeline_config`
    reads it (every headless command does, without pydantic)."""


def load_settings(path: Path) -> Settings:
    """Read cockpit.toml; a missing file means defaults."""
    if not path.exists():
        return Settings()
    try:
        text = read_regular_file(path, MAX_CONFIG_BYTES).decode("utf-8")
    except FileRefused as refused:
        raise ConfigFileError(printable(f"{path}: {refused}")) from None
    except UnicodeDecodeError as error:
        raise ConfigFileError(f"{path}: cannot read: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigFileError(printable(f"{path}: {error}")) from None
    except RecursionError:
        raise ConfigFileError(f"{path}: arrays or tables nested too deeply") from None
    except ValueError as error:  # an integer of more than 4,300 digits; drop Python's hint
        raise ConfigFileError(printable(f"{path}: {str(error).split('; use ')[0]}")) from None
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ConfigFileError(printable(f"{path}: {field}: {first['msg']}")) from None
