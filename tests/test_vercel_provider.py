"""The Vercel provider against VercelSimulator over real HTTP, on a clock only the tests move.

The simulator's jobs and the action's Report share one fake clock, and the Report's sleeper
advances it, so a five-second rollback job and a three-minute deadline take no wall time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fake_time import FakeClock
from local_http import Canned

from cockpit import action_runner
from cockpit.action_runner import TimelineRecorder
from cockpit.core.actions import Plan, Report
from cockpit.core.errors import ProviderError
from cockpit.core.timeline import Timeline
from cockpit.simulators.vercel import VercelSimulator
from providers.vercel import VercelProvider

TOKEN = "vercel-test-token"
TEAM = "team_sim"
PROJECT = "prj_shop"


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def changes() -> list[str]:
    """The uids on_production_change was told about, in order."""
    return []


@pytest.fixture
def sim(fake_clock: FakeClock, changes: list[str]) -> Iterator[VercelSimulator]:
    """v1, v2, v3 each served production (v3 serves now); one staged build that never served,
    a preview and a build still running; plus a project with a single deployment."""
    simulator = VercelSimulator(
        token=TOKEN,
        clock=fake_clock,
        team_id=TEAM,
        job_seconds=5.0,
        on_production_change=lambda deployment: changes.append(deployment["uid"]),
    )
    simulator.add_project(PROJECT, "shop")
    for uid, created in (("dpl_v1", 1_000), ("dpl_v2", 2_000), ("dpl_v3", 3_000)):
        simulator.add_deployment(PROJECT, uid=uid, created=created)
    simulator.add_deployment(PROJECT, uid="dpl_staged", created=2_500, aliased=False)
    simulator.add_deployment(PROJECT, uid="dpl_preview", created=3_500, target=None)
    simulator.add_deployment(PROJECT, uid="dpl_building", created=4_000, state="BUILDING")
    simulator.add_project("prj_solo", "solo")
    simulator.add_deployment("prj_solo", uid="dpl_only", created=5_000)
    with simulator:
        yield simulator


def make_provider(sim: VercelSimulator, **overrides: Any) -> VercelProvider:
    options = VercelProvider.Options.model_validate(
        {"base_url": sim.url, "token": TOKEN, "team_id": TEAM, "project": "shop", **overrides}
    )
    return VercelProvider(options)


@pytest.fixture
def provider(sim: VercelSimulator) -> Iterator[VercelProvider]:
    built = make_provider(sim)
    yield built
    built.close()


def url(sim: VercelSimulator, uid: str) -> str:
    return str(sim.deployments[uid]["url"])


def serving(sim: VercelSimulator, project: str = PROJECT) -> str:
    deployment = sim.production(project)
    assert deployment is not None
    return str(deployment["uid"])


def posts(sim: VercelSimulator) -> list[str]:
    return [r.path for r in sim.requests if r.method == "POST"]


def report_on(clock: FakeClock, deadline: float | None = 180.0) -> Report:
    """A Report on the fake clock; a provider that would poll past an hour fails, not hangs."""
    start = clock.now

    def sleeper(seconds: float) -> None:
        assert clock.now - start < 3600, "still polling after an hour"
        clock.advance(seconds)

    return Report(deadline_seconds=deadline, monotonic=clock, sleeper=sleeper)


def run(provider: VercelProvider, plan: Plan, timeline: Timeline, report: Report) -> Any:
    incident = timeline.open_incident("vercel", "P1", "huntaze")
    recorder = TimelineRecorder(timeline, incident.id)
    result = action_runner.run(provider, plan, plan.target, recorder, report)
    assert timeline.unresolved_actions(incident.id) == []  # the result is always recorded
    return result


def test_rollback_to_previous_moves_production_only_when_the_job_succeeded(
    sim: VercelSimulator, provider: VercelProvider, fake_clock: FakeClock, changes: list[str]
) -> None:
    plan = provider.preflight("instant_rollback", {})
    # The newest READY production deployment older than v3 that served: v2, not dpl_staged.
    assert plan.data["deployment"] == "dpl_v2"
    assert plan.target == "shop" and plan.destructive
    assert plan.changes[0] == f"production: {url(sim, 'dpl_v3')} → {url(sim, 'dpl_v2')}"
    assert plan.cli == f"vercel rollback {url(sim, 'dpl_v2')} --scope {TEAM}"
    assert [call.line() for call in plan.calls] == [
        f"POST {sim.url}/v9/projects/{PROJECT}/rollback/dpl_v2?teamId={TEAM} {{}}",
        f"GET {sim.url}/v9/projects/{PROJECT}?rollbackInfo=true&teamId={TEAM}",
    ]
    assert plan.undo == {"action": "promote", "params": {"project": "shop", "deployment": "dpl_v3"}}
    assert "until one is promoted" in plan.warnings[0]
    assert posts(sim) == []

    during: list[str] = []  # what served production at each poll

    def sleeper(seconds: float) -> None:
        assert seconds == 0.5  # the CLI's polling interval
        during.append(serving(sim))
        fake_clock.advance(seconds)

    progress: list[float | None] = []
    report = Report(
        lambda _line, fraction: progress.append(fraction),
        deadline_seconds=180,
        monotonic=fake_clock,
        sleeper=sleeper,
    )
    executed = provider.execute(plan, report)
    assert posts(sim) == [f"/v9/projects/{PROJECT}/rollback/dpl_v2"]
    assert serving(sim) == "dpl_v3" and changes == []
    verified = provider.verify(plan, executed, report)

    assert verified.ok, verified.summary
    assert len(during) >= 9 and set(during) == {"dpl_v3"}  # 5 s job, polled every 0.5 s
    assert serving(sim) == "dpl_v2" and changes == ["dpl_v2"]
    states = [line.rsplit(": ", 1)[1] for line in report.transcript if " job of shop to " in line]
    assert states == ["pending", "in-progress", "succeeded"]  # each change logged once
    assert [f for f in progress if f is not None] == [0.6, 0.75, 0.9]
    post = next(r for r in sim.requests if r.method == "POST")
    assert post.body == {} and post.query == {"teamId": TEAM}
    assert all(r.query.get("teamId") == TEAM for r in sim.requests)


def test_rollback_to_a_chosen_deployment_given_by_url(
    sim: VercelSimulator, provider: VercelProvider, fake_clock: FakeClock, timeline: Timeline
) -> None:
    plan = provider.preflight("instant_rollback", {"deployment": f"https://{url(sim, 'dpl_v1')}/"})
    assert plan.data["deployment"] == "dpl_v1"
    result = run(provider, plan, timeline, report_on(fake_clock))
    assert result.outcome == "succeeded", result.summary
    assert serving(sim) == "dpl_v1"


def test_a_failed_job_is_reported_with_its_failed_aliases(
    sim: VercelSimulator,
    provider: VercelProvider,
    fake_clock: FakeClock,
    timeline: Timeline,
    changes: list[str],
) -> None:
    plan = provider.preflight("instant_rollback", {})
    sim.fail_next_job()
    result = run(provider, plan, timeline, report_on(fake_clock))
    assert result.outcome == "failed" and not result.verified
    assert "rollback job of shop failed" in result.summary
    assert "failed aliases: shop.vercel.app" in result.summary
    assert f"production is still {url(sim, 'dpl_v3')}" in result.summary
    assert serving(sim) == "dpl_v3" and changes == []
    asked = [r for r in sim.requests if r.path.endswith("/rollback/aliases")]
    assert [r.query.get("failedOnly") for r in asked] == ["true"]
    # Only that job failed: a retry goes through.
    retry = run(
        provider, provider.preflight("instant_rollback", {}), timeline, report_on(fake_clock)
    )
    assert retry.outcome == "succeeded", retry.summary
    assert serving(sim) == "dpl_v2" and changes == ["dpl_v2"]


def test_a_job_that_succeeded_while_another_deployment_took_production_is_not_verified(
    sim: VercelSimulator, provider: VercelProvider, fake_clock: FakeClock, timeline: Timeline
) -> None:
    def hotfix(deployment: dict[str, Any]) -> None:  # a newer production deploy lands at once
        if deployment["uid"] == "dpl_v2":
            sim.add_deployment(PROJECT, uid="dpl_hotfix")

    sim.on_production_change = hotfix
    result = run(
        provider, provider.preflight("instant_rollback", {}), timeline, report_on(fake_clock)
    )
    assert result.outcome == "failed", result.summary
    assert f"succeeded; production is {url(sim, 'dpl_hotfix')}" in result.summary


@pytest.mark.parametrize(
    ("params", "refusal"),
    [
        ({"project": "solo"}, "nothing to roll back to in solo: no READY production deployment"),
        ({"deployment": "dpl_building"}, "it is BUILDING, not READY"),
        ({"deployment": "dpl_v3"}, "it already serves production"),
        ({"deployment": "dpl_staged"}, "it never served production"),
        ({"deployment": "dpl_preview"}, "it is a preview build"),
        ({"deployment": "dpl_only"}, "it belongs to another project, not shop"),
    ],
    ids=["nothing", "building", "current", "never-served", "preview", "other-project"],
)
def test_an_impossible_rollback_is_refused_in_preflight_with_no_post(
    sim: VercelSimulator, provider: VercelProvider, params: dict[str, str], refusal: str
) -> None:
    with pytest.raises(ProviderError, match=refusal) as raised:
        provider.preflight("instant_rollback", params)
    if "deployment" in params:  # the message names the deployment by the URL the CLI takes
        assert url(sim, params["deployment"]) in str(raised.value)
    assert posts(sim) == []


def test_bad_input_is_named(sim: VercelSimulator, provider: VercelProvider) -> None:
    with pytest.raises(ProviderError, match=r"read project nope: not found \(404\)"):
        provider.preflight("instant_rollback", {"project": "nope"})
    with pytest.raises(ProviderError, match=r"find deployment dpl_nope of shop: not found"):
        provider.preflight("instant_rollback", {"deployment": "dpl_nope"})
    with pytest.raises(ProviderError, match="placeholder"):
        provider.preflight("alias_set", {"deployment": "[blue-deployment-url]", "domain": "a.b"})
    with pytest.raises(ProviderError, match="needs deployment"):
        provider.preflight("promote", {})
    assert posts(sim) == []


def test_a_conflict_while_executing_names_project_and_deployment(
    sim: VercelSimulator, provider: VercelProvider, fake_clock: FakeClock, timeline: Timeline
) -> None:
    plan = provider.preflight("instant_rollback", {})
    other = make_provider(sim)  # someone else switched production to v2 meanwhile
    other.execute(
        other.preflight("alias_set", {"deployment": "dpl_v2", "domain": "shop.vercel.app"}),
        report_on(fake_clock),
    )
    result = run(provider, plan, timeline, report_on(fake_clock))
    assert result.outcome == "failed"
    assert f"roll back shop to {url(sim, 'dpl_v2')}: conflict (409)" in result.summary
    assert "while executing" in result.summary


def test_alias_set_switches_production_and_the_plan_names_the_old_holder(
    sim: VercelSimulator,
    provider: VercelProvider,
    fake_clock: FakeClock,
    timeline: Timeline,
    changes: list[str],
) -> None:
    blue = url(sim, "dpl_v2")
    plan = provider.preflight("alias_set", {"deployment": blue, "domain": "Shop.vercel.app"})
    assert plan.target == "shop.vercel.app" and plan.destructive
    assert plan.changes == [
        f"shop.vercel.app: {url(sim, 'dpl_v3')} → {blue}",
        f"production of shop: {url(sim, 'dpl_v3')} → {blue}",
    ]
    assert plan.cli == f"vercel alias set {blue} shop.vercel.app --scope {TEAM}"
    assert plan.undo == {
        "action": "alias_set",
        "params": {"project": "shop", "deployment": "dpl_v3", "alias": "shop.vercel.app"},
    }
    assert posts(sim) == []
    result = run(provider, plan, timeline, report_on(fake_clock))
    assert result.outcome == "succeeded", result.summary
    assert posts(sim) == ["/v2/deployments/dpl_v2/aliases"]
    assert serving(sim) == "dpl_v2" and changes == ["dpl_v2"]
    assert any("shop.vercel.app moved from dpl_v3" in line for line in result.transcript)


def test_alias_set_finds_the_holder_of_an_alias_that_is_not_production(
    sim: VercelSimulator, provider: VercelProvider, fake_clock: FakeClock, timeline: Timeline
) -> None:
    first = provider.preflight("alias_set", {"deployment": "dpl_v1", "alias": "canary.shop.dev"})
    assert first.changes == [f"canary.shop.dev: not assigned → {url(sim, 'dpl_v1')}"]
    assert first.undo is None
    assert run(provider, first, timeline, report_on(fake_clock)).outcome == "succeeded"
    second = provider.preflight("alias_set", {"deployment": "dpl_v2", "alias": "canary.shop.dev"})
    assert second.changes == [f"canary.shop.dev: {url(sim, 'dpl_v1')} → {url(sim, 'dpl_v2')}"]
    assert second.undo is not None and second.undo["params"]["deployment"] == "dpl_v1"
    with pytest.raises(ProviderError, match="already points at"):
        provider.preflight("alias_set", {"deployment": "dpl_v1", "alias": "canary.shop.dev"})
    assert serving(sim) == "dpl_v3"  # another alias: production untouched


@pytest.mark.parametrize("deadline", [60.0, None], ids=["report-deadline", "plan-timeout"])
def test_a_job_that_never_finishes_times_out_and_is_recorded_as_failed(
    sim: VercelSimulator, fake_clock: FakeClock, timeline: Timeline, deadline: float | None
) -> None:
    provider = make_provider(sim, poll_seconds=5)
    plan = provider.preflight("instant_rollback", {})
    sim.job_seconds = 10_000
    started = fake_clock.now
    result = run(provider, plan, timeline, report_on(fake_clock, deadline))
    assert result.outcome == "failed" and not result.verified
    assert result.summary.startswith("Timed out: Roll back shop")
    assert "while verifying; the change was made" in result.summary
    assert fake_clock.now - started == (deadline or plan.timeout_seconds)
    assert serving(sim) == "dpl_v3"


def test_promote_a_deployment_that_never_served(
    sim: VercelSimulator, provider: VercelProvider, fake_clock: FakeClock, timeline: Timeline
) -> None:
    plan = provider.preflight("promote", {"deployment": "dpl_staged"})
    assert plan.cli == f"vercel promote {url(sim, 'dpl_staged')} --scope {TEAM}"
    assert plan.calls[0].url.startswith(f"{sim.url}/v9/projects/{PROJECT}/promote/dpl_staged?")
    assert plan.undo == {"action": "promote", "params": {"project": "shop", "deployment": "dpl_v3"}}
    result = run(provider, plan, timeline, report_on(fake_clock))
    assert result.outcome == "succeeded", result.summary
    assert serving(sim) == "dpl_staged"
    undo = provider.preflight(plan.undo["action"], plan.undo["params"])
    assert run(provider, undo, timeline, report_on(fake_clock)).outcome == "succeeded"
    assert serving(sim) == "dpl_v3"


@pytest.mark.parametrize(("status", "outcome"), [(200, "succeeded"), (503, "failed")])
def test_the_health_url_must_answer_2xx_once_the_change_took(
    sim: VercelSimulator, fake_clock: FakeClock, timeline: Timeline, status: int, outcome: str
) -> None:
    app = Canned(b"ok", kind="text/plain")
    try:
        app.status = status
        provider = make_provider(sim, health_url=f"{app.url}/api/health")
        plan = provider.preflight("instant_rollback", {})
        assert plan.calls[-1].line() == f"GET {app.url}/api/health"
        result = run(provider, plan, timeline, report_on(fake_clock))
    finally:
        app.stop()
    assert result.outcome == outcome, result.summary
    assert f"health {app.url}/api/health: {status}" in result.summary
    assert serving(sim) == "dpl_v2"  # the rollback itself went through either way


def test_deployments_for_the_ui_to_choose_from(
    sim: VercelSimulator, provider: VercelProvider
) -> None:
    listed = provider.deployments()
    assert [d.uid for d in listed][:3] == ["dpl_building", "dpl_preview", "dpl_v3"]
    by_uid = {d.uid: d for d in listed}
    assert by_uid["dpl_v3"].live and not by_uid["dpl_v2"].live
    assert by_uid["dpl_v2"].candidate and not by_uid["dpl_staged"].candidate
    assert by_uid["dpl_v2"].label == url(sim, "dpl_v2")
    candidates = provider.deployments("shop", rollbackCandidate=True)
    assert [d.uid for d in candidates] == ["dpl_v3", "dpl_v2", "dpl_v1"]
    assert provider.health() == f"project shop: production is {url(sim, 'dpl_v3')}"


def test_the_candidates_start_with_the_last_good_deployment_and_end_with_what_serves(
    provider: VercelProvider,
) -> None:
    offered = [uid for uid, _ in provider.choices("instant_rollback", "deployment", {})]
    assert offered[0] == "dpl_v2", "the newest production deployment that is not serving"
    assert offered[-1] == "dpl_v3"
    assert offered.index("dpl_preview") > offered.index("dpl_v1"), "previews after production"
    labels = dict(provider.choices("instant_rollback", "deployment", {}))
    assert labels["dpl_v3"].endswith("serving now")


def test_an_automatic_rollback_whose_job_fails_ends_failed_and_escalates(
    sim: VercelSimulator, provider: VercelProvider, fake_clock: FakeClock, timeline: Timeline
) -> None:
    """Issue 19: the automatic rollback of pulse-messages (Vercel, destructive allowed as its
    runbook asks) against the simulator, whose job fails: the result is recorded as the
    cockpit's, ends as failed, and the automation escalates to the next level and pages."""
    from cockpit.auto_runner import run_automatic
    from cockpit.core import auto_rollback
    from cockpit.core.automation import Automation
    from cockpit.core.board import Board
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.core.state import IncidentState

    pulse = load_builtin("pulse-messages")
    options = [
        o.model_copy(update={"params": {"project": "shop"}}) if o.id == "vercel-instant" else o
        for o in pulse.options
    ]
    procedure = pulse.model_copy(update={"options": options})
    [entry] = procedure.automatic
    assert entry.option == "vercel-instant" and entry.destructive_allowed
    incident = timeline.open_incident("Checkout errors", "P1", procedure.name)
    recorder = TimelineRecorder(timeline, incident.id, actor=auto_rollback.AUTOMATIC)
    sim.fail_next_job()
    kind, reason = run_automatic(
        entry, procedure, provider, recorder, report_on(fake_clock), busy=lambda: False
    )
    assert kind == auto_rollback.FAILED and "rollback job of shop failed" in reason
    events = timeline.events(incident.id)
    result = next(e for e in events if e.kind == "action.result")
    assert result.actor == auto_rollback.AUTOMATIC and result.payload["outcome"] == "failed"
    state = IncidentState.replay(timeline.incident(incident.id), events, procedure)
    automation = Automation(state, driving=True)
    automation.paging = True
    automation.use(Board(procedure, 60.0))
    steps = automation.automatic_ended(kind, reason, state.drill_time(events[-1].at))
    written = [(w.kind, w.actor) for w in steps.writes]
    assert (auto_rollback.FAILED, auto_rollback.AUTOMATIC) in written
    assert ("escalation.due", auto_rollback.AUTOMATIC) in written
    assert any(w.kind == "outbox.queued" for w in steps.writes), "paged"
    assert serving(sim) == "dpl_v3", "production unchanged: nothing half-done unrecorded"
