"""GitHub Actions: dispatch a workflow with checked inputs, or re-run the last good run, and
follow the run to its conclusion (provider.py; the workflow file in workflow.py, runs in
runs.py, rate limits in limits.py)."""

from providers.github_actions.provider import GitHubActionsOptions, GitHubActionsProvider

__all__ = ["GitHubActionsOptions", "GitHubActionsProvider"]
