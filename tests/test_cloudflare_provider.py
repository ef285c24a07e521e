"""The Cloudflare providers against CloudflareSimulator over real HTTP on 127.0.0.1.

Nothing sleeps on the wall clock: the simulator and the Report share a fake clock that the
Report's sleeper advances, so a Pages rollback walks its stages as the provider polls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fake_time import FakeClock

from cockpit import action_runner
from cockpit.action_runner import TimelineRecorder
from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError
from cockpit.core.timeline import Timeline
from cockpit.simulators.cloudflare import STAGES, CloudflareSimulator
from providers.cloudflare import PagesProvider, WorkersProvider

STAGE = 10.0


@pytest.fixture
def fake() -> FakeClock:
    return FakeClock()


@pytest.fixture
def changes() -> list[tuple[str, str, dict[str, Any]]]:
    return []


@pytest.fixture
def sim(fake: FakeClock, changes: list[tuple[str, str, dict[str, Any]]]) -> Iterator[Any]:
    simulator = CloudflareSimulator(
        clock=fake,
        stage_seconds=STAGE,
        on_worker_change=lambda script, d: changes.append(("worker", script, d)),
        on_pages_change=lambda project, d: changes.append(("pages", project, d)),
    )
    with simulator:
        yield simulator


def options(sim: CloudflareSimulator, **more: Any) -> dict[str, Any]:
    return {
        "base_url": f"{sim.url}/client/v4",
        "token": sim.token,
        "account_id": sim.account_id,
        "timeout_seconds": 2.0,
        "poll_seconds": 4.0,
    } | more


@pytest.fixture
def workers(sim: CloudflareSimulator) -> Iterator[WorkersProvider]:
    provider = WorkersProvider(WorkersProvider.Options(**options(sim, script="api")))
    yield provider
    provider.close()


@pytest.fixture
def pages(sim: CloudflareSimulator) -> Iterator[PagesProvider]:
    provider = PagesProvider(PagesProvider.Options(**options(sim, project="site")))
    yield provider
    provider.close()


def fake_report(fake: FakeClock, deadline: float | None = 300.0) -> Report:
    return Report(deadline_seconds=deadline, monotonic=fake, sleeper=fake.advance)


def run(provider: Any, plan: Any, timeline: Timeline, report: Report) -> action_runner.Result:
    incident = timeline.open_incident("cloudflare", "P1", "pulse-messages")
    recorder = TimelineRecorder(timeline, incident.id)
    return action_runner.run(provider, plan, plan.target, recorder, report)


def posts(sim: CloudflareSimulator) -> list[str]:
    return [f"{r.path}?{r.query}" for r in sim.requests if r.method == "POST"]


def serving_version(sim: CloudflareSimulator, script: str = "api") -> list[Any]:
    return (sim.serving_worker(script) or {})["versions"]  # type: ignore[no-any-return]


def commit(deployment: dict[str, Any] | None) -> str:
    return str((deployment or {})["deployment_trigger"]["metadata"]["commit_hash"])


# -- Workers -------------------------------------------------------------------------------


def test_workers_rollback_takes_wranglers_target(
    sim: CloudflareSimulator,
    workers: WorkersProvider,
    timeline: Timeline,
    fake: FakeClock,
    changes: list[Any],
) -> None:
    v1, v2, v3 = (sim.add_worker_version("api", message=f"v{n}")["id"] for n in (1, 2, 3))
    sim.deploy_worker("api", [(v1, 100)])
    sim.deploy_worker("api", [(v2, 100)])
    sim.deploy_worker("api", [(v2, 50), (v3, 50)])  # a canary: no version at 100 %, skipped
    sim.deploy_worker("api", [(v3, 100)])
    changes.clear()
    plan = workers.preflight("rollback_deployment", {})
    assert plan.data["version"] == v2 and plan.target == "api" and plan.destructive
    assert plan.cli == f'wrangler rollback {v2} --name api -m "Rollback"'
    assert plan.undo == {"action": "rollback_deployment", "params": {"version": v3}}
    assert "version #2" in plan.changes[0] and "'v2'" in plan.changes[0]
    assert any("D1, R2, KV" in w for w in plan.warnings)
    assert any("10220" in w and "force=true" in w for w in plan.warnings)
    result = run(workers, plan, timeline, fake_report(fake))
    assert result.outcome == "succeeded" and result.verified, result.summary
    assert serving_version(sim) == [{"version_id": v2, "percentage": 100}]
    assert [(c[0], c[1], c[2]["annotations"]) for c in changes] == [
        ("worker", "api", {"workers/message": "Rollback"})
    ]
    assert posts(sim) == ["/client/v4/accounts/acc-demo/workers/scripts/api/deployments?{}"]


def test_workers_rollback_to_a_chosen_version_with_a_message(
    sim: CloudflareSimulator, workers: WorkersProvider, timeline: Timeline, fake: FakeClock
) -> None:
    v1, v2, v3 = (sim.add_worker_version("api", tag=f"t{n}")["id"] for n in (1, 2, 3))
    for version in (v1, v2, v3):
        sim.deploy_worker("api", [(version, 100)])
    plan = workers.preflight("rollback_deployment", {"version": v1, "message": 'bad "3"'})
    assert plan.cli == f'wrangler rollback {v1} --name api -m "bad \\"3\\""'
    assert "tag t1" in plan.changes[0]
    result = run(workers, plan, timeline, fake_report(fake))
    assert result.outcome == "succeeded", result.summary
    assert serving_version(sim) == [{"version_id": v1, "percentage": 100}]
    assert (sim.serving_worker("api") or {})["annotations"] == {"workers/message": 'bad "3"'}
    with pytest.raises(ProviderError, match="120"):
        workers.preflight("rollback_deployment", {"version": v2, "message": "x" * 121})
    with pytest.raises(ProviderError, match="already serves 100 %"):
        workers.preflight("rollback_deployment", {"version": v1})


@pytest.mark.parametrize("history", ["split_only", "single"])
def test_no_stable_version_is_refused_in_preflight(
    sim: CloudflareSimulator, workers: WorkersProvider, history: str
) -> None:
    v1, v2 = sim.add_worker_version("api")["id"], sim.add_worker_version("api")["id"]
    if history == "split_only":
        sim.deploy_worker("api", [(v1, 60), (v2, 40)])
    sim.deploy_worker("api", [(v2, 100)])
    with pytest.raises(ProviderError, match="Could not find stable Worker Version to rollback to"):
        workers.preflight("rollback_deployment", {})
    assert posts(sim) == []
    assert serving_version(sim) == [{"version_id": v2, "percentage": 100}]


def test_changed_secrets_are_forced_once_and_named_in_the_transcript(
    sim: CloudflareSimulator, workers: WorkersProvider, timeline: Timeline, fake: FakeClock
) -> None:
    old = sim.add_worker_version("api")["id"]
    sim.deploy_worker("api", [(old, 100)])
    sim.change_secret("api", "DB_URL")
    new = sim.add_worker_version("api")["id"]
    sim.deploy_worker("api", [(new, 100)])
    plan = workers.preflight("rollback_deployment", {})
    assert any("force=true" in change for change in plan.changes)  # said before it runs
    result = run(workers, plan, timeline, fake_report(fake))
    assert result.outcome == "succeeded", result.summary
    assert serving_version(sim) == [{"version_id": old, "percentage": 100}]
    path = "/client/v4/accounts/acc-demo/workers/scripts/api/deployments"
    assert posts(sim) == [f"{path}?{{}}", f"{path}?{{'force': 'true'}}"]
    refused = next(line for line in result.transcript if "refused" in line)
    assert "The following secrets have changed: DB_URL (code 10220)" in refused
    assert any("force=true" in line for line in result.transcript)


def test_a_deployment_landing_after_the_rollback_is_not_verified(
    sim: CloudflareSimulator, workers: WorkersProvider, fake: FakeClock
) -> None:
    v1, v2 = sim.add_worker_version("api")["id"], sim.add_worker_version("api")["id"]
    sim.deploy_worker("api", [(v1, 100)])
    sim.deploy_worker("api", [(v2, 100)])
    plan = workers.preflight("rollback_deployment", {})
    report = fake_report(fake)
    executed = workers.execute(plan, report)
    sim.deploy_worker("api", [(v2, 100)])  # a CI deploy lands between execute and verify
    verified = workers.verify(plan, executed, report)
    assert not verified.ok
    assert verified.summary == f"api serves version {v2[:8]} 100 %, not version {v1[:8]} at 100 %"


def test_workers_helpers_list_newest_first(
    sim: CloudflareSimulator, workers: WorkersProvider
) -> None:
    v1, v2 = sim.add_worker_version("api")["id"], sim.add_worker_version("api")["id"]
    first = sim.deploy_worker("api", [(v1, 100)])["id"]
    second = sim.deploy_worker("api", [(v2, 100)])["id"]
    assert [d["id"] for d in workers.deployments()] == [second, first]
    assert [v["id"] for v in workers.versions()] == [v2, v1]
    assert workers.health() == f"api: version {v2[:8]} 100 %"


# -- Pages ---------------------------------------------------------------------------------


def test_pages_rollback_walks_the_stages_and_becomes_canonical(
    sim: CloudflareSimulator,
    pages: PagesProvider,
    timeline: Timeline,
    fake: FakeClock,
    changes: list[Any],
) -> None:
    good = sim.add_pages_deployment("site", commit_hash="aaa1111", commit_message="good")
    sim.add_pages_deployment("site", environment="preview", branch="feature")
    sim.add_pages_deployment("site", status="failure")
    bad = sim.add_pages_deployment("site", commit_hash="bbb2222")
    changes.clear()
    plan = pages.preflight("rollback_deployment", {})
    assert plan.data["deployment"] == good["id"] and plan.target == "site"
    assert plan.undo == {"action": "rollback_deployment", "params": {"deployment": bad["id"]}}
    assert "no wrangler command" in plan.cli and "Bearer $CLOUDFLARE_API_TOKEN" in plan.cli
    assert any("no wrangler command" in w for w in plan.warnings)
    result = run(pages, plan, timeline, fake_report(fake))
    assert result.outcome == "succeeded" and result.verified, result.summary
    assert commit(sim.canonical_pages("site")) == "aaa1111"
    new = sim.projects["site"].builds[-1].record["id"]
    assert [(c[0], c[2]["id"]) for c in changes] == [("pages", new)]
    stages = [line.split(": ", 1)[1] for line in result.transcript if line.startswith(new[:8])]
    walked = [s.split(":")[0] for s in stages]
    assert walked == [name for name in STAGES for _ in range(walked.count(name))]
    assert set(walked) == set(STAGES) and stages[-1] == "deploy: success"


def test_pages_preflight_refuses_preview_failed_running_and_current_targets(
    sim: CloudflareSimulator, pages: PagesProvider
) -> None:
    preview = sim.add_pages_deployment("site", environment="preview", branch="feature")
    failed = sim.add_pages_deployment("site", status="failure")
    serving = sim.add_pages_deployment("site")
    running = sim.add_pages_deployment("site", status="active")
    refusals = {
        preview["id"]: "preview deployment \\(branch feature\\)",
        failed["id"]: "did not succeed \\(build: failure\\)",
        serving["id"]: "serving production now",
        running["id"]: "has not finished \\(queued: active\\)",
    }
    for target, reason in refusals.items():
        with pytest.raises(ProviderError, match=f"cannot roll site back to {target}: .*{reason}"):
            pages.preflight("rollback_deployment", {"deployment": target})
    with pytest.raises(ProviderError, match="no successful production deployment older"):
        pages.preflight("rollback_deployment", {})
    assert posts(sim) == []


def test_a_failed_pages_build_is_not_verified(
    sim: CloudflareSimulator, pages: PagesProvider, fake: FakeClock
) -> None:
    sim.add_pages_deployment("site", commit_hash="aaa1111")
    sim.add_pages_deployment("site", commit_hash="bbb2222")
    plan = pages.preflight("rollback_deployment", {})
    report = fake_report(fake)
    executed = pages.execute(plan, report)
    sim.projects["site"].builds[-1].fails_at = STAGES.index("build")  # the rebuild breaks
    verified = pages.verify(plan, executed, report)
    assert not verified.ok
    assert "stopped at build: failure" in verified.summary and "bbb2222" in verified.summary
    assert commit(sim.canonical_pages("site")) == "bbb2222"


def test_the_deadline_passing_while_verifying_is_a_recorded_failure(
    sim: CloudflareSimulator, pages: PagesProvider, timeline: Timeline, fake: FakeClock
) -> None:
    sim.add_pages_deployment("site", commit_hash="aaa1111")
    sim.add_pages_deployment("site", commit_hash="bbb2222")
    plan = pages.preflight("rollback_deployment", {})
    result = run(pages, plan, timeline, fake_report(fake, deadline=2.5 * STAGE))
    assert result.outcome == "failed" and not result.verified
    assert result.summary.startswith("Timed out") and "the change was made" in result.summary
    assert "was at clone_repo: active" in result.summary
    assert commit(sim.canonical_pages("site")) == "bbb2222"
    incident = timeline.incidents()[0].id
    recorded = [(e.kind, dict(e.payload)) for e in timeline.events(incident)]
    assert [kind for kind, _ in recorded][-2:] == ["action.intent", "action.result"]
    assert recorded[-1][1]["outcome"] == "failed"
    assert timeline.unresolved_actions(incident) == []


def test_without_a_deadline_verify_gives_up_after_the_plans_timeout(
    sim: CloudflareSimulator, pages: PagesProvider, timeline: Timeline, fake: FakeClock
) -> None:
    sim.add_pages_deployment("site", commit_hash="aaa1111")
    sim.add_pages_deployment("site", commit_hash="bbb2222")
    plan = pages.preflight("rollback_deployment", {})
    plan.timeout_seconds = 3 * STAGE
    result = run(pages, plan, timeline, fake_report(fake, deadline=None))
    assert result.outcome == "failed" and "still at build: active after 30 s" in result.summary


def test_a_push_that_lands_after_the_rollback_is_not_verified(
    sim: CloudflareSimulator, fake: FakeClock, timeline: Timeline
) -> None:
    sim.add_pages_deployment("site", commit_hash="aaa1111")
    sim.add_pages_deployment("site", commit_hash="bbb2222")
    slow = PagesProvider(PagesProvider.Options(**options(sim, project="site", poll_seconds=60)))
    plan = slow.preflight("rollback_deployment", {})

    def sleeper(seconds: float) -> None:
        if len(sim.projects["site"].builds) == 3:  # someone pushes while the rollback builds
            sim.add_pages_deployment("site", status="active", commit_hash="ccc3333")
        fake.advance(seconds)

    report = Report(deadline_seconds=300, monotonic=fake, sleeper=sleeper)
    result = run(slow, plan, timeline, report)
    slow.close()
    assert result.outcome == "failed" and not result.verified
    assert "deployed but production serves" in result.summary and "ccc3333" in result.summary
    assert commit(sim.canonical_pages("site")) == "ccc3333"


def test_a_build_newer_than_the_one_serving_is_not_a_default_target(
    sim: CloudflareSimulator, pages: PagesProvider
) -> None:
    older = sim.add_pages_deployment("site", commit_hash="aaa1111")
    sim.add_pages_deployment("site", commit_hash="bbb2222")
    sim.add_pages_deployment("site", commit_hash="ccc3333")
    project = sim.projects["site"]
    project.canonical = project.builds[1]  # production was pointed back at bbb in place
    plan = pages.preflight("rollback_deployment", {})
    assert plan.data["deployment"] == older["id"]
    assert "bbb2222" in plan.changes[0] and "aaa1111" in plan.changes[0]


def test_the_candidates_start_with_what_a_rollback_means_and_end_with_what_serves(
    sim: CloudflareSimulator, workers: WorkersProvider, pages: PagesProvider
) -> None:
    v1, v2, v3 = (sim.add_worker_version("api", message=f"v{n}")["id"] for n in (1, 2, 3))
    for version in (v1, v2, v3):
        sim.deploy_worker("api", [(version, 100)])
    offered = workers.choices("rollback_deployment", "version", {})
    assert offered[0][0] == workers.preflight("rollback_deployment", {}).data["version"] == v2
    assert offered[-1][0] == v3 and offered[-1][1].endswith("serving now")
    good = sim.add_pages_deployment("site", commit_hash="aaa1111")
    sim.add_pages_deployment("site", environment="preview", branch="feature")
    bad = sim.add_pages_deployment("site", commit_hash="bbb2222")
    offered = pages.choices("rollback_deployment", "deployment", {})
    assert offered[0][0] == pages.preflight("rollback_deployment", {}).data["deployment"]
    assert offered[0][0] == good["id"]
    assert offered[-1][0] == bad["id"] and offered[-1][1].endswith("serving now")
