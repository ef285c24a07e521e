"""The cloudwatch metric source against moto's CloudWatch in server mode on 127.0.0.1 (boto3
speaks its JSON protocol to it): metrics by namespace, name, dimensions and statistic; alarms
as 0/1; no data and missing alarms as that metric's error; the source down as a whole.

Throttling: moto cannot answer a JSON-protocol ThrottlingException and FaultyFront answers in
S3's XML, so the code path is a unit test with botocore's Stubber (which bypasses botocore's
retries: what it checks is the clear error); the retry within bounds goes over HTTP through
FaultyFront as 503s, which botocore retries like throttling.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aws_world as world
import moto_server as moto
import pytest
from moto_server import KEY_ID, SECRET, FaultyFront, MotoServer

from cockpit.core.errors import ProviderUnavailable
from providers.aws import CloudWatchSource

moto_server = moto.moto_server
faulty_front = moto.faulty_front


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_AWS_KEY_ID", KEY_ID)
    monkeypatch.setenv("TEST_AWS_SECRET", SECRET)


def source(server: MotoServer, service: str, **overrides: Any) -> CloudWatchSource:
    options = world.options(
        server,
        metrics=[
            {
                "name": "error_rate",
                "namespace": "Huntaze",
                "metric_name": "Errors",
                "dimensions": {"Service": service},
                "stat": "Sum",
            },
            {"name": "p95_latency_ms", "namespace": "Huntaze", "metric_name": f"Nothing{service}"},
        ],
        alarms=[
            {"name": "alarm_5xx", "alarm": f"{service}-5xx"},
            {"name": "alarm_gone", "alarm": f"{service}-no-such-alarm"},
        ],
        **overrides,
    )
    return CloudWatchSource(CloudWatchSource.Options.model_validate(options))


def seed(server: MotoServer, service: str, value: float, state: str) -> None:
    cloudwatch = world.client(server, "cloudwatch")
    cloudwatch.put_metric_data(
        Namespace="Huntaze",
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": [{"Name": "Service", "Value": service}],
                "Value": value,
                "Timestamp": datetime.now(UTC),
            }
        ],
    )
    cloudwatch.put_metric_alarm(
        AlarmName=f"{service}-5xx",
        Namespace="Huntaze",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=f"{service}-5xx", StateValue=state, StateReason="test")


def by_name(samples: list[Any]) -> dict[str, Any]:
    return {s.metric: s for s in samples}


def test_metrics_and_alarms_become_samples(moto_server: MotoServer) -> None:
    service = world.fresh("web")
    seed(moto_server, service, 7.0, "ALARM")
    cloudwatch = source(moto_server, service)
    assert cloudwatch.metric_names == ["error_rate", "p95_latency_ms", "alarm_5xx", "alarm_gone"]
    got = by_name(cloudwatch.sample())
    assert got["error_rate"].value == 7.0 and not got["error_rate"].error
    assert got["p95_latency_ms"].value is None
    assert "no datapoint in the last 300 s" in got["p95_latency_ms"].error
    assert got["alarm_5xx"].value == 1.0
    assert got["alarm_gone"].value is None and "no alarm named" in got["alarm_gone"].error
    assert {s.source for s in got.values()} == {"cloudwatch"}

    world.client(moto_server, "cloudwatch").set_alarm_state(
        AlarmName=f"{service}-5xx", StateValue="OK", StateReason="recovered"
    )
    assert by_name(cloudwatch.sample())["alarm_5xx"].value == 0.0


def test_an_unreachable_cloudwatch_is_a_source_failure_with_the_reason() -> None:
    down = CloudWatchSource(
        CloudWatchSource.Options.model_validate(
            {
                "endpoint_url": "http://127.0.0.1:9",
                "access_key_id": "AKIAX",
                "secret_access_key": "not-used-secret",
                "max_attempts": 1,
                "timeout_seconds": 2,
                "alarms": [{"name": "a", "alarm": "b"}],
            }
        )
    )
    with pytest.raises(ProviderUnavailable, match="CloudWatch DescribeAlarms: cannot connect"):
        down.sample()


def test_5xx_are_retried_within_bounds_over_http(
    moto_server: MotoServer, faulty_front: FaultyFront
) -> None:
    service = world.fresh("web")
    seed(moto_server, service, 3.0, "OK")
    cloudwatch = source(moto_server, service, endpoint_url=faulty_front.url, max_attempts=2)
    faulty_front.errors = [(503, "ServiceUnavailable")]
    assert by_name(cloudwatch.sample())["error_rate"].value == 3.0
    faulty_front.errors = [(503, "ServiceUnavailable")] * 2
    with pytest.raises(ProviderUnavailable, match="after 2 attempts"):
        cloudwatch.sample()


@pytest.mark.parametrize("code", ["Throttling", "ThrottlingException", "RequestLimitExceeded"])
def test_throttling_is_a_clear_source_failure(code: str) -> None:
    from botocore.stub import Stubber

    cloudwatch = CloudWatchSource(
        CloudWatchSource.Options.model_validate(
            {
                "access_key_id": "AKIAX",
                "secret_access_key": "stub-secret-value",
                "max_attempts": 3,
                "alarms": [{"name": "a", "alarm": "b"}],
            }
        )
    )
    with Stubber(cloudwatch.aws.client) as stub:
        stub.add_client_error("describe_alarms", service_error_code=code, http_status_code=400)
        with pytest.raises(ProviderUnavailable) as raised:
            cloudwatch.sample()
    assert f"still throttled ({code}) after 3 attempts" in str(raised.value)
    assert "stub-secret-value" not in str(raised.value)
