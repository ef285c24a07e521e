"""The admin API's cache clear, against AdminApiSimulator."""

from __future__ import annotations

from typing import Any

from cockpit.simulators.admin_api import AdminApiSimulator
from cockpit.simulators.base import Simulator
from providers.base import ActionProvider
from providers.cache import CacheProvider

from . import Case

PRODUCTION = "https://pitchey-production.cavelltheleaddev.workers.dev/api/admin/cache"


def _simulator() -> Simulator:
    return AdminApiSimulator({"splitViewLayout": True})


def _provider(sim: Simulator, overrides: dict[str, Any]) -> ActionProvider:
    options = CacheProvider.Options.model_validate(
        {"base_url": sim.url, "token": sim.token, "timeout_seconds": 1.0, **overrides}
    )
    return CacheProvider(options)  # type: ignore[arg-type]


def _changed(sim: Simulator) -> bool:
    assert isinstance(sim, AdminApiSimulator)
    return sim.cache_clears == 1 and sim.cache == set()


CASES = [
    Case(
        "cache.clear",
        _simulator,
        _provider,
        "clear",
        {"url": PRODUCTION, "method": "DELETE"},  # as checklists/pitchey.yaml gives them
        _changed,
    )
]
