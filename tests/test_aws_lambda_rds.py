"""The aws_lambda and aws_rds providers against moto in server mode on 127.0.0.1.

moto's gaps (reference §12.7): UpdateAlias ignores RevisionId (never 412), so "the alias moved"
is a change made between plan and execute, caught by execute's second read; a restored RDS
instance is available at once, so the bounded wait is tested by making moto's answer stay
`creating`. Throttling: TooManyRequestsException is a unit test with botocore's Stubber.
"""

from __future__ import annotations

from typing import Any

import aws_world as world
import moto_server as moto
import pytest
from moto_server import KEY_ID, SECRET, MotoServer

from cockpit import action_runner
from cockpit.action_runner import TimelineRecorder
from cockpit.core.actions import ActionTimedOut, Report
from cockpit.core.errors import ProviderError, ProviderUnavailable
from cockpit.core.timeline import Timeline
from providers.aws import LambdaProvider, RdsProvider

moto_server = moto.moto_server


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_AWS_KEY_ID", KEY_ID)
    monkeypatch.setenv("TEST_AWS_SECRET", SECRET)


def lambdas(server: MotoServer) -> LambdaProvider:
    return LambdaProvider(LambdaProvider.Options.model_validate(world.options(server)))


def rds(server: MotoServer, **overrides: Any) -> RdsProvider:
    options = world.options(server, **{"poll_seconds": 1, **overrides})
    return RdsProvider(RdsProvider.Options.model_validate(options))


def test_alias_goes_back_to_the_previous_version_and_undo_returns(
    moto_server: MotoServer, timeline: Timeline
) -> None:
    function = world.function_with_alias(moto_server, 3, "3")
    provider = lambdas(moto_server)
    assert [
        v for v, _ in provider.choices("alias_rollback", "version", {"function": function})
    ] == [
        "3",
        "2",
        "1",
    ]
    plan = provider.preflight("alias_rollback", {"function": function, "alias": "live"})
    assert plan.data["version"] == "2" and "--function-version 2" in plan.cli
    assert world.alias_version(moto_server, function) == "3"
    incident = timeline.open_incident("lambda", "P1", "huntaze")
    recorder = TimelineRecorder(timeline, incident.id)
    result = action_runner.run(provider, plan, plan.target, recorder, Report())
    assert result.outcome == "succeeded" and result.verified, result.summary
    assert world.alias_version(moto_server, function) == "2"
    assert plan.undo is not None
    undo = provider.preflight(plan.undo["action"], plan.undo["params"])
    assert action_runner.run(provider, undo, undo.target, recorder, Report()).outcome == (
        "succeeded"
    )
    assert world.alias_version(moto_server, function) == "3"


def test_an_alias_moved_since_the_plan_is_refused(moto_server: MotoServer) -> None:
    function = world.function_with_alias(moto_server, 3, "3")
    provider = lambdas(moto_server)
    plan = provider.preflight("alias_rollback", {"function": function, "alias": "live"})
    world.client(moto_server, "lambda").update_alias(
        FunctionName=function, Name="live", FunctionVersion="1"
    )
    with pytest.raises(ProviderError, match="changed since the plan"):
        provider.execute(plan, Report())
    assert world.alias_version(moto_server, function) == "1"


def test_no_earlier_version_is_named(moto_server: MotoServer) -> None:
    function = world.function_with_alias(moto_server, 2, "1")
    with pytest.raises(ProviderError, match="no earlier version"):
        lambdas(moto_server).preflight("alias_rollback", {"function": function, "alias": "live"})


def test_lambda_throttling_is_a_clear_error() -> None:
    from botocore.stub import Stubber

    provider = LambdaProvider(
        LambdaProvider.Options.model_validate(
            {"access_key_id": "AKIAX", "secret_access_key": "stub-secret", "max_attempts": 3}
        )
    )
    with Stubber(provider.aws.client) as stub:
        stub.add_client_error(
            "get_alias", service_error_code="TooManyRequestsException", http_status_code=429
        )
        with pytest.raises(ProviderUnavailable, match="still throttled"):
            provider.preflight("alias_rollback", {"function": "f", "alias": "live"})


def test_rds_restores_under_a_new_name_and_hands_on_the_endpoint(
    moto_server: MotoServer, timeline: Timeline
) -> None:
    instance, snapshot = world.db_with_snapshot(moto_server)
    provider = rds(moto_server)
    plan = provider.preflight("restore_snapshot", {"instance": instance})
    assert plan.data["snapshot"] == snapshot and plan.target == f"{instance}-restored"
    assert any(w.startswith("cost:") for w in plan.warnings)
    assert any(w.startswith("time:") for w in plan.warnings)
    assert plan.undo is None and "not-a-real-password" not in str(plan.as_payload())
    incident = timeline.open_incident("rds", "P1", "huntaze")
    result = action_runner.run(
        provider, plan, plan.target, TimelineRecorder(timeline, incident.id), Report()
    )
    assert result.outcome == "succeeded" and result.verified, result.summary
    assert "available at" in result.summary
    with pytest.raises(ProviderError, match="exists already"):
        provider.preflight("restore_snapshot", {"instance": instance})


def test_rds_waiting_is_bounded(moto_server: MotoServer) -> None:
    instance, _snapshot = world.db_with_snapshot(moto_server)
    provider = rds(moto_server, restore_seconds=60, poll_seconds=20)
    plan = provider.preflight("restore_snapshot", {"instance": instance, "new_instance": "slow"})
    real = provider.instance

    def creating(identifier: str) -> dict[str, Any] | None:
        found = real(identifier)
        return found and {**found, "DBInstanceStatus": "creating"}

    provider.instance = creating  # type: ignore[method-assign]
    clock = [0.0]

    def sleeper(seconds: float) -> None:
        clock[0] += seconds

    report = Report(sleeper=sleeper, monotonic=lambda: clock[0])
    with pytest.raises(ActionTimedOut, match="still creating after 60 s"):
        provider.execute(plan, report)


def test_rds_without_a_snapshot_is_refused(moto_server: MotoServer) -> None:
    with pytest.raises(ProviderError, match="no available snapshot"):
        rds(moto_server).preflight("restore_snapshot", {"instance": "no-such-db"})
