"""Provider discovery through the `cockpit.providers` entry-point group.

Built-in providers are registered in pyproject.toml exactly like third-party ones, so there is one
discovery path. Listing names imports nothing; loading imports only the provider asked for, so a
broken optional provider cannot stop the others.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from cockpit.core.errors import ConfigError
from providers.base import Provider
from providers.installed import GROUP

__all__ = ["GROUP", "load_provider", "provider_names"]


@cache
def _entry_points() -> dict[str, EntryPoint]:
    # Read once per process (about 35 ms): checking a procedure looks up each of its providers.
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def provider_names() -> list[str]:
    """Names of the installed providers, sorted; nothing is imported."""
    return sorted(_entry_points())


def load_provider(name: str) -> type[Provider]:
    """Import and return the provider class registered as `name`; ConfigError if unknown/bad."""
    found = _entry_points()
    entry = found.get(name)
    if entry is None:
        installed = ", ".join(sorted(found)) or "none"
        raise ConfigError(f"unknown provider {name!r}; installed: {installed}")
    try:
        loaded = entry.load()
    except Exception as exc:  # an entry point may fail in any way while importing
        raise ConfigError(f"provider {name!r} ({entry.value}) cannot be loaded: {exc}") from exc
    if not (isinstance(loaded, type) and issubclass(loaded, Provider)):
        raise ConfigError(f"provider {name!r} ({entry.value}) is not a Provider class")
    return loaded
