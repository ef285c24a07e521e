"""The GitHub Actions provider against GitHubSimulator over real HTTP, on a clock only the
tests move: the simulator's runs and the action's Report share one fake clock, and the
Report's sleeper advances it, so a run that takes minutes takes no wall time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fake_time import FakeClock

from cockpit import action_runner
from cockpit.action_runner import TimelineRecorder
from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError
from cockpit.core.timeline import Timeline
from cockpit.demo.github import ROLLBACK_YML
from cockpit.simulators.github import GitHubSimulator
from providers.github_actions import GitHubActionsProvider
from providers.github_actions.limits import budget_wait, rate_wait

TOKEN = "ghp_simulatedTokenForTests123"
REPO = "acme/pitchey"
WALL = 1_800_000_000.0
INPUTS = {"component": "worker", "reason": "error rate over 5%"}
DEPLOY_YML = """\
name: Deploy
on:
  push:
  workflow_dispatch:
jobs:
  build:
    steps: [{name: Build}]
  deploy:
    steps: [{name: Deploy}, {name: Smoke test}]
"""


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(fake_clock: FakeClock) -> Iterator[GitHubSimulator]:
    simulator = GitHubSimulator(
        token=TOKEN, clock=fake_clock, wall=lambda: WALL, repo=REPO,
        queue_seconds=5, run_seconds=60, branches=("release",),
    )  # fmt: skip
    simulator.add_workflow(".github/workflows/rollback.yml", ROLLBACK_YML)
    simulator.add_workflow(".github/workflows/deploy.yml", DEPLOY_YML)
    simulator.add_run(".github/workflows/deploy.yml")
    simulator.add_run(".github/workflows/deploy.yml", conclusion="failure")
    with simulator:
        yield simulator


def make(sim: GitHubSimulator, **overrides: Any) -> GitHubActionsProvider:
    options = GitHubActionsProvider.Options.model_validate(
        {"base_url": sim.url, "token": TOKEN, "repo": REPO, "poll_seconds": 3} | overrides
    )
    return GitHubActionsProvider(options, clock=lambda: WALL)


@pytest.fixture
def provider(sim: GitHubSimulator) -> Iterator[GitHubActionsProvider]:
    built = make(sim)
    yield built
    built.close()


def report(clock: FakeClock, **kw: Any) -> Report:
    return Report(sleeper=clock.advance, monotonic=clock, **kw)


def posts(sim: GitHubSimulator) -> list[str]:
    return [r.path for r in sim.requests if r.method == "POST"]


def run_action(
    provider: GitHubActionsProvider,
    timeline: Timeline,
    clock: FakeClock,
    action: str,
    **params: Any,
) -> tuple[action_runner.Result, list[Any]]:
    incident = timeline.open_incident("gha", "P1", "pitchey")
    plan = provider.preflight(action, params)
    result = action_runner.run(
        provider, plan, plan.target, TimelineRecorder(timeline, incident.id), report(clock)
    )
    return result, list(timeline.events(incident.id))


# -- dispatch and follow ------------------------------------------------------------------------


def test_dispatch_follows_the_run_to_success_and_records_its_url(
    sim: GitHubSimulator, provider: GitHubActionsProvider, timeline: Timeline, fake_clock: FakeClock
) -> None:
    plan = provider.preflight("dispatch_workflow", {"workflow": "rollback.yml", **INPUTS})
    assert plan.cli == (
        "gh workflow run rollback.yml --repo acme/pitchey --ref main "
        "-f component=worker -f 'reason=error rate over 5%'"
    )
    assert plan.target == "rollback.yml" and plan.cancellable
    assert any("Rollback Worker, Rollback Frontend, Clear Cache" in c for c in plan.changes)
    result, events = run_action(
        provider, timeline, fake_clock, "dispatch_workflow", workflow="rollback.yml", **INPUTS
    )
    assert result.outcome == "succeeded", result.summary
    run = next(r for r in sim.runs.values() if r.event == "workflow_dispatch")
    url = f"https://github.com/{REPO}/actions/runs/{run.id}"
    assert run.inputs == INPUTS and run.branch == "main"
    assert url in result.summary and "concluded success" in result.summary
    assert any("queued" in line for line in result.transcript)
    assert any("in_progress, 0 of 1 jobs done" in line for line in result.transcript)
    dispatch = next(r for r in sim.requests if r.path.endswith("/dispatches"))
    assert dispatch.body == {"ref": "main", "inputs": INPUTS, "return_run_details": True}
    assert dispatch.headers["x-github-api-version"] == "2022-11-28"
    recorded = json.dumps([(e.summary, dict(e.payload), e.command) for e in events])
    assert url in recorded and TOKEN not in recorded


def test_a_dispatch_answered_204_finds_its_run_in_the_list(
    sim: GitHubSimulator, timeline: Timeline, fake_clock: FakeClock
) -> None:
    sim.add_run(".github/workflows/rollback.yml", event="workflow_dispatch")  # an older one
    provider = make(sim, run_details=False, ref="release")
    result, _ = run_action(
        provider, timeline, fake_clock, "dispatch_workflow", workflow="rollback.yml", **INPUTS
    )
    assert result.outcome == "succeeded", result.summary
    newest = max(sim.runs.values(), key=lambda r: r.id)
    assert newest.branch == "release" and newest.inputs == INPUTS
    assert f"runs/{newest.id}" in result.summary


@pytest.mark.parametrize("conclusion", ["failure", "cancelled", "timed_out"])
def test_a_run_that_does_not_succeed_fails_the_action_saying_how(
    sim: GitHubSimulator,
    provider: GitHubActionsProvider,
    timeline: Timeline,
    fake_clock: FakeClock,
    conclusion: str,
) -> None:
    sim.conclude_next(conclusion)
    result, events = run_action(
        provider, timeline, fake_clock, "dispatch_workflow", workflow="rollback.yml", **INPUTS
    )
    assert result.outcome == "failed" and f"concluded {conclusion}" in result.summary
    assert "https://github.com/acme/pitchey/actions/runs/" in result.summary
    if conclusion != "cancelled":
        assert "failed jobs: rollback" in result.summary
    outcome = next(e for e in events if e.kind == "action.result")
    assert f"concluded {conclusion}" in outcome.summary


def test_cancelling_the_action_cancels_the_run_on_github(
    sim: GitHubSimulator, provider: GitHubActionsProvider, timeline: Timeline, fake_clock: FakeClock
) -> None:
    plan = provider.preflight("dispatch_workflow", {"workflow": "rollback.yml", **INPUTS})
    running = report(fake_clock)
    polls = 0

    def sleeper(seconds: float) -> None:
        nonlocal polls
        polls += 1
        fake_clock.advance(seconds)
        if polls == 4:  # in progress by now: the responder presses cancel
            running.cancel()

    running.sleeper = sleeper
    incident = timeline.open_incident("gha", "P1", "pitchey")
    result = action_runner.run(
        provider, plan, plan.target, TimelineRecorder(timeline, incident.id), running
    )
    assert result.outcome == "cancelled"
    run = next(r for r in sim.runs.values() if r.event == "workflow_dispatch")
    assert posts(sim)[-1] == f"/repos/{REPO}/actions/runs/{run.id}/cancel"
    assert sim.run(run.id)["conclusion"] == "cancelled"
    assert "asked GitHub to cancel" in result.summary and f"runs/{run.id}" in result.summary


def test_a_run_that_outlives_the_action_says_where_it_goes_on(
    sim: GitHubSimulator, fake_clock: FakeClock
) -> None:
    provider = make(sim, run_timeout_seconds=20)
    plan = provider.preflight("dispatch_workflow", {"workflow": "rollback.yml", **INPUTS})
    executed = provider.execute(plan, report(fake_clock))
    with pytest.raises(ProviderError, match=r"still in_progress after 20 s; it goes on at https"):
        provider.verify(plan, executed, report(fake_clock))


# -- re-run ------------------------------------------------------------------------------------


def test_rerun_takes_the_last_successful_run_and_follows_its_new_attempt(
    sim: GitHubSimulator, provider: GitHubActionsProvider, timeline: Timeline, fake_clock: FakeClock
) -> None:
    good = next(r for r in sim.runs.values() if r.conclusion == "success")
    plan = provider.preflight("rerun_workflow", {"workflow": "deploy.yml"})
    assert plan.cli == f"gh run rerun {good.id} --repo {REPO}"
    assert "attempt 2" in plan.changes[0]
    result, _ = run_action(provider, timeline, fake_clock, "rerun_workflow", workflow="deploy.yml")
    assert result.outcome == "succeeded", result.summary
    assert good.attempt == 2 and "(attempt 2) concluded success" in result.summary
    assert any("in_progress, 1 of 2 jobs done" in line for line in result.transcript)
    assert posts(sim) == [f"/repos/{REPO}/actions/runs/{good.id}/rerun"]


def test_rerun_refuses_what_github_would(
    sim: GitHubSimulator, provider: GitHubActionsProvider, fake_clock: FakeClock
) -> None:
    with pytest.raises(ProviderError, match=r"rollback\.yml has no successful run to re-run"):
        provider.preflight("rerun_workflow", {"workflow": "rollback.yml"})
    plan = provider.preflight("dispatch_workflow", {"workflow": "rollback.yml", **INPUTS})
    run_id = provider.execute(plan, report(fake_clock)).data["run_id"]
    with pytest.raises(ProviderError, match=r"run #1 is still queued: GitHub re-runs only"):
        provider.preflight("rerun_workflow", {"run_id": str(run_id)})


# -- inputs checked at preflight ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (INPUTS | {"environment": "prod"}, "no input 'environment' .*: component, reason"),
        ({"component": "worker"}, r"requires input 'reason' \(Reason for rollback\)"),
        ({"reason": "x", "component": "api"}, "'component' .*one of worker, frontend, both; 'api'"),
        ({"reason": "[reason]", "component": "worker"}, "'reason' is still a placeholder"),
        ({"workflow": "gone.yml"}, r"workflow gone.yml not found in acme/pitchey \(404\)"),
        ({"workflow": "[workflow]"}, "workflow is still a placeholder"),
        (INPUTS | {"ref": "nope"}, r"No commit found for the ref nope"),
    ],
)  # fmt: skip
def test_preflight_refuses_bad_inputs_naming_them(
    sim: GitHubSimulator, provider: GitHubActionsProvider, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProviderError, match=message):
        provider.preflight("dispatch_workflow", {"workflow": "rollback.yml", **params})
    assert posts(sim) == []


def test_a_workflow_without_the_trigger_or_disabled_is_refused(
    sim: GitHubSimulator, provider: GitHubActionsProvider
) -> None:
    sim.add_workflow(".github/workflows/ci.yml", "name: CI\non: push\njobs: {}\n")
    with pytest.raises(ProviderError, match=r"ci\.yml has no workflow_dispatch trigger"):
        provider.preflight("dispatch_workflow", {"workflow": "ci.yml"})
    sim.workflows[next(iter(sim.workflows))].state = "disabled_manually"
    with pytest.raises(ProviderError, match=r"rollback\.yml is disabled_manually"):
        provider.preflight("dispatch_workflow", {"workflow": "rollback.yml", **INPUTS})


def test_githubs_own_422_is_a_clear_recorded_failure(
    sim: GitHubSimulator, provider: GitHubActionsProvider, timeline: Timeline, fake_clock: FakeClock
) -> None:
    """The file changed between plan and run: GitHub's words reach the screen and timeline."""
    plan = provider.preflight("dispatch_workflow", {"workflow": "rollback.yml", **INPUTS})
    workflow = next(iter(sim.workflows.values()))
    workflow.text = workflow.text.replace("      reason:", "      why:")
    incident = timeline.open_incident("gha", "P1", "pitchey")
    result = action_runner.run(
        provider, plan, plan.target, TimelineRecorder(timeline, incident.id), report(fake_clock)
    )
    assert result.outcome == "failed"
    assert 'refused as invalid (422): Unexpected inputs provided: ["reason"]' in result.summary
    recorded = [e.summary for e in timeline.events(incident.id)]
    assert any("Unexpected inputs provided" in s for s in recorded)


