"""The drill's GitHub: a repository whose Actions hold the runbook's rollback workflow.

Pitchey's runbook (seed 004) ships `.github/workflows/rollback.yml`, an "Emergency Rollback"
run by hand with the inputs `component` (worker / frontend / both) and `reason`. The drill
serves that file, as written, from the GitHub simulator (cockpit.simulators.github); the
option's workflow succeeding rolls the scenario back, as the real one's wrangler rollback
would. A procedure naming another workflow file (ai-saas's deploy.yml) gets a minimal one of
that name with the inputs its option passes and one good run, so its dispatch runs too, and a
re-run of that run (the last good deployment's) rolls the scenario back.
"""

from __future__ import annotations

import secrets
from typing import Any

from cockpit.demo.platforms import Named, Platforms
from cockpit.demo.scenario import Scenario

REPO_OWNER = "drill"

ROLLBACK_YML = """\
name: Emergency Rollback

on:
  workflow_dispatch:
    inputs:
      component:
        description: 'Component to rollback'
        required: true
        type: choice
        options:
          - worker
          - frontend
          - both
      reason:
        description: 'Reason for rollback'
        required: true

jobs:
  rollback:
    runs-on: ubuntu-latest
    steps:
      - name: Rollback Worker
        if: ${{ github.event.inputs.component == 'worker' || github.event.inputs.component == 'both' }}
        run: |
          npm install -g wrangler
          wrangler rollback --env production
        env:
          CLOUDFLARE_API_TOKEN: ${{ secrets.CLOUDFLARE_API_TOKEN }}

      - name: Rollback Frontend
        if: ${{ github.event.inputs.component == 'frontend' || github.event.inputs.component == 'both' }}
        run: |
          wrangler pages rollback --project-name=pitchey
        env:
          CLOUDFLARE_API_TOKEN: ${{ secrets.CLOUDFLARE_API_TOKEN }}

      - name: Clear Cache
        run: |
          curl -X DELETE ${{ secrets.PRODUCTION_URL }}/api/admin/cache \\
            -H "Authorization: Bearer ${{ secrets.ADMIN_TOKEN }}"

      - name: Notify Team
        uses: 8398a7/action-slack@v3
        with:
          status: custom
          webhook_url: ${{ secrets.SLACK_WEBHOOK }}
"""  # noqa: E501 - the seed's `if:` lines, as written
"""Seed 004's workflow (its Slack payload shortened: the drill sends no message)."""


def _workflow_text(name: str, inputs: list[str]) -> str:
    """A dispatchable workflow named `name` that declares `inputs` (all optional strings)."""
    declared = "".join(f"      {key}:\n        required: false\n" for key in inputs)
    section = f"\n    inputs:\n{declared}" if inputs else "\n"
    return (
        f"name: {name}\non:\n  workflow_dispatch:{section}"
        "jobs:\n  rollback:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ./rollback\n"
    )


def github_actions(
    platforms: Platforms, scenario: Scenario, job_seconds: float, named: Named, _: str | None
) -> None:
    """A repository named after the procedure, with the workflow each option dispatches."""
    from cockpit.simulators.github import GitHubSimulator
    from providers.github_actions import GitHubActionsProvider

    repo = f"{REPO_OWNER}/{named.procedure.name}"
    simulator = GitHubSimulator(
        token=secrets.token_urlsafe(24),
        repo=repo,
        queue_seconds=job_seconds / 4,
        run_seconds=job_seconds,
    )
    for option in named.procedure.options:
        if option.provider != named.provider:
            continue
        file = str(option.params.get("workflow", "rollback.yml"))
        path = f".github/workflows/{file}"
        if any(w.path == path for w in simulator.workflows.values()):
            continue
        if file == "rollback.yml":
            simulator.add_workflow(path, ROLLBACK_YML)
        else:
            inputs = [k for k in option.params if k not in ("workflow", "ref", "run_id", "branch")]
            simulator.add_workflow(path, _workflow_text(file, inputs))
            simulator.add_run(path)  # a good run, for a re-run to take

    def completed(run: dict[str, Any]) -> None:
        rerun = int(run.get("run_attempt") or 1) > 1  # the good deployment's run, again
        if run.get("conclusion") == "success" and (run.get("event") != "push" or rerun):
            scenario.rollback()

    simulator.on_run_completed = completed
    url = simulator.start()
    platforms.simulators.append(simulator)
    options = GitHubActionsProvider.Options.model_validate(
        {"base_url": url, "token": simulator.token, "repo": repo, "poll_seconds": 0.2}
    )
    platforms.providers["github_actions"] = GitHubActionsProvider(options)
