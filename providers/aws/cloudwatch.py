"""The `cloudwatch` metric source: CloudWatch metrics (GetMetricData) and alarm states
(DescribeAlarms) as the procedure's metrics.

Each sample() is one GetMetricData for every configured metric (namespace, name, dimensions,
statistic, period) over the last few periods, of which the newest datapoint is the value, and
one DescribeAlarms for the configured alarms: ALARM is 1, OK is 0, INSUFFICIENT_DATA no data.
A metric without a datapoint, or a query CloudWatch answers Forbidden / InternalError, is that
metric's no data with the reason; only the calls failing as a whole raise (the source is down).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from cockpit.core.metrics import Sample
from providers.aws.session import AwsOptions, Caller
from providers.base import MetricSource

PERIODS_BACK = 5
"""How many periods a sample looks back for the newest datapoint (CloudWatch lags a minute)."""


class CloudWatchMetric(BaseModel):
    """One cockpit metric read from one CloudWatch metric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """The procedure's metric name, e.g. error_rate."""
    namespace: str
    metric_name: str
    dimensions: dict[str, str] = Field(default_factory=dict)
    stat: str = "Average"
    """Average, Sum, Maximum, p95, ..."""
    period: int = Field(default=60, ge=1)
    scale: float = Field(default=1.0, allow_inf_nan=False)


class CloudWatchAlarm(BaseModel):
    """One cockpit metric that is 1 while a CloudWatch alarm is in ALARM, else 0."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    alarm: str
    """The alarm's name in CloudWatch."""


class CloudWatchOptions(AwsOptions):
    """Which metrics and alarms to read, and where CloudWatch is."""

    metrics: list[CloudWatchMetric] = Field(default_factory=list)
    alarms: list[CloudWatchAlarm] = Field(default_factory=list)


class CloudWatchSource(MetricSource):
    """Reads CloudWatch metrics and alarm states."""

    name = "cloudwatch"
    title = "CloudWatch"
    Options = CloudWatchOptions

    def __init__(self, options: CloudWatchOptions) -> None:
        super().__init__(options)
        self.opts = options
        self.aws = Caller("cloudwatch", options)

    def close(self) -> None:
        self.aws.close()

    @property
    def metric_names(self) -> list[str]:
        return [m.name for m in self.opts.metrics] + [a.name for a in self.opts.alarms]

    def sample(self) -> list[Sample]:
        now = datetime.now(UTC)
        return self._metrics(now) + self._alarms(now)

    def _metrics(self, now: datetime) -> list[Sample]:
        if not self.opts.metrics:
            return []
        queries = [
            {
                "Id": f"m{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": m.namespace,
                        "MetricName": m.metric_name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in m.dimensions.items()],
                    },
                    "Period": m.period,
                    "Stat": m.stat,
                },
                "ReturnData": True,
            }
            for index, m in enumerate(self.opts.metrics)
        ]
        back = max(m.period for m in self.opts.metrics) * PERIODS_BACK
        # The end on the next whole minute: CloudWatch (and moto) compare whole seconds, so
        # ending at `now` could leave out a datapoint stored a fraction of a second before.
        end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        results: dict[str, dict[str, Any]] = {}
        token: str | None = None
        for _page in range(10):  # ten pages of up to 500 queries: far past any procedure
            answer = self._call(
                "GetMetricData",
                "get_metric_data",
                MetricDataQueries=queries,
                StartTime=end - timedelta(seconds=back),
                EndTime=end,
                ScanBy="TimestampDescending",
                **({"NextToken": token} if token else {}),
            )
            for result in answer.get("MetricDataResults", []):
                got = results.setdefault(result["Id"], {**result, "Values": [], "Timestamps": []})
                got["Values"] += result.get("Values", [])
                got["Timestamps"] += result.get("Timestamps", [])
            token = answer.get("NextToken")
            if not token:
                break
        return [
            self._metric_sample(m, results.get(f"m{index}"), back, now)
            for index, m in enumerate(self.opts.metrics)
        ]

    def _metric_sample(
        self, metric: CloudWatchMetric, result: dict[str, Any] | None, back: int, now: datetime
    ) -> Sample:
        where = f"{metric.namespace}/{metric.metric_name} {metric.stat}"
        if result is None:
            return self._none(metric.name, now, f"{where}: CloudWatch returned no result")
        status = result.get("StatusCode", "Complete")
        if status in ("Forbidden", "InternalError"):
            said = "; ".join(str(m.get("Value", "")) for m in result.get("Messages", []))
            return self._none(metric.name, now, f"{where}: {status} {said}".rstrip())
        points = sorted(zip(result["Timestamps"], result["Values"], strict=False), reverse=True)
        if not points:
            return self._none(metric.name, now, f"{where}: no datapoint in the last {back} s")
        return Sample(metric.name, float(points[0][1]) * metric.scale, now, self.source_id)

    def _alarms(self, now: datetime) -> list[Sample]:
        if not self.opts.alarms:
            return []
        names = sorted({a.alarm for a in self.opts.alarms})
        answer = self._call(
            "DescribeAlarms",
            "describe_alarms",
            AlarmNames=names,
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
        )
        states = {
            alarm["AlarmName"]: alarm.get("StateValue", "")
            for alarm in answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", [])
        }
        samples = []
        for wanted in self.opts.alarms:
            state = states.get(wanted.alarm)
            if state is None:
                samples.append(self._none(wanted.name, now, f"no alarm named {wanted.alarm!r}"))
            elif state in ("ALARM", "OK"):
                value = 1.0 if state == "ALARM" else 0.0
                samples.append(Sample(wanted.name, value, now, self.source_id))
            else:
                samples.append(self._none(wanted.name, now, f"alarm {wanted.alarm}: {state}"))
        return samples

    def _call(self, what: str, operation: str, **kwargs: Any) -> Any:
        try:
            return self.aws.call(f"CloudWatch {what}", operation, **kwargs)
        except (ProviderUnavailable, ProviderTimeout):
            raise
        except ProviderError as error:
            # A source that cannot be read at all is down, whatever the reason.
            raise ProviderUnavailable(str(error)) from error

    def _none(self, metric: str, now: datetime, why: str) -> Sample:
        return Sample(metric, None, now, self.source_id, error=why)
