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

Plain tomllib + pydantic: the file is small and read once, so pydantic-settings' 0.2 s import
buys nothing here yet; environment overrides arrive with the providers that need secrets.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cockpit.core.errors import CockpitError


class ConfigFileError(CockpitError):
    """cockpit.toml cannot be read or does not validate."""

    title = "Bad cockpit.toml"


class SourceConfig(BaseModel):
    """One metric source: a provider name and its options."""

    model_config = ConfigDict(extra="forbid")
    provider: str
    options: dict[str, Any] = {}


class ProviderConfig(BaseModel):
    """One action provider a procedure can name: which implementation, with which options."""

    model_config = ConfigDict(extra="forbid")
    type: str | None = None
    """The entry point; None means the same name as the section."""
    options: dict[str, Any] = {}
    params: dict[str, Any] = {}
    """Action parameters for this environment; they win over the procedure's."""


class Settings(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid")
    procedure: str | None = None
    poll_interval_seconds: float = Field(default=15.0, gt=0)
    sources: list[SourceConfig] = []
    providers: dict[str, ProviderConfig] = {}


def load_settings(path: Path) -> Settings:
    """Read cockpit.toml; a missing file means defaults."""
    if not path.exists():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigFileError(f"{path}: cannot read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigFileError(f"{path}: {error}") from None
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ConfigFileError(f"{path}: {field}: {first['msg']}") from None
