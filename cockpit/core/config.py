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
Read like a procedure file (`cockpit.core.config_file`): a regular file only, of bounded size,
and nesting too deep for tomllib's recursive parser is an error, not a crash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cockpit.core.config_file import ConfigFileError as ConfigFileError  # re-exported
from cockpit.core.config_file import read_config
from cockpit.core.errors import printable


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
    timeline: dict[str, Any] | None = None
    """The team's shared timeline ([timeline] url, password), validated by
    `cockpit.core.timeline_config.timeline_setting` (which the headless commands use without
    pydantic)."""


def load_settings(path: Path) -> Settings:
    """Read cockpit.toml; a missing file means defaults."""
    if not path.exists():
        return Settings()
    data = read_config(path)
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ConfigFileError(printable(f"{path}: {field}: {first['msg']}")) from None