def test_a_workflow_gone_or_a_run_github_will_not_rerun_is_said_plainly(
    sim: GitHubSimulator, provider: GitHubActionsProvider, fake_clock: FakeClock
) -> None:
    plan = provider.preflight("dispatch_workflow", {"workflow": "rollback.yml", **INPUTS})
    sim.workflows.pop(next(iter(sim.workflows)))
    with pytest.raises(ProviderError, match=r"rollback\.yml is gone from acme/pitchey \(404\)"):
        provider.execute(plan, report(fake_clock))
    rerun = provider.preflight("rerun_workflow", {"workflow": "deploy.yml"})
    sim.fail("status", status=403)
    with pytest.raises(ProviderError, match=r"GitHub refused to re-run run \d+ \(403\)"):
        provider.execute(rerun, report(fake_clock))


def test_choices_offer_the_workflows_and_each_inputs_values(
    provider: GitHubActionsProvider,
) -> None:
    workflows = provider.choices("dispatch_workflow", "workflow", {})
    assert [v for v, _ in workflows] == ["rollback.yml", "deploy.yml"]
    params = {"workflow": "rollback.yml", "reason": "[reason]"}
    component = provider.choices("dispatch_workflow", "component", params)
    assert [v for v, _ in component] == ["worker", "frontend", "both"]
    assert provider.choices("dispatch_workflow", "reason", params)[0][0]
    runs = provider.choices("rerun_workflow", "run_id", {"workflow": "deploy.yml"})
    assert len(runs) == 1 and "run #1" in runs[0][1]


