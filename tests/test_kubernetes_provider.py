"""The Kubernetes provider against KubernetesSimulator over real HTTP, on a clock only tests move.

The simulator's rollouts and the action's Report share one fake clock and the Report's sleeper
advances it, so a 30-second rollout and a two-minute wait take no wall time. Two tests put the
real kubectl beside the provider (over TLS, from one kubeconfig): kubectl's own `rollout undo
--dry-run=server` sends the same JSON Patch the provider sends, and kubectl's `rollout history`
after the provider's undo is the provider's history.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_time import FakeClock
from pydantic import ValidationError

from cockpit import action_runner
from cockpit.action_runner import TimelineRecorder
from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError, ProviderUnavailable
from cockpit.core.timeline import Timeline
from cockpit.simulators.kubernetes import KubernetesSimulator
from providers.kubernetes import PAUSED, KubernetesProvider, Revision

TOKEN = "k8s-provider-token"
KUBECTL = shutil.which("kubectl")
SMP = "application/strategic-merge-patch+json"


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def seed(sim: KubernetesSimulator) -> None:
    """web served web:1, then web:2, and serves web:3 now (revisions 1–3)."""
    sim.add_deployment("web", "web:1", change_cause="release 1")
    sim.set_image("web", "web:2", change_cause="release 2")
    sim.set_image("web", "web:3", change_cause="release 3")


@pytest.fixture
def sim(fake_clock: FakeClock) -> Iterator[KubernetesSimulator]:
    simulator = KubernetesSimulator(token=TOKEN, clock=fake_clock, ready_seconds=30)
    with simulator:
        seed(simulator)
        yield simulator


def make(sim: KubernetesSimulator, **options: Any) -> KubernetesProvider:
    settings: dict[str, Any] = {
        "host": sim.url,
        "token": TOKEN,
        "namespace": "default",
        "poll_seconds": 2,
        "rollout_seconds": 120,
        "timeout_seconds": 2,
    }
    return KubernetesProvider(KubernetesProvider.Options.model_validate(settings | options))


@pytest.fixture
def provider(sim: KubernetesSimulator) -> Iterator[KubernetesProvider]:
    built = make(sim)
    yield built
    built.close()


@pytest.fixture
def report(fake_clock: FakeClock) -> Report:
    return Report(sleeper=fake_clock.advance, monotonic=fake_clock)


def run(provider: KubernetesProvider, params: dict[str, Any], timeline: Timeline, report: Report,
        action: str = "rollout_undo") -> action_runner.Result:  # fmt: skip
    plan = provider.preflight(action, params)
    incident = timeline.open_incident("k8s", "P1", "pulse-messages")
    typed = plan.target if plan.destructive else None
    return action_runner.run(provider, plan, typed, TimelineRecorder(timeline, incident.id), report)


def image(sim: KubernetesSimulator) -> str:
    return str(sim.deployment("web")["spec"]["template"]["spec"]["containers"][0]["image"])


def patches(sim: KubernetesSimulator) -> list[Any]:
    return [r for r in sim.requests if r.method == "PATCH"]


def test_undo_goes_back_one_revision_and_is_verified_once_rolled_out(
    sim: KubernetesSimulator, provider: KubernetesProvider, timeline: Timeline, report: Report
) -> None:
    plan = provider.preflight("rollout_undo", {"deployment": "web"})
    assert plan.target == "web" and plan.destructive
    assert (
        plan.title
        == f"Roll back deployment/web ({sim.url}, namespace default) to revision 2 (image web:2)"
    )
    assert plan.changes[0] == (
        f"deployment/web in default on {sim.url}: "
        "revision 3 (image web:3) → revision 2 (image web:2)"
    )
    assert "revision 2 becomes revision 4" in plan.changes[1]
    assert plan.cli == "kubectl -n default rollout undo deployment/web --to-revision=2"
    assert [c.method for c in plan.calls] == ["GET", "GET", "PATCH"]
    assert "labelSelector=app%3Dweb" in plan.calls[1].url
    assert plan.undo == {
        "action": "rollout_undo",
        "params": {"deployment": "web", "namespace": "default", "to_revision": 3},
    }
    assert patches(sim) == []  # the plan changed nothing

    result = run(provider, {"deployment": "web"}, timeline, report)
    assert result.outcome == "succeeded", result.summary
    assert result.verified and "successfully rolled out" in result.summary
    assert "revision 2 now serves as revision 4" in result.summary
    assert any("rollout to finish" in line for line in result.transcript)
    assert image(sim) == "web:2"
    assert sim.history("web") == [
        (1, "release 1", "web:1"),
        (3, "release 3", "web:3"),
        (4, "release 2", "web:2"),
    ]
    sent = patches(sim)[-1]
    assert sent.headers["content-type"] == "application/json-patch+json"
    assert [op["path"] for op in sent.body] == ["/spec/template", "/metadata/annotations"]
    assert "pod-template-hash" not in sent.body[0]["value"]["metadata"]["labels"]


def test_undo_to_a_named_revision_and_undo_of_the_undo(
    sim: KubernetesSimulator, provider: KubernetesProvider, timeline: Timeline, report: Report
) -> None:
    plan = provider.preflight("rollout_undo", {"deployment": "deployment/web", "to_revision": "1"})
    assert plan.cli.endswith("rollout undo deployment/web --to-revision=1")
    assert run(provider, {"deployment": "web", "to_revision": 1}, timeline, report).verified
    assert image(sim) == "web:1"
    assert [rev for rev, _, _ in sim.history("web")] == [2, 3, 4]
    assert plan.undo is not None
    back = run(provider, plan.undo["params"], timeline, report)
    assert back.verified and image(sim) == "web:3"
    assert [rev for rev, _, _ in sim.history("web")] == [2, 4, 5]


def test_history_and_choices_for_the_ui(provider: KubernetesProvider) -> None:
    history = provider.history("web")
    assert [(r.revision, r.change_cause, r.images, r.serving) for r in history] == [
        (1, "release 1", ("web:1",), False),
        (2, "release 2", ("web:2",), False),
        (3, "release 3", ("web:3",), True),
    ]
    assert all(isinstance(r, Revision) and r.replicaset.startswith("web-") for r in history)
    assert provider.choices("rollout_undo", "to_revision", {"deployment": "web"}) == [
        ("2", "revision 2 (image web:2) · release 2"),
        ("1", "revision 1 (image web:1) · release 1"),
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"deployment": "nope"}, 'deployment "nope" not found in namespace default'),
        ({"deployment": "web", "to_revision": 9}, "unable to find specified revision 9 in history"),
        ({"deployment": "web", "to_revision": -1}, "unable to find specified revision -1"),
        (
            {"deployment": "web", "to_revision": 3},
            "skipped rollback (current template already matches revision 3)",
        ),
        ({"deployment": "solo"}, 'no rollout history found for deployment "solo"'),
        ({}, "needs deployment"),
    ],
)
def test_what_kubectl_refuses_is_refused_in_preflight(
    sim: KubernetesSimulator, provider: KubernetesProvider, params: dict[str, Any], message: str
) -> None:
    sim.add_deployment("solo", "solo:1")
    with pytest.raises(ProviderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        provider.preflight("rollout_undo", params)
    assert patches(sim) == []


def test_a_paused_deployment_is_refused(
    sim: KubernetesSimulator, provider: KubernetesProvider
) -> None:
    import httpx

    httpx.patch(
        f"{sim.url}/apis/apps/v1/namespaces/default/deployments/web",
        content=b'{"spec": {"paused": true}}',
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": SMP},
    ).raise_for_status()
    with pytest.raises(ProviderError) as refused:
        provider.preflight("rollout_undo", {"deployment": "web"})
    assert PAUSED in str(refused.value) and "paused" in str(refused.value)
    assert image(sim) == "web:3"


def test_a_change_between_plan_and_run_is_not_overwritten(
    sim: KubernetesSimulator, provider: KubernetesProvider, timeline: Timeline, report: Report
) -> None:
    plan = provider.preflight("rollout_undo", {"deployment": "web"})
    sim.set_image("web", "web:4", change_cause="someone else")
    incident = timeline.open_incident("k8s", "P1", "pulse-messages")
    result = action_runner.run(
        provider, plan, "web", TimelineRecorder(timeline, incident.id), report
    )
    assert result.outcome == "failed" and "changed since the plan" in result.summary
    assert image(sim) == "web:4" and patches(sim) == []


def test_a_rollout_past_its_progress_deadline_is_recorded_as_failed(
    sim: KubernetesSimulator, provider: KubernetesProvider, timeline: Timeline, report: Report
) -> None:
    sim.broken_images.add("web:2")  # its image is gone from the registry: pods never start
    import httpx

    httpx.patch(
        f"{sim.url}/apis/apps/v1/namespaces/default/deployments/web",
        content=b'{"spec": {"progressDeadlineSeconds": 60}}',
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": SMP},
    ).raise_for_status()
    result = run(provider, {"deployment": "web"}, timeline, report)
    assert result.outcome == "failed" and not result.verified
    assert result.summary.startswith("Not verified: Roll back deployment/web")
    assert result.summary.endswith('deployment "web" exceeded its progress deadline')
    assert any("1 out of 3 new replicas have been updated" in line for line in result.transcript)
    recorded = timeline.events(timeline.incidents()[0].id)
    assert [e.kind for e in recorded][-2:] == ["action.intent", "action.result"]
    assert recorded[-1].payload["outcome"] == "failed"
    assert sim.deployment("web")["status"]["availableReplicas"] == 3  # web:3 still serves


def test_a_rollout_still_going_when_verify_gives_up_is_not_verified(
    sim: KubernetesSimulator, provider: KubernetesProvider, timeline: Timeline, report: Report
) -> None:
    sim.broken_images.add("web:2")  # default deadline: 600 s, longer than rollout_seconds
    result = run(provider, {"deployment": "web"}, timeline, report)
    assert result.outcome == "failed"
    assert "not rolled out after 120 s" in result.summary


def test_scale_up_and_down(
    sim: KubernetesSimulator, provider: KubernetesProvider, timeline: Timeline, report: Report
) -> None:
    up = provider.preflight("scale", {"deployment": "web", "replicas": 5})
    assert not up.destructive and up.changes[0].endswith("replicas 3 → 5")
    assert up.cli == "kubectl -n default scale deployment/web --replicas=5"
    assert up.undo == {
        "action": "scale",
        "params": {"deployment": "web", "namespace": "default", "replicas": 3},
    }
    result = run(provider, {"deployment": "web", "replicas": 5}, timeline, report, "scale")
    assert result.verified and "runs 5 available replicas" in result.summary
    sent = patches(sim)[-1]
    assert sent.path.endswith("/deployments/web/scale")
    assert (sent.headers["content-type"], sent.body) == (
        "application/merge-patch+json",
        {"spec": {"replicas": 5}},
    )
    down = provider.preflight("scale", {"deployment": "web", "replicas": 0})
    assert down.destructive and down.warnings
    assert len(sim.history("web")) == 3  # scaling makes no revision
    with pytest.raises(ProviderError, match="whole number"):
        provider.preflight("scale", {"deployment": "web", "replicas": -2})


def test_an_unreachable_api_server_fails_fast_and_clearly(sim: KubernetesSimulator) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    gone = make(sim, host=f"http://127.0.0.1:{closed}")
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="connection refused"):
        gone.preflight("rollout_undo", {"deployment": "web"})
    with pytest.raises(ProviderUnavailable, match=f"127.0.0.1:{closed}"):
        gone.health()
    assert time.monotonic() - started < 2


def test_options_need_a_cluster_and_read_a_kubeconfig(
    sim: KubernetesSimulator, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="host"):
        KubernetesProvider.Options.model_validate({"token": TOKEN})
    config = sim.kubeconfig(tmp_path / "kubeconfig", context="prod-eu", namespace="shop")
    sim.add_deployment("web", "web:1", namespace="shop")
    sim.set_image("web", "web:2", namespace="shop")
    from_file = KubernetesProvider(
        KubernetesProvider.Options.model_validate({"kubeconfig": str(config)})
    )
    assert from_file.health() == "prod-eu: namespace shop, 1 deployments"
    plan = from_file.preflight("rollout_undo", {"deployment": "web"})
    assert (
        plan.cli == "kubectl --context prod-eu -n shop rollout undo deployment/web --to-revision=1"
    )
    assert "prod-eu" in plan.title and "namespace shop" in plan.title
    assert TOKEN not in str(plan.as_payload())
    wrong = KubernetesProvider.Options.model_validate(
        {"kubeconfig": str(config), "context": "nope"}
    )
    with pytest.raises(ProviderError, match="no context 'nope'"):
        KubernetesProvider(wrong).health()


# -- beside the real kubectl ------------------------------------------------------------------


@pytest.fixture
def tls_sim(tmp_path: Path) -> Iterator[KubernetesSimulator]:
    simulator = KubernetesSimulator(token=TOKEN, ready_seconds=0)
    simulator.serve_tls(tmp_path)
    with simulator:
        yield simulator


def kubectl(config: Path, *args: str) -> str:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed")
    env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(config.parent)}
    done = subprocess.run([KUBECTL, *args], env=env, capture_output=True, text=True, timeout=30)
    return done.stdout + done.stderr


def test_the_provider_sends_the_patch_kubectl_sends(
    tls_sim: KubernetesSimulator, tmp_path: Path
) -> None:
    seed(tls_sim)
    before = tls_sim.deployment("web")
    config = tls_sim.kubeconfig(tmp_path / "kubeconfig")
    kubectl(
        config,
        "annotate",
        "deployment/web",
        "team=shop",
        "kubectl.kubernetes.io/last-applied-configuration={}",
    )
    assert "rolled back (server dry run)" in kubectl(
        config, "rollout", "undo", "deployment/web", "--dry-run=server"
    )
    by_kubectl = patches(tls_sim)[-1]
    assert by_kubectl.query.get("dryRun") == "All" and image(tls_sim) == "web:3"
    provider = KubernetesProvider(
        KubernetesProvider.Options.model_validate({"kubeconfig": str(config)})
    )
    plan = provider.preflight("rollout_undo", {"deployment": "web"})
    provider.execute(plan, Report())
    by_provider = patches(tls_sim)[-1]
    assert by_provider.body == by_kubectl.body
    assert by_provider.headers["content-type"] == by_kubectl.headers["content-type"]
    annotations = by_provider.body[1]["value"]
    assert annotations["kubernetes.io/change-cause"] == "release 2"  # from the ReplicaSet
    assert "kubectl.kubernetes.io/last-applied-configuration" in annotations  # kept
    assert "team" not in annotations  # dropped: set after revision 2 was made
    assert (
        before["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        == annotations["deployment.kubernetes.io/revision"]
    )


def test_kubectl_sees_the_history_the_provider_made(
    tls_sim: KubernetesSimulator, tmp_path: Path
) -> None:
    seed(tls_sim)
    config = tls_sim.kubeconfig(tmp_path / "kubeconfig")
    provider = KubernetesProvider(
        KubernetesProvider.Options.model_validate({"kubeconfig": str(config), "poll_seconds": 0.05})
    )
    plan = provider.preflight("rollout_undo", {"deployment": "web", "to_revision": 1})
    assert (
        plan.cli == "kubectl --context sim -n default rollout undo deployment/web --to-revision=1"
    )
    executed = provider.execute(plan, Report())
    assert provider.verify(plan, executed, Report(deadline_seconds=10)).ok
    shown = kubectl(config, "rollout", "history", "deployment/web").splitlines()
    rows = [
        line.split(None, 1)
        for line in shown[shown.index("REVISION  CHANGE-CAUSE") + 1 :]
        if line.strip()
    ]
    assert (
        [(int(rev), cause.strip()) for rev, cause in rows]
        == [(r.revision, r.change_cause) for r in provider.history("web")]
        == [(2, "release 2"), (3, "release 3"), (4, "release 1")]
    )
    status = kubectl(config, "rollout", "status", "deployment/web", "--timeout=10s")
    assert status.strip() == 'deployment "web" successfully rolled out'


def test_a_scale_that_became_destructive_since_its_plan_is_refused(
    sim: KubernetesSimulator, provider: KubernetesProvider, timeline: Timeline, report: Report
) -> None:
    """Confirmed with Enter because it added capacity at the plan (3 → 5); someone scaled to 8
    meanwhile: now it would take capacity away, so it is refused, not run on that Enter."""
    stale = provider.preflight("scale", {"deployment": "web", "replicas": 5})
    assert not stale.destructive
    run(provider, {"deployment": "web", "replicas": 8}, timeline, report, "scale")
    with pytest.raises(ProviderError, match=r"now runs 8 replicas .*plan again"):
        provider.execute(stale, report)
    assert sim.deployment("web")["spec"]["replicas"] == 8
