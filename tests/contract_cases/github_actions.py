"""GitHub Actions: dispatch the runbook's rollback workflow with its inputs, and re-run the
last successful deploy, against GitHubSimulator (runs take 0.15 s of real time)."""

from __future__ import annotations

from typing import Any

from cockpit.demo.github import ROLLBACK_YML
from cockpit.simulators.base import Simulator
from cockpit.simulators.github import GitHubSimulator
from providers.base import ActionProvider
from providers.github_actions import GitHubActionsProvider

from . import Case

REPO = "acme/pitchey"
DEPLOY_YML = """\
name: Deploy
on: [push, workflow_dispatch]
jobs:
  deploy:
    steps:
      - run: ./deploy
"""


def _simulator() -> Simulator:
    simulator = GitHubSimulator(repo=REPO, queue_seconds=0.05, run_seconds=0.1)
    simulator.add_workflow(".github/workflows/rollback.yml", ROLLBACK_YML)
    simulator.add_workflow(".github/workflows/deploy.yml", DEPLOY_YML)
    simulator.add_run(".github/workflows/deploy.yml")
    simulator.add_run(".github/workflows/deploy.yml", conclusion="failure")
    return simulator


def _provider(sim: Simulator, overrides: dict[str, Any]) -> ActionProvider:
    options = GitHubActionsProvider.Options.model_validate(
        {"base_url": sim.url, "token": sim.token, "repo": REPO, "poll_seconds": 0.02}
        | {"timeout_seconds": 1.0, **overrides}
    )
    return GitHubActionsProvider(options)


def _dispatched(sim: Simulator) -> bool:
    assert isinstance(sim, GitHubSimulator)
    return any(
        run.event == "workflow_dispatch" and run.inputs.get("component") == "worker"
        for run in sim.runs.values()
    )


def _rerun(sim: Simulator) -> bool:
    assert isinstance(sim, GitHubSimulator)
    return any(run.attempt > 1 for run in sim.runs.values())


CASES = [
    Case(
        "github_actions.dispatch_workflow",
        _simulator,
        _provider,
        "dispatch_workflow",
        {"workflow": "rollback.yml", "component": "worker", "reason": "error rate over 5%"},
        _dispatched,
    ),
    Case(
        "github_actions.rerun_workflow",
        _simulator,
        _provider,
        "rerun_workflow",
        {"workflow": "deploy.yml"},
        _rerun,
    ),
]