# -- credentials and rate limits ----------------------------------------------------------------


def test_a_bad_token_is_named_and_never_shown(sim: GitHubSimulator) -> None:
    wrong = make(sim, token="ghp_wrongTokenValue999")
    with pytest.raises(ProviderError) as raised:
        wrong.preflight("dispatch_workflow", {"workflow": "rollback.yml", **INPUTS})
    assert "credentials refused (401): Bad credentials" in str(raised.value)
    assert "ghp_wrongTokenValue999" not in str(raised.value)


def test_a_403_that_is_no_rate_limit_is_not_waited(
    sim: GitHubSimulator, provider: GitHubActionsProvider
) -> None:
    sim.fail("status", status=403)
    with pytest.raises(ProviderError, match=r"not allowed with these credentials \(403\)"):
        provider.health()


@pytest.mark.parametrize("status", [403, 429])
def test_a_secondary_rate_limit_is_waited_out_for_its_retry_after(
    sim: GitHubSimulator, provider: GitHubActionsProvider, fake_clock: FakeClock, status: int
) -> None:
    plan = provider.preflight("dispatch_workflow", {"workflow": "rollback.yml", **INPUTS})
    sim.fail("rate_limit", status=status, retry_after=12)
    waits: list[float] = []
    running = Report(
        sleeper=lambda s: (waits.append(s), fake_clock.advance(s)), monotonic=fake_clock
    )
    provider.execute(plan, running)
    assert waits[0] == 12 and "retrying in 12 s" in running.transcript[0]


