"""The demo's script: a good service, a bad deploy, a ramp into trouble, and a rollback.

Everything is a pure function of the injected clock (seconds since the scenario started) and of
how many health probes were answered, so tests and screenshots repeat exactly. Time is
compressed: one second of demo stands for one minute of the procedures' thresholds, so "error
rate > 5 % for 5 consecutive minutes" plays out in five seconds of 1-second sampling.

Timeline with the defaults (t = demo seconds):

- t < 15: version 1.2.3, errors 0.4 %, p95 180 ms, health always passes.
- t = 15: 1.2.4 is deployed; "badness" ramps linearly from 0 to 1 over 10 s, and every
  symptom is interpolated by it (errors to 9 %, p95 to 650 ms, health failing 1..4 of every 5
  probes, DB connection failures once the ramp is half-way, a user report every 4 s).
- t = 25: fully bad; health fails 4 of every 5 probes.
- rollback(): 1.2.3 again at once; badness decays to 0 over `recovery_seconds`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cockpit.core.clock import Clock

GOOD_VERSION = "1.2.3"
BAD_VERSION = "1.2.4"


@dataclass(frozen=True)
class HealthResult:
    """The answer of one /health probe."""

    ok: bool
    database: str
    redis: str = "connected"


class Scenario:
    """A deterministic bad deploy, driven by `clock.monotonic()`; thread-safe."""

    def __init__(
        self,
        clock: Clock,
        *,
        bad_deploy_at: float = 15.0,
        ramp_seconds: float = 10.0,
        recovery_seconds: float = 5.0,
        healthy_error_ratio: float = 0.004,
        bad_error_ratio: float = 0.09,
        healthy_p95_seconds: float = 0.180,
        bad_p95_seconds: float = 0.650,
        bad_db_failures_per_minute: float = 4.0,
        report_every_seconds: float = 4.0,
        max_reports: int = 6,
    ) -> None:
        if ramp_seconds <= 0 or recovery_seconds <= 0:
            raise ValueError("ramp_seconds and recovery_seconds must be positive")
        self.clock = clock
        self.bad_deploy_at = bad_deploy_at
        self.ramp_seconds = ramp_seconds
        self.recovery_seconds = recovery_seconds
        self.healthy_error_ratio = healthy_error_ratio
        self.bad_error_ratio = bad_error_ratio
        self.healthy_p95_seconds = healthy_p95_seconds
        self.bad_p95_seconds = bad_p95_seconds
        self.bad_db_failures_per_minute = bad_db_failures_per_minute
        self.report_every_seconds = report_every_seconds
        self.max_reports = max_reports
        self._origin = clock.monotonic()
        self._started_at = clock.now()
        self._rolled_back_at: float | None = None
        self._badness_at_rollback = 0.0
        self._probes = 0
        self._lock = threading.Lock()
        self.pipelines: list[Callable[[], None]] = []
        """Deploys that follow a platform (a git branch), run when production is read."""

    # -- time ---------------------------------------------------------------------------------

    def elapsed(self) -> float:
        """Demo seconds since the scenario started."""
        return self.clock.monotonic() - self._origin

    def _at(self, at: float | None) -> float:
        return self.elapsed() if at is None else at

    @property
    def rolled_back_at(self) -> float | None:
        """Demo second of the rollback, if one happened."""
        return self._rolled_back_at

    def _deployed(self, t: float) -> bool:
        """Whether the bad version was live at `t` (a rollback before the deploy cancels it)."""
        rolled = self._rolled_back_at
        return t >= self.bad_deploy_at and (rolled is None or rolled > self.bad_deploy_at)

    def _ramp(self, t: float) -> float:
        if t < self.bad_deploy_at:
            return 0.0
        return min(1.0, (t - self.bad_deploy_at) / self.ramp_seconds)

    def badness(self, at: float | None = None) -> float:
        """How bad things are at demo second `at` (now by default): 0 healthy .. 1 fully bad."""
        t = self._at(at)
        rolled = self._rolled_back_at
        if rolled is not None and t >= rolled:
            decay = max(0.0, 1.0 - (t - rolled) / self.recovery_seconds)
            return self._badness_at_rollback * decay
        return self._ramp(t) if self._deployed(t) else 0.0

    def look(self) -> None:
        """Production is being read: let each pipeline deploy what its platform holds now."""
        for deploy in list(self.pipelines):
            deploy()

    # -- what the service reports ------------------------------------------------------------

    def version(self, at: float | None = None) -> str:
        """The serving version."""
        t = self._at(at)
        rolled = self._rolled_back_at
        if not self._deployed(t) or (rolled is not None and t >= rolled):
            return GOOD_VERSION
        return BAD_VERSION

    def deployed_at(self, at: float | None = None) -> datetime:
        """Wall time at which the serving version went live."""
        t = self._at(at)
        rolled = self._rolled_back_at
        if rolled is not None and t >= rolled:
            since = rolled
        elif self._deployed(t):
            since = self.bad_deploy_at
        else:
            # 1.2.3 had been serving for a while before the demo started; a fixed hour keeps
            # screenshots stable.
            return self._started_at - timedelta(hours=1)
        return self._started_at + timedelta(seconds=since)

    def error_ratio(self, at: float | None = None) -> float:
        """Fraction of requests answered with 500."""
        b = self.badness(at)
        return self.healthy_error_ratio + b * (self.bad_error_ratio - self.healthy_error_ratio)

    def p95_seconds(self, at: float | None = None) -> float:
        """The 95th percentile of request latency."""
        b = self.badness(at)
        return self.healthy_p95_seconds + b * (self.bad_p95_seconds - self.healthy_p95_seconds)

    def db_failures_per_minute(self, at: float | None = None) -> float:
        """Database connection failures per minute; the pool only runs dry past half the ramp."""
        b = self.badness(at)
        return self.bad_db_failures_per_minute * min(1.0, max(0.0, 2.0 * b - 1.0))

    def auth_up(self, at: float | None = None) -> bool:
        """The authentication check: this deploy does not break it."""
        return True

    def critical_reports_1h(self, at: float | None = None) -> int:
        """User-reported critical bugs within the last hour (60 demo seconds).

        Users file one report every `report_every_seconds` while 1.2.4 serves, at most
        `max_reports` in all, so the seeds' "> 10 in 1 hour" is approached but not crossed.
        """
        t = self._at(at)
        end = self._rolled_back_at
        reports = 0
        for k in range(1, self.max_reports + 1):
            filed = self.bad_deploy_at + k * self.report_every_seconds
            if filed > t or (end is not None and filed > end):
                break
            if self._deployed(filed) and t - filed < 60.0:
                reports += 1
        return reports

    def failing_probes_per_5(self, at: float | None = None) -> int:
        """How many of every 5 health probes fail: 0 when healthy, 4 when fully bad."""
        return int(self.badness(at) * 4 + 1e-9)

    def health_probe(self) -> HealthResult:
        """Answer one /health probe; failures are spread evenly over each run of 5 probes.

        Keyed on the probe count (not on time) so that five probes in a row after the ramp
        always hold exactly four failures, whatever the sampling cadence.
        """
        with self._lock:
            n = self._probes
            self._probes += 1
        k = self.failing_probes_per_5()
        failed = ((n + 1) * k) // 5 > (n * k) // 5
        if failed:
            return HealthResult(ok=False, database="connection pool exhausted")
        return HealthResult(ok=True, database="connected")

    # -- actions ------------------------------------------------------------------------------

    def rollback(self) -> str:
        """Restore 1.2.3 now; symptoms fade over `recovery_seconds`. Returns the version."""
        with self._lock:
            if self._rolled_back_at is None:
                t = self.elapsed()
                self._badness_at_rollback = self.badness(t)
                self._rolled_back_at = t
        return GOOD_VERSION
