"""Flagsmith feature states, against FlagsmithSimulator."""

from __future__ import annotations

from typing import Any

from cockpit.simulators.base import Simulator
from cockpit.simulators.flagsmith import FlagsmithSimulator
from providers.base import ActionProvider
from providers.flagsmith import FlagsmithProvider

from . import Case


def _simulator() -> Simulator:
    sim = FlagsmithSimulator()
    sim.add_environment("prod-key", "Production")
    sim.add_environment("dev-key", "Development")
    for name in ("split_view", "ai_summary", "dark_mode"):
        sim.add_feature(name, enabled=True)
    return sim


def _provider(sim: Simulator, overrides: dict[str, Any]) -> ActionProvider:
    options = FlagsmithProvider.Options.model_validate(
        {
            "base_url": sim.url,
            "token": sim.token,
            "environment": "prod-key",
            "timeout_seconds": 1.0,
            **overrides,
        }
    )
    return FlagsmithProvider(options)  # type: ignore[arg-type]


def _changed(sim: Simulator) -> bool:
    assert isinstance(sim, FlagsmithSimulator)
    states = {
        (env, name): sim.state(env, name).enabled
        for env in ("prod-key", "dev-key")
        for name in ("split_view", "ai_summary", "dark_mode")
    }
    return states == {
        ("prod-key", "split_view"): False,
        ("prod-key", "ai_summary"): False,
        ("prod-key", "dark_mode"): True,
        ("dev-key", "split_view"): True,
        ("dev-key", "ai_summary"): True,
        ("dev-key", "dark_mode"): True,
    }


CASES = [
    Case(
        "flagsmith.disable_flags",
        _simulator,
        _provider,
        "disable_flags",
        {"flags": ["split_view", "ai_summary"]},
        _changed,
    )
]
