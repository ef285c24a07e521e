"""Vercel's instant rollback to the previous production deployment, against VercelSimulator."""

from __future__ import annotations

from typing import Any

from cockpit.simulators.base import Simulator
from cockpit.simulators.vercel import VercelSimulator
from providers.base import ActionProvider
from providers.vercel import VercelProvider

from . import Case

PROJECT = "prj_shop"


def _simulator() -> Simulator:
    """v1, v2 and v3 each served production (v3 serves now); the job takes 0.2 s of real time."""
    simulator = VercelSimulator(team_id="team_sim", job_seconds=0.2)
    simulator.add_project(PROJECT, "shop")
    for uid in ("dpl_v1", "dpl_v2", "dpl_v3"):
        simulator.add_deployment(PROJECT, uid=uid)
    return simulator


def _provider(sim: Simulator, overrides: dict[str, Any]) -> ActionProvider:
    options = VercelProvider.Options.model_validate(
        {
            "base_url": sim.url,
            "token": sim.token,
            "team_id": "team_sim",
            "project": "shop",
            "poll_seconds": 0.05,
            "timeout_seconds": 1.0,
            **overrides,
        }
    )
    return VercelProvider(options)


def _changed(sim: Simulator) -> bool:
    assert isinstance(sim, VercelSimulator)
    production = sim.production(PROJECT)
    return production is not None and production["uid"] == "dpl_v2"


CASES = [Case("vercel.instant_rollback", _simulator, _provider, "instant_rollback", {}, _changed)]