def test_a_spent_budget_waits_until_its_reset_or_fails_saying_when(
    sim: GitHubSimulator, provider: GitHubActionsProvider, fake_clock: FakeClock
) -> None:
    plan = provider.preflight("dispatch_workflow", {"workflow": "rollback.yml", **INPUTS})
    sim.exhaust(times=1, reset_in=40)
    waits: list[float] = []
    running = Report(
        sleeper=lambda s: (waits.append(s), fake_clock.advance(s)), monotonic=fake_clock
    )
    provider.execute(plan, running)
    assert waits[0] == 40
    sim.exhaust(times=1, reset_in=3600)
    with pytest.raises(
        ProviderError, match=r"\(403\): API rate limit exceeded.*retry after 3600 s"
    ):
        provider.execute(plan, report(fake_clock))


def test_following_a_run_waits_for_a_spent_budget_to_reset(
    sim: GitHubSimulator, provider: GitHubActionsProvider, fake_clock: FakeClock
) -> None:
    plan = provider.preflight("dispatch_workflow", {"workflow": "rollback.yml", **INPUTS})
    executed = provider.execute(plan, report(fake_clock))
    sim.used = 5000  # every answer from now on says remaining 0, reset in an hour
    waits: list[float] = []
    running = Report(
        sleeper=lambda s: (waits.append(s), fake_clock.advance(s)), monotonic=fake_clock
    )
    assert provider.verify(plan, executed, running).ok
    assert waits and all(wait >= 3599 for wait in waits)


def test_the_rate_limit_rules() -> None:
    def answer(status: int, body: Any = None, **headers: str) -> httpx.Response:
        return httpx.Response(status, json=body or {"message": "x"}, headers=headers)

    assert rate_wait(answer(403, **{"retry-after": "5"}), WALL) == 5
    assert (
        rate_wait(
            answer(403, **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(WALL) + 90)}),
            WALL,
        )
        == 90
    )
    assert (
        rate_wait(answer(403, {"message": "You have exceeded a secondary rate limit"}), WALL) == 60
    )
    assert rate_wait(answer(429), WALL) == 60
    assert (
        rate_wait(answer(403, {"message": "Resource not accessible by integration"}), WALL) is None
    )
    assert rate_wait(answer(500), WALL) is None
    spent = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(WALL) + 7)}
    assert budget_wait(spent, WALL) == 7
    assert budget_wait({"x-ratelimit-remaining": "12"}, WALL) is None


# -- the pitchey drill, from the action screen ---------------------------------------------------


