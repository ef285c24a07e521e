"""The drill's Sentry: user-reported critical bugs read from a Sentry simulator, not /metrics.

pulse-messages watches "User-reported critical bugs > 10 in 1 hour", which its team reads in
Sentry. A drill of a procedure with that metric starts a SentrySimulator on 127.0.0.1 and reads
the metric with the real `sentry` source as an issue search (`is:unresolved level:fatal
firstSeen:-1h`). Before each request the simulator follows the scenario: while 1.2.4 serves,
the users' reports (Scenario.critical_reports_1h) are fatal issues first seen in that release;
a report older than the scenario's hour (60 drill seconds) is resolved, so it leaves the search
as it leaves the scenario's count.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from cockpit.core.clock import Clock
from cockpit.demo.scenario import Scenario
from cockpit.simulators.sentry import SentrySimulator
from providers.sentry import SentryOptions, SentrySource

METRIC = "critical_bug_reports_1h"
"""The procedures' name for user-reported critical bugs in the last hour."""
SEARCH = "is:unresolved level:fatal firstSeen:-1h"
ORGANIZATION = "pulse"
PROJECT = "web"


@dataclass
class DrillSentry:
    """The running simulator and the source that reads it."""

    simulator: SentrySimulator
    source: SentrySource

    def stop(self) -> None:
        """Close the source and stop the simulator."""
        self.source.close()
        self.simulator.stop()


def follow(scenario: Scenario) -> Callable[[SentrySimulator], None]:
    """A `sync` hook making the simulator's open fatal issues the scenario's reports."""

    def sync(sim: SentrySimulator) -> None:
        wanted = scenario.critical_reports_1h()
        open_fatal = [
            issue
            for issue in sim.state.issues
            if issue.level == "fatal" and issue.status == "unresolved"
        ]
        for issue in open_fatal[: max(0, len(open_fatal) - wanted)]:  # oldest first
            issue.status = "resolved"
        release = scenario.version()
        if sim.state.latest_release != release:
            sim.release(release)
        for k in range(len(open_fatal), wanted):
            sim.add_issue(
                f"User report: checkout crashes (#{k + 1})", project=PROJECT, level="fatal"
            )

    return sync


def start_sentry(scenario: Scenario, clock: Clock, timeout_seconds: float) -> DrillSentry:
    """Start the simulator (a random token, as production's would be) and its source."""
    simulator = SentrySimulator(
        organization=ORGANIZATION,
        token=secrets.token_urlsafe(24),
        now=lambda: clock.now().timestamp(),
    )
    simulator.add_project(PROJECT)
    simulator.release(scenario.version())
    simulator.sync = follow(scenario)
    url = simulator.start()
    options = SentryOptions.model_validate(
        {
            "url": url,
            "token": simulator.token,
            "organization": ORGANIZATION,
            "project": PROJECT,
            "timeout_seconds": timeout_seconds,
            "metrics": [{"name": METRIC, "kind": "issue_count", "query": SEARCH}],
        }
    )
    return DrillSentry(simulator, SentrySource(options, clock=clock))
