"""One module per action provider, each exposing CASES: how to run it against its simulator.

The contract suite (tests/test_provider_contract.py) runs every case through the same checks;
adding a provider means adding a module here, nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cockpit.simulators.base import Simulator
from providers.base import ActionProvider


@dataclass
class Case:
    """One provider action exercised against its simulator."""

    id: str
    simulator: Callable[[], Simulator]
    """A fresh, seeded, not yet started simulator."""
    provider: Callable[[Simulator, dict[str, Any]], ActionProvider]
    """Build the provider for a started simulator; the dict overrides options (e.g. token)."""
    action: str
    params: dict[str, Any]
    changed: Callable[[Simulator], bool]
    """Whether the simulator's state shows the action took effect."""
    options: dict[str, Any] = field(default_factory=dict)
    """Extra raw options (as cockpit.toml would give them) for the Options-model checks."""


def all_cases() -> Iterator[Case]:
    """Every CASES entry of every module in this package."""
    for module in pkgutil.iter_modules(__path__):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        yield from getattr(loaded, "CASES", [])
