"""kubectl rollout undo of a Deployment, against KubernetesSimulator (plain HTTP, bearer token)."""

from __future__ import annotations

from typing import Any

from cockpit.simulators.base import Simulator
from cockpit.simulators.kubernetes import KubernetesSimulator
from providers.base import ActionProvider
from providers.kubernetes import KubernetesProvider

from . import Case


def _simulator() -> Simulator:
    """web at revision 3 (web:3) after web:1 and web:2; a rollout takes 0.2 s of real time."""
    simulator = KubernetesSimulator(ready_seconds=0.2)
    simulator.add_deployment("web", "web:1", change_cause="web:1")
    simulator.set_image("web", "web:2", change_cause="web:2")
    simulator.set_image("web", "web:3", change_cause="web:3")
    return simulator


def _provider(sim: Simulator, overrides: dict[str, Any]) -> ActionProvider:
    options = KubernetesProvider.Options.model_validate(
        {
            "host": sim.url,
            "token": sim.token,
            "namespace": "default",
            "poll_seconds": 0.05,
            "timeout_seconds": 1.0,
            **overrides,
        }
    )
    return KubernetesProvider(options)


def _changed(sim: Simulator) -> bool:
    assert isinstance(sim, KubernetesSimulator)
    containers = sim.deployment("web")["spec"]["template"]["spec"]["containers"]
    return bool(containers[0]["image"] == "web:2")


CASES = [
    Case(
        "kubernetes.rollout_undo",
        _simulator,
        _provider,
        "rollout_undo",
        {"deployment": "web"},
        _changed,
    )
]
