"""The generic HTTP action against DeployApiSimulator: a team's own rollback endpoint."""

from __future__ import annotations

from typing import Any

from cockpit.simulators.base import Simulator
from cockpit.simulators.deploy_api import DeployApiSimulator
from providers.base import ActionProvider
from providers.http_action import HttpActionProvider

from . import Case

ROLLBACK = {
    "method": "POST",
    "path": "/api/deploy/rollback",
    "body": '{"to": "previous"}',
    "expect_status": "200 202",
    "expect_text": "rolled back",
    "verify_path": "/health",
    "verify_expect_text": "ok v1.2.3",
    "verify_interval_seconds": 0,
    "undo_path": "/api/deploy/rollforward",
    "name": "deploy-api production",
    "destructive": True,
}


def _simulator() -> Simulator:
    return DeployApiSimulator()


def _provider(sim: Simulator, overrides: dict[str, Any]) -> ActionProvider:
    options = HttpActionProvider.Options.model_validate(
        {"base_url": sim.url, "token": sim.token, "timeout_seconds": 1.0, **overrides}
    )
    return HttpActionProvider(options)  # type: ignore[arg-type]


def _changed(sim: Simulator) -> bool:
    assert isinstance(sim, DeployApiSimulator)
    return sim.rollbacks == 1 and sim.version == "v1.2.3"


CASES = [Case("http_action.request", _simulator, _provider, "request", ROLLBACK, _changed)]
