"""The aws_cloudfront provider against moto's CloudFront in server mode on 127.0.0.1.

What moto does (reference §12.7): configs with an ETag, update with IfMatch, InProgress →
Deployed on the next read, invalidations. What it lacks, and how these tests stand in: it never
rotates the ETag nor checks IfMatch (PreconditionFailed), so "the ETag moved" is made by setting
the distribution's ETag in moto's in-process backend; it drops LambdaFunctionAssociations, so a
Lambda@Edge version cannot round-trip and the config change here is the Comment; invalidations
are COMPLETED (upper case), which verify accepts as AWS's Completed. Throttling goes through
tests/moto_server.py's FaultyFront answering CloudFront's Throttling/400.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import aws_world as world
import moto_server as moto
import pytest
from moto_server import KEY_ID, SECRET, FaultyFront, MotoServer

from cockpit import action_runner
from cockpit.action_runner import TimelineRecorder
from cockpit.core.actions import ActionTimedOut, Report
from cockpit.core.errors import ProviderError, ProviderUnavailable
from cockpit.core.timeline import Timeline
from providers.aws import CloudFrontProvider
from providers.aws.config_diff import differences

moto_server = moto.moto_server
faulty_front = moto.faulty_front


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_AWS_KEY_ID", KEY_ID)
    monkeypatch.setenv("TEST_AWS_SECRET", SECRET)


def provider(server: MotoServer, distribution: str, **overrides: Any) -> CloudFrontProvider:
    options = world.options(
        server, distributions=[distribution], **{"poll_seconds": 1, **overrides}
    )
    return CloudFrontProvider(CloudFrontProvider.Options.model_validate(options))


def seen_then_changed(server: MotoServer, **overrides: Any) -> tuple[str, CloudFrontProvider]:
    """A distribution the cockpit saw at v1 (health), then a bad deploy made v2-bad."""
    distribution = world.distribution(server, "v1")
    cloudfront = provider(server, distribution, **overrides)
    assert distribution in cloudfront.health()
    world.change_distribution(server, distribution, "v2-bad")
    return distribution, cloudfront


def test_restore_plans_executes_verifies_and_undoes(
    moto_server: MotoServer, timeline: Timeline
) -> None:
    distribution, cloudfront = seen_then_changed(moto_server)
    plan = cloudfront.preflight(
        "restore_config", {"distribution_id": distribution, "invalidate": ["/*"]}
    )
    assert 'Comment: "v2-bad" → "v1"' in plan.changes
    assert plan.data["etag"] and "--if-match" in plan.cli
    assert world.live_comment(moto_server, distribution) == "v2-bad"  # the plan changed nothing
    exported = plan.cli.split("file://")[1].split()[0]
    assert json.loads(Path(exported).read_text())["Comment"] == "v1"
    assert stat.S_IMODE(os.stat(exported).st_mode) == 0o600

    incident = timeline.open_incident("cloudfront", "P1", "huntaze")
    recorder = TimelineRecorder(timeline, incident.id)
    slept: list[float] = []
    result = action_runner.run(
        cloudfront, plan, plan.target, recorder, Report(sleeper=slept.append)
    )
    assert result.outcome == "succeeded" and result.verified, result.summary
    assert "Deployed" in result.summary and "invalidation" in result.summary
    assert world.live_comment(moto_server, distribution) == "v1"
    recorded = json.dumps([dict(e.payload) for e in timeline.events(incident.id)])
    assert SECRET not in recorded and KEY_ID not in recorded

    assert plan.undo is not None
    undo = cloudfront.preflight(plan.undo["action"], plan.undo["params"])
    result = action_runner.run(cloudfront, undo, undo.target, recorder, Report())
    assert result.outcome == "succeeded", result.summary
    assert world.live_comment(moto_server, distribution) == "v2-bad"


def test_an_etag_that_moved_since_the_plan_is_refused(moto_server: MotoServer) -> None:
    distribution, cloudfront = seen_then_changed(moto_server)
    plan = cloudfront.preflight("restore_config", {"distribution_id": distribution})
    world.move_etag(distribution, "EMOVEDBYSOMEONE")
    with pytest.raises(ProviderError, match=r"ETag moved since the plan.*nothing was changed"):
        cloudfront.execute(plan, Report())
    assert world.live_comment(moto_server, distribution) == "v2-bad"


def test_a_config_changed_under_the_same_etag_is_refused(moto_server: MotoServer) -> None:
    """moto keeps the ETag on update, so the content digest is what catches it there."""
    distribution, cloudfront = seen_then_changed(moto_server)
    plan = cloudfront.preflight("restore_config", {"distribution_id": distribution})
    world.change_distribution(moto_server, distribution, "v3-hotfix")
    with pytest.raises(ProviderError, match="config changed since the plan"):
        cloudfront.execute(plan, Report())
    assert world.live_comment(moto_server, distribution) == "v3-hotfix"


def test_without_a_recorded_earlier_config_there_is_nothing_to_put_back(
    moto_server: MotoServer,
) -> None:
    distribution = world.distribution(moto_server, "only")
    cloudfront = provider(moto_server, distribution)
    with pytest.raises(ProviderError, match=r"no earlier config .* recorded by this cockpit"):
        cloudfront.preflight("restore_config", {"distribution_id": distribution})
    with pytest.raises(ProviderError, match="NoSuchDistribution"):
        cloudfront.preflight("restore_config", {"distribution_id": "ENOSUCH"})


def test_waiting_for_deployed_is_bounded(moto_server: MotoServer) -> None:
    distribution, _seen = seen_then_changed(moto_server)
    slow = provider(moto_server, distribution, deploy_seconds=30, poll_seconds=10)
    plan = slow.preflight("restore_config", {"distribution_id": distribution})
    clock = [0.0]

    def sleeper(seconds: float) -> None:
        clock[0] += seconds

    report = Report(sleeper=sleeper, monotonic=lambda: clock[0])
    statuses = iter(["InProgress"] * 10)
    real = slow.aws.call

    def stuck(doing: str, operation: str, *args: Any, **kwargs: Any) -> Any:
        answer = real(doing, operation, *args, **kwargs)
        if operation == "get_distribution":
            answer["Distribution"]["Status"] = next(statuses)
        return answer

    slow.aws.call = stuck  # type: ignore[method-assign]
    with pytest.raises(ActionTimedOut, match="still InProgress after 30 s; the config is put back"):
        slow.execute(plan, report)


def test_invalidate_alone(moto_server: MotoServer) -> None:
    distribution = world.distribution(moto_server, "v1")
    cloudfront = provider(moto_server, distribution)
    plan = cloudfront.preflight("invalidate", {"distribution_id": distribution, "paths": "/*"})
    assert not plan.destructive and plan.data["paths"] == ["/*"]
    executed = cloudfront.execute(plan, Report())
    assert cloudfront.verify(plan, executed, Report()).ok


def test_throttling_is_retried_then_a_clear_error(
    moto_server: MotoServer, faulty_front: FaultyFront
) -> None:
    # The configs are recorded per endpoint, so the cockpit saw v1 through the front too.
    distribution, cloudfront = seen_then_changed(moto_server, endpoint_url=faulty_front.url)
    faulty_front.errors = [(400, "Throttling")]
    assert cloudfront.preflight("restore_config", {"distribution_id": distribution})
    faulty_front.errors = [(400, "Throttling")] * 2
    with pytest.raises(ProviderUnavailable, match=r"still throttled \(Throttling\) after 2"):
        cloudfront.preflight("restore_config", {"distribution_id": distribution})


def test_a_plan_names_lambda_edge_versions_but_never_origin_header_values() -> None:
    def config(version: int, header: str) -> dict[str, Any]:
        arn = f"arn:aws:lambda:us-east-1:1:function:huntaze-security-headers:{version}"
        return {
            "DefaultCacheBehavior": {
                "LambdaFunctionAssociations": {
                    "Quantity": 1,
                    "Items": [{"LambdaFunctionARN": arn, "EventType": "viewer-response"}],
                }
            },
            "Origins": {"Items": [{"CustomHeaders": {"Items": [{"HeaderValue": header}]}}]},
        }

    changed = differences(config(7, "s3cr3t-new"), config(6, "s3cr3t-old"))
    text = "\n".join(changed)
    assert "huntaze-security-headers:7" in text and "huntaze-security-headers:6" in text
    assert "s3cr3t" not in text and "HeaderValue: changed" in text
