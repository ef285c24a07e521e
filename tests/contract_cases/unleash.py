"""Unleash feature toggles, against UnleashSimulator."""

from __future__ import annotations

from typing import Any

from cockpit.simulators.base import Simulator
from cockpit.simulators.unleash import UnleashSimulator
from providers.base import ActionProvider
from providers.unleash import UnleashProvider

from . import Case


def _simulator() -> Simulator:
    sim = UnleashSimulator()
    sim.add_feature("default", "split-view", {"production": True, "development": True})
    sim.add_feature("default", "ai-summary", {"production": True})
    sim.add_feature("default", "dark-mode", {"production": True})
    return sim


def _provider(sim: Simulator, overrides: dict[str, Any]) -> ActionProvider:
    options = UnleashProvider.Options.model_validate(
        {"base_url": sim.url, "token": sim.token, "timeout_seconds": 1.0, **overrides}
    )
    return UnleashProvider(options)  # type: ignore[arg-type]


def _changed(sim: Simulator) -> bool:
    assert isinstance(sim, UnleashSimulator)
    states = {
        (name, env): sim.enabled("default", name, env)
        for name, env in [
            ("split-view", "production"),
            ("split-view", "development"),
            ("ai-summary", "production"),
            ("dark-mode", "production"),
        ]
    }
    return states == {
        ("split-view", "production"): False,
        ("split-view", "development"): True,
        ("ai-summary", "production"): False,
        ("dark-mode", "production"): True,
    }


CASES = [
    Case(
        "unleash.disable_flags",
        _simulator,
        _provider,
        "disable_flags",
        {"flags": ["split-view", "ai-summary"]},
        _changed,
    )
]
