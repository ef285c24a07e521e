"""Every option of every built-in procedure rehearsed in its drill (`cockpit demo --procedure`),
headless and over real HTTP and real git: the drill's metrics breach the procedure's own
triggers, the option's provider (configured by the drill, no cockpit.toml) asks for what the
procedure leaves open and opens on the candidate the rollback means, plans, executes and
verifies; the simulated production recovers; and the undo the plan offers works.

Options the cockpit cannot perform (provider `manual`) are the responder's, marked done or
failed on the manual screen (tests/test_manual*.py); here they must reach that screen, not a
provider. PostgreSQL options run against a real private cluster and Docker Compose against a
private podman serving the Docker Engine API (each skipped, with the reason, where its
packages cannot be had).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import podman
import postgres_server
import pytest

from cockpit.commands.demo import start_demo
from cockpit.core.actions import Report
from cockpit.core.clock import FixedClock
from cockpit.core.procedure import Procedure, is_placeholder
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.triggers import TriggerEvaluator
from cockpit.session import StartedSources

pytestmark = pytest.mark.timeout(120)

BUILTINS = ("pulse-messages", "ai-saas", "five-levels", "huntaze", "pitchey")
DEPLOY_AT = 30.0


def cases() -> Iterator[Any]:
    for name in BUILTINS:
        for option in load_builtin(name).options:
            yield pytest.param(name, option.id, id=f"{name}:{option.id}")


class Drill:
    """A drill of one procedure on a fixed clock: its service, platforms and sources."""

    def __init__(self, name: str, *, platforms: bool = True) -> None:
        self.procedure: Procedure = load_builtin(name)
        self.clock = FixedClock(datetime(2026, 1, 15, 3, 12, tzinfo=UTC))
        self.started: StartedSources = start_demo(
            self.clock, DEPLOY_AT, self.procedure, job_seconds=0.2
        )
        assert self.started.more is not None, "the platforms start after the metrics"
        self.platforms = self.started.more() if platforms else StartedSources([])
        self.evaluators = [
            TriggerEvaluator(rule, self.procedure.metrics[rule.metric].unit)
            for rule in self.procedure.triggers
        ]

    def sample(self, seconds: float, every: float = 0.5) -> None:
        """Poll every source each `every` seconds of drill time, judging every trigger."""
        for _ in range(int(seconds / every)):
            self.clock.advance(every)
            readings = {
                sample.metric: sample.value
                for source in self.started.sources
                for sample in source.sample()
            }
            for evaluator in self.evaluators:
                if evaluator.rule.metric in readings:
                    evaluator.observe(readings[evaluator.rule.metric])

    def stop(self) -> None:
        for part in (self.platforms, self.started):
            if part.stop is not None:
                part.stop()

    def firing(self) -> set[str]:
        return {e.rule.id for e in self.evaluators if e.firing and e.rule.action == "rollback"}


@pytest.fixture(params=BUILTINS)
def drill(request: pytest.FixtureRequest) -> Iterator[Drill]:
    made = Drill(request.param, platforms=False)  # the metrics only
    yield made
    made.stop()


def test_each_drill_breaches_its_own_procedures_triggers(drill: Drill) -> None:
    served = {name for source in drill.started.sources for name in source.metric_names}
    assert set(drill.procedure.metrics) <= served, "every metric of the procedure is fed"
    drill.sample(DEPLOY_AT - 1)
    assert drill.firing() == set(), "healthy before the bad deploy"
    drill.sample(20)
    assert drill.firing(), f"the bad deploy fires a rollback trigger of {drill.procedure.name}"


@pytest.mark.parametrize(("name", "option_id"), list(cases()))
def test_every_option_rolls_back_in_its_drill(name: str, option_id: str) -> None:
    option = next(o for o in load_builtin(name).options if o.id == option_id)
    if option.provider == "postgres" and (why := postgres_server.ensure()) is not None:
        pytest.skip(why)  # the drill's database is a real PostgreSQL: the server's binaries
    if option.provider == "docker_compose" and (why := podman.ensure()) is not None:
        pytest.skip(why)  # the drill's engine is a real podman serving the Docker API
    made = Drill(name)
    try:
        rehearse(made, option_id)
    finally:
        made.stop()


def rehearse(drill: Drill, option_id: str) -> None:
    option = next(o for o in drill.procedure.options if o.id == option_id)
    drill.sample(DEPLOY_AT + 10)
    assert drill.firing(), "the drill's bad deploy fired a trigger"
    if option.provider == "manual":
        assert "manual" not in drill.platforms.actions, "the responder's, on the manual screen"
        return
    provider = drill.platforms.actions.get(option.provider)
    assert provider is not None, f"the drill configures {option.provider}"
    params: dict[str, Any] = {**option.params, **provider.fixed_for(option.action)}
    for key, value in params.items():  # asked, and the first candidate taken, as on screen
        if is_placeholder(value):
            offered = provider.choices(option.action, key, params)
            assert offered, f"{option.provider} offers candidates for {key}"
            params[key] = offered[0][0]
    plan = provider.preflight(option.action, params)
    executed = provider.execute(plan, Report(deadline_seconds=60))
    verified = provider.verify(plan, executed, Report(deadline_seconds=60))
    assert verified.ok, verified.summary
    if option.provider in (
        "cache",
        "cache_clear",
    ):  # a clear follows the rollback, as in the runbook
        return
    drill.sample(10)
    assert drill.firing() == set(), "the simulated production recovered after the rollback"
    if plan.undo is not None:
        undo = provider.preflight(plan.undo["action"], plan.undo.get("params", {}))
        done = provider.execute(undo, Report(deadline_seconds=60))
        assert provider.verify(undo, done, Report(deadline_seconds=60)).ok