async def test_pitcheys_workflow_option_runs_from_the_action_screen(timeline: Timeline) -> None:
    """The drill serves seed 004's rollback.yml; the screen asks for the reason (typed), plans
    with the declared inputs, takes the typed target, and follows the run to success."""
    from datetime import UTC, datetime

    from cockpit.app import CockpitApp
    from cockpit.core.clock import FixedClock
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.demo.platforms import start_platforms
    from cockpit.demo.scenario import Scenario
    from cockpit.screens.action import ActionScreen
    from cockpit.session import Session

    clock = FixedClock(datetime(2026, 1, 15, 3, 12, tzinfo=UTC))
    scenario = Scenario(clock, bad_deploy_at=1.0, ramp_seconds=1.0)
    procedure = load_builtin("pitchey")
    platforms = start_platforms(
        scenario, procedure=procedure, job_seconds=0.2, only={"github_actions"}
    )
    clock.advance(5)
    try:
        incident = timeline.open_incident("drill", "P1", "pitchey", drill=True)
        session = Session(
            timeline=timeline, incident=incident, procedure=procedure,
            actions=platforms.providers, clock=clock,
        )  # fmt: skip
        app = CockpitApp(session, start_pollers=False)
        option = procedure.option("gha-workflow")
        async with app.run_test(size=(100, 40)) as pilot:
            screen = ActionScreen(
                option.provider, option.action, dict(option.params), option=option.id
            )
            app.push_screen(screen)
            for _ in range(400):
                if screen.asking == "reason" and screen.query("#action-choices"):
                    break
                await pilot.pause(0.01)
            assert screen.asking == "reason"
            await pilot.press(*"error rate 9%", "enter")
            for _ in range(400):
                if screen.plan is not None:
                    break
                await pilot.pause(0.01)
            assert screen.plan is not None
            assert screen.plan.cli.endswith("-f component=worker -f 'reason=error rate 9%'")
            await pilot.press(*screen.plan.target, "enter")
            for _ in range(500):
                if screen.result is not None:
                    break
                await pilot.pause(0.02)
            assert screen.result is not None
            assert screen.result.outcome == "succeeded", screen.result.summary
            assert "/actions/runs/" in screen.result.summary
        assert scenario.rolled_back_at is not None
        intent = next(e for e in timeline.events(incident.id) if e.kind == "action.intent")
        assert intent.command is not None and "gh workflow run rollback.yml" in intent.command
    finally:
        platforms.stop()


async def test_ai_saas_redeploy_reruns_the_picked_good_deployment(timeline: Timeline) -> None:
    """ai-saas's Method 1 (seed 002: re-run the last successful deployment workflow): the run
    is picked from deploy.yml's successful ones (ours: the seed names no file), re-run, and
    followed to success; the drill recovers."""
    from datetime import UTC, datetime

    from cockpit.app import CockpitApp
    from cockpit.core.clock import FixedClock
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.demo.platforms import start_platforms
    from cockpit.demo.scenario import Scenario
    from cockpit.screens.action import ActionScreen
    from cockpit.session import Session

    clock = FixedClock(datetime(2026, 1, 15, 3, 12, tzinfo=UTC))
    scenario = Scenario(clock, bad_deploy_at=1.0, ramp_seconds=1.0)
    procedure = load_builtin("ai-saas")
    platforms = start_platforms(
        scenario, procedure=procedure, job_seconds=0.2, only={"github_actions"}
    )
    clock.advance(5)
    try:
        incident = timeline.open_incident("drill", "P1", "ai-saas", drill=True)
        session = Session(
            timeline=timeline, incident=incident, procedure=procedure,
            actions=platforms.providers, clock=clock,
        )  # fmt: skip
        app = CockpitApp(session, start_pollers=False)
        option = procedure.option("cicd-redeploy")
        async with app.run_test(size=(100, 40)) as pilot:
            screen = ActionScreen(
                option.provider, option.action, dict(option.params), option=option.id
            )
            app.push_screen(screen)
            for _ in range(400):
                if screen.asking == "run_id" and screen.query("#action-choices"):
                    break
                await pilot.pause(0.01)
            assert screen.asking == "run_id"
            await pilot.press("enter")  # the only successful run: the good deployment's
            for _ in range(400):
                if screen.plan is not None:
                    break
                await pilot.pause(0.01)
            assert screen.plan is not None and screen.plan.cli.startswith("gh run rerun ")
            await pilot.press(*screen.plan.target, "enter")
            for _ in range(500):
                if screen.result is not None:
                    break
                await pilot.pause(0.02)
            assert screen.result is not None
            assert screen.result.outcome == "succeeded", screen.result.summary
        assert scenario.rolled_back_at is not None
        intent = next(e for e in timeline.events(incident.id) if e.kind == "action.intent")
        assert intent.command is not None and "gh run rerun" in intent.command
    finally:
        platforms.stop()
