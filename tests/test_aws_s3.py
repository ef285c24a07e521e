"""The aws_s3 provider against moto's S3 in server mode on 127.0.0.1, over HTTP with boto3:
plan, execute, verify and undo of a version restore, a version or object that moves between
plan and execute, throttling (SlowDown through tests/moto_server.py's FaultyFront) and
credentials that never reach a plan or the timeline."""

from __future__ import annotations

import json
from typing import Any

import aws_world as world
import moto_server as moto
import pytest
from moto_server import KEY_ID, SECRET, FaultyFront, MotoServer

from cockpit import action_runner
from cockpit.action_runner import TimelineRecorder
from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError, ProviderUnavailable
from cockpit.core.timeline import Timeline
from providers.aws import S3Provider

moto_server = moto.moto_server
faulty_front = moto.faulty_front


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_AWS_KEY_ID", KEY_ID)
    monkeypatch.setenv("TEST_AWS_SECRET", SECRET)


def provider(server: MotoServer, **overrides: Any) -> S3Provider:
    return S3Provider(S3Provider.Options.model_validate(world.options(server, **overrides)))


def test_restore_plans_executes_verifies_and_undoes(
    moto_server: MotoServer, timeline: Timeline
) -> None:
    bucket, key, versions = world.versioned_object(moto_server, [b"good v1", b"good v2", b"bad"])
    s3 = provider(moto_server)
    offered = [
        value
        for value, _label in s3.choices(
            "restore_version", "version_id", {"bucket": bucket, "key": key}
        )
    ]
    assert offered == [versions[1], versions[0]]  # newest first, the current one left out

    plan = s3.preflight("restore_version", {"bucket": bucket, "key": key})
    assert plan.data["version_id"] == versions[1] and plan.target == f"s3://{bucket}/{key}"
    assert "--copy-source" in plan.cli and moto_server.url in plan.cli
    assert world.current_body(moto_server, bucket, key) == b"bad"  # the plan changed nothing
    assert plan.undo == {
        "action": "restore_version",
        "params": {"bucket": bucket, "key": key, "version_id": versions[2]},
    }
    incident = timeline.open_incident("s3", "P1", "huntaze")
    recorder = TimelineRecorder(timeline, incident.id)
    result = action_runner.run(s3, plan, plan.target, recorder, Report())
    assert result.outcome == "succeeded" and result.verified, result.summary
    assert world.current_body(moto_server, bucket, key) == b"good v2"
    recorded = json.dumps([dict(e.payload) for e in timeline.events(incident.id)])
    assert SECRET not in recorded and KEY_ID not in recorded and SECRET not in plan.cli

    assert plan.undo is not None
    undo = s3.preflight(plan.undo["action"], plan.undo["params"])
    result = action_runner.run(s3, undo, undo.target, recorder, Report())
    assert result.outcome == "succeeded", result.summary
    assert world.current_body(moto_server, bucket, key) == b"bad"


def test_a_chosen_version_is_restored_and_verify_sees_its_content(
    moto_server: MotoServer,
) -> None:
    bucket, key, versions = world.versioned_object(moto_server, [b"v1", b"v2", b"v3"])
    s3 = provider(moto_server)
    plan = s3.preflight(
        "restore_version", {"bucket": bucket, "key": key, "version_id": versions[0]}
    )
    executed = s3.execute(plan, Report())
    assert s3.verify(plan, executed, Report()).ok
    assert world.current_body(moto_server, bucket, key) == b"v1"


def test_a_version_that_vanished_since_the_plan_is_refused(moto_server: MotoServer) -> None:
    bucket, key, versions = world.versioned_object(moto_server, [b"v1", b"v2"])
    s3 = provider(moto_server)
    plan = s3.preflight("restore_version", {"bucket": bucket, "key": key})
    world.client(moto_server, "s3").delete_object(Bucket=bucket, Key=key, VersionId=versions[0])
    with pytest.raises(ProviderError, match="gone since the plan; nothing was changed"):
        s3.execute(plan, Report())
    assert world.current_body(moto_server, bucket, key) == b"v2"


def test_an_object_that_moved_since_the_plan_is_refused(moto_server: MotoServer) -> None:
    bucket, key, _versions = world.versioned_object(moto_server, [b"v1", b"v2"])
    s3 = provider(moto_server)
    plan = s3.preflight("restore_version", {"bucket": bucket, "key": key})
    world.client(moto_server, "s3").put_object(Bucket=bucket, Key=key, Body=b"v3 hotfix")
    with pytest.raises(ProviderError, match="changed since the plan"):
        s3.execute(plan, Report())
    assert world.current_body(moto_server, bucket, key) == b"v3 hotfix"


def test_nothing_to_restore_and_unknown_objects_are_named(moto_server: MotoServer) -> None:
    bucket, key, _versions = world.versioned_object(moto_server, [b"only"])
    s3 = provider(moto_server)
    with pytest.raises(ProviderError, match="no earlier version"):
        s3.preflight("restore_version", {"bucket": bucket, "key": key})
    with pytest.raises(ProviderError, match="no such object"):
        s3.preflight("restore_version", {"bucket": bucket, "key": "nope"})
    with pytest.raises(ProviderError, match="NoSuchBucket"):
        s3.preflight("restore_version", {"bucket": "no-such-bucket-x", "key": key})


def test_slowdown_is_retried_then_a_clear_error(
    moto_server: MotoServer, faulty_front: FaultyFront
) -> None:
    bucket, key, _versions = world.versioned_object(moto_server, [b"v1", b"v2"])
    s3 = provider(moto_server, endpoint_url=faulty_front.url, max_attempts=2)
    faulty_front.errors = [(503, "SlowDown")]
    assert s3.preflight("restore_version", {"bucket": bucket, "key": key})  # one retry
    faulty_front.errors = [(503, "SlowDown")] * 2
    with pytest.raises(ProviderUnavailable, match=r"still throttled \(SlowDown\) after 2"):
        s3.preflight("restore_version", {"bucket": bucket, "key": key})


def test_boto3_is_imported_only_when_the_provider_talks_to_aws() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from providers.registry import load_provider; "
        "cls = load_provider('aws_s3'); cls(cls.Options()); "
        "print('boto3' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"
