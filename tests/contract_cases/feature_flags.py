"""The generic admin API's feature flags, against AdminApiSimulator."""

from __future__ import annotations

from typing import Any

from cockpit.simulators.admin_api import AdminApiSimulator
from cockpit.simulators.base import Simulator
from providers.base import ActionProvider
from providers.feature_flags import FeatureFlagsProvider

from . import Case


def _simulator() -> Simulator:
    return AdminApiSimulator({"splitViewLayout": True, "aiSummarization": True, "darkMode": True})


def _provider(sim: Simulator, overrides: dict[str, Any]) -> ActionProvider:
    options = FeatureFlagsProvider.Options.model_validate(
        {"base_url": sim.url, "token": sim.token, "timeout_seconds": 1.0, **overrides}
    )
    return FeatureFlagsProvider(options)  # type: ignore[arg-type]


def _changed(sim: Simulator) -> bool:
    assert isinstance(sim, AdminApiSimulator)
    return sim.flags == {"splitViewLayout": False, "aiSummarization": False, "darkMode": True}


CASES = [
    Case(
        "feature_flags.disable_flags",
        _simulator,
        _provider,
        "disable_flags",
        {"flags": ["splitViewLayout", "aiSummarization"]},
        _changed,
    )
]
