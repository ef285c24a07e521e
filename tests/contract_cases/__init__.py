"""One module per action provider, each exposing CASES: how to run it against its simulator.

The contract suite (tests/test_provider_contract.py) runs every case through the same checks;
adding a provider means adding a module here, nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from providers.base import ActionProvider


@dataclass
class Case:
    """One provider action exercised against its simulator."""

    id: str
    simulator: Callable[[], Any]
    """A fresh, seeded, not yet started Simulator (or, for http=False, any context manager)."""
    provider: Callable[[Any, dict[str, Any]], ActionProvider]
    """Build the provider for a started simulator; the dict overrides options (e.g. token)."""
    action: str
    params: dict[str, Any]
    changed: Callable[[Any], bool]
    """Whether the simulator's state shows the action took effect."""
    http: bool = True
    """An HTTP provider against a Simulator; False for local ones (git), whose `simulator`
    returns any context manager (a scratch repository) and which skip the HTTP-only checks."""


def all_cases() -> Iterator[Case]:
    """Every CASES entry of every module in this package."""
    for module in pkgutil.iter_modules(__path__):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        yield from getattr(loaded, "CASES", [])
