"""Workers secrets and vars put back, against CloudflareSimulator over HTTP on 127.0.0.1.

The secret values are canaries: they must reach the simulator's store and nothing the cockpit
writes (plan, timeline, transcript, state file); only names and sha256 digests do.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from typing import Any

import pytest

from cockpit import action_runner
from cockpit.action_runner import TimelineRecorder
from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError
from cockpit.core.timeline import Timeline
from cockpit.simulators.cloudflare import CloudflareSimulator
from providers.cloudflare import WorkersProvider
from providers.cloudflare_state import WorkerState, digest

GOOD = "zq9-good-canary-Rt51"
NOW = "zq9-now-canary-Pw07"


@pytest.fixture
def sim() -> Iterator[CloudflareSimulator]:
    simulator = CloudflareSimulator()
    first = simulator.add_worker_version("api", message="good")
    simulator.deploy_worker("api", [(first["id"], 100)])
    simulator.set_secret("api", "API_KEY", NOW)
    simulator.set_vars("api", {"MODE": "stable", "LIMITS": {"rps": 10}})
    with simulator:
        yield simulator


def make(sim: CloudflareSimulator, **more: Any) -> WorkersProvider:
    options = {
        "base_url": f"{sim.url}/client/v4",
        "token": sim.token,
        "account_id": sim.account_id,
        "script": "api",
        "timeout_seconds": 2.0,
    } | more
    return WorkersProvider(WorkersProvider.Options.model_validate(options))


def run(provider: WorkersProvider, plan: Any, timeline: Timeline) -> action_runner.Result:
    incident = timeline.open_incident("cloudflare", "P1", "pulse-messages")
    recorder = TimelineRecorder(timeline, incident.id)
    return action_runner.run(provider, plan, plan.target, recorder, Report())


def everything_written(timeline: Timeline, result: Any, plan: Any, provider: Any) -> str:
    events = [
        (e.kind, e.summary, dict(e.payload), e.command)
        for i in timeline.incidents()
        for e in timeline.events(i.id)
    ]
    state = WorkerState(provider.opts.base_url, provider.opts.account_id, "api").path()
    return json.dumps([events, result.transcript, result.summary, plan.as_payload()]) + (
        state.read_text() if state.exists() else ""
    )


def test_a_secret_is_put_back_and_only_its_digest_is_recorded(
    sim: CloudflareSimulator, timeline: Timeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOD_API_KEY", GOOD)
    provider = make(sim, secrets={"API_KEY": {"env": "GOOD_API_KEY"}})
    plan = provider.preflight("restore_secrets", {})
    assert plan.changes == [
        f"secret API_KEY: unknown value (never recorded) → sha256:{digest(GOOD)[:12]}"
    ]
    assert plan.undo is None and any("Undo is by hand" in w for w in plan.warnings)
    result = run(provider, plan, timeline)
    assert result.outcome == "succeeded" and result.verified, result.summary
    assert sim.secret_value("api", "API_KEY") == GOOD
    put = [r for r in sim.requests if r.method == "PUT"]
    assert [r.body for r in put] == [{"name": "API_KEY", "text": GOOD, "type": "secret_text"}]
    written = everything_written(timeline, result, plan, provider)
    assert GOOD not in written and NOW not in written
    assert digest(GOOD) in written  # the digest is what the cockpit keeps
    again = provider.preflight("restore_secrets", {})
    assert "as recorded" in again.changes[0]


def test_the_undo_puts_back_the_value_in_place_before_when_configured(
    sim: CloudflareSimulator, timeline: Timeline
) -> None:
    provider = make(sim, secrets={"API_KEY": GOOD}, secrets_current={"API_KEY": NOW})
    plan = provider.preflight("restore_secrets", {"names": "API_KEY"})
    assert plan.undo == {
        "action": "restore_secrets",
        "params": {"names": "API_KEY", "source": "current"},
    }
    assert run(provider, plan, timeline).outcome == "succeeded"
    undo = provider.preflight(plan.undo["action"], plan.undo["params"])
    assert undo.changes == [
        f"secret API_KEY: sha256:{digest(GOOD)[:12]} → sha256:{digest(NOW)[:12]}"
    ]
    assert run(provider, undo, timeline).outcome == "succeeded"
    assert sim.secret_value("api", "API_KEY") == NOW


def test_a_name_without_a_source_is_refused_before_anything(sim: CloudflareSimulator) -> None:
    provider = make(sim, secrets={"API_KEY": GOOD})
    with pytest.raises(ProviderError, match="no source for DB_URL"):
        provider.preflight("restore_secrets", {"names": "DB_URL"})
    with pytest.raises(ProviderError, match="no secret sources configured"):
        make(sim).preflight("restore_secrets", {})


def test_a_secret_after_a_rollback_is_refused_with_10215_explained(
    sim: CloudflareSimulator, timeline: Timeline
) -> None:
    newer = sim.add_worker_version("api", message="bad")
    first = sim.workers["api"].versions[0]["id"]
    sim.deploy_worker("api", [(newer["id"], 100)])
    sim.deploy_worker("api", [(first, 100)])  # rolled back: the latest is not deployed
    provider = make(sim, secrets={"API_KEY": GOOD})
    result = run(provider, provider.preflight("restore_secrets", {}), timeline)
    assert result.outcome == "failed"
    assert "10215" in result.summary and "wrangler versions secret put" in result.summary
    assert GOOD not in json.dumps(result.transcript) + result.summary
    assert sim.secret_value("api", "API_KEY") == NOW


def test_vars_seen_before_are_put_back_and_secrets_stay(
    sim: CloudflareSimulator, timeline: Timeline
) -> None:
    provider = make(sim)
    with pytest.raises(ProviderError, match="no recorded vars"):
        provider.preflight("restore_vars", {})  # the first sighting is recorded
    sim.set_vars("api", {"MODE": "broken", "DEBUG": "1"})
    plan = provider.preflight("restore_vars", {})
    assert [c.split(":")[0] for c in plan.changes[1:]] == [
        "var DEBUG",
        "var LIMITS",
        "var MODE",
    ]
    assert "broken" not in json.dumps(plan.as_payload())
    assert "removed" in plan.changes[1] and "added" in plan.changes[2]
    result = run(provider, plan, timeline)
    assert result.outcome == "succeeded" and result.verified, result.summary
    assert sim.var_values("api") == {"MODE": "stable", "LIMITS": {"rps": 10}}
    assert sim.secret_value("api", "API_KEY") == NOW  # sent as inherit
    assert NOW not in everything_written(timeline, result, plan, provider)
    state = WorkerState(provider.opts.base_url, provider.opts.account_id, "api").path()
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert plan.undo is not None
    undo = provider.preflight(plan.undo["action"], plan.undo["params"])
    assert run(provider, undo, timeline).outcome == "succeeded"
    assert sim.var_values("api") == {"MODE": "broken", "DEBUG": "1"}


def test_vars_changed_since_the_plan_are_not_overwritten(
    sim: CloudflareSimulator, timeline: Timeline
) -> None:
    provider = make(sim)
    with pytest.raises(ProviderError):
        provider.preflight("restore_vars", {})
    sim.set_vars("api", {"MODE": "broken"})
    plan = provider.preflight("restore_vars", {})
    sim.set_vars("api", {"MODE": "someone-else"})
    result = run(provider, plan, timeline)
    assert result.outcome == "failed" and "changed since the plan" in result.summary
    assert sim.var_values("api") == {"MODE": "someone-else"}


def test_refusals_are_named(sim: CloudflareSimulator) -> None:
    gone = make(sim, script="deleted", secrets={"API_KEY": GOOD})
    with pytest.raises(ProviderError, match=r"no longer exists.*10007"):
        gone.preflight("restore_secrets", {})
    with pytest.raises(ProviderError, match="not allowed with these credentials"):
        make(sim, token="wrong-token", secrets={"API_KEY": GOOD}).preflight("restore_secrets", {})
    waited: list[float] = []
    provider = make(sim, secrets={"API_KEY": GOOD})
    plan = provider.preflight("restore_secrets", {})
    sim.fail("rate_limit", retry_after=2, times=1)
    report = Report(sleeper=waited.append)
    executed = provider.execute(plan, report)
    assert waited == [2] and "1 secret" in executed.summary
