"""The runner's rules, whatever the provider: one action per target, cancel, deadline, bugs.

An in-process provider whose execute and verify do what each test needs; the timeline is real.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pytest

from cockpit import action_runner
from cockpit.action_runner import TargetBusy, TimelineRecorder
from cockpit.core.actions import Call, Executed, Plan, Report, Verified
from cockpit.core.locks import FileLocks
from cockpit.core.timeline import Timeline
from providers.base import ActionProvider, ProviderOptions


class Scripted(ActionProvider):
    """Runs `during_execute` inside execute and `during_verify` inside verify."""

    name = "scripted"
    title = "Scripted"
    Options = ProviderOptions
    actions: ClassVar[dict[str, str]] = {"go": "do it"}

    def __init__(
        self,
        during_execute: Callable[[Report], None] = lambda report: None,
        during_verify: Callable[[Report], None] = lambda report: None,
    ) -> None:
        super().__init__(ProviderOptions())
        self.during_execute = during_execute
        self.during_verify = during_verify

    def health(self) -> str:
        return "ok"

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        return Plan("scripted", action, "web", "Go", [Call("POST", "/go")], ["web: a → b"], "go")

    def execute(self, plan: Plan, report: Report) -> Executed:
        self.during_execute(report)
        return Executed("went")

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        self.during_verify(report)
        return Verified(True, "checked")


@pytest.fixture
def recorder(timeline: Timeline) -> TimelineRecorder:
    return TimelineRecorder(timeline, timeline.open_incident("runner", "P1", "x").id)


def results(recorder: TimelineRecorder) -> list[dict[str, Any]]:
    events = recorder.timeline.events(recorder.incident)
    return [dict(e.payload) for e in events if e.kind == "action.result"]


class ListRecorder:
    """A Recorder usable from any thread (the timeline's connection belongs to one)."""

    def __init__(self) -> None:
        self.outcomes: list[str] = []

    def begin(self, action: str, summary: str, payload: dict[str, Any], command: str) -> str:
        return "id"

    def finish(self, action_id: str, outcome: str, summary: str, payload: dict[str, Any]) -> None:
        self.outcomes.append(outcome)

    def note(self, kind: str, summary: str, payload: dict[str, Any]) -> None:
        pass


def test_a_second_action_on_the_same_target_is_refused_while_the_first_runs() -> None:
    recorder = ListRecorder()
    inside, release = threading.Event(), threading.Event()

    def hold(report: Report) -> None:
        inside.set()
        release.wait(5)

    first = Scripted(during_execute=hold)
    plan = first.preflight("go", {})
    worker = threading.Thread(
        target=action_runner.run, args=(first, plan, "web", recorder, Report())
    )
    worker.start()
    assert inside.wait(5)
    with pytest.raises(TargetBusy, match="another action is running on web"):
        action_runner.run(Scripted(), plan, "web", recorder, Report())
    release.set()
    worker.join(5)
    assert recorder.outcomes == ["succeeded"]
    # once it ended, the target is free again
    assert action_runner.run(Scripted(), plan, "web", recorder, Report()).outcome == "succeeded"


def test_cancel_during_verification_is_recorded_as_cancelled_after_the_change(
    recorder: TimelineRecorder,
) -> None:
    def poll_until_cancelled(report: Report) -> None:
        report.cancel()  # the responder pressed x while verification polled
        report.sleep(30)

    provider = Scripted(during_verify=poll_until_cancelled)
    result = action_runner.run(provider, provider.preflight("go", {}), "web", recorder, Report())
    assert result.outcome == "cancelled"
    assert "while verifying; the change was made" in result.summary
    assert results(recorder)[0]["outcome"] == "cancelled"


def test_the_deadline_ends_a_verification_that_never_settles(recorder: TimelineRecorder) -> None:
    now = [0.0]

    def advance(seconds: float) -> None:
        now[0] += seconds

    def poll_forever(report: Report) -> None:
        while True:
            report.sleep(5)

    report = Report(deadline_seconds=60, monotonic=lambda: now[0], sleeper=advance)
    provider = Scripted(during_verify=poll_forever)
    result = action_runner.run(provider, provider.preflight("go", {}), "web", recorder, report)
    assert result.outcome == "failed" and result.summary.startswith("Timed out")
    assert now[0] == 60  # it slept up to the deadline and not a second more


def test_a_provider_bug_still_leaves_a_recorded_result(recorder: TimelineRecorder) -> None:
    def crash(report: Report) -> None:
        raise KeyError("deployments")

    provider = Scripted(during_execute=crash)
    result = action_runner.run(provider, provider.preflight("go", {}), "web", recorder, Report())
    assert result.outcome == "failed" and "internal error" in result.summary
    assert recorder.timeline.unresolved_actions(recorder.incident) == []


_OTHER_RESPONDER = """
import sys
sys.path.insert(0, sys.argv[2])
from cockpit import action_runner
from cockpit.core.actions import Report
from cockpit.core.timeline import Timeline
from tests.test_action_runner import ListRecorder, Scripted
from pathlib import Path
from cockpit.core.locks import FileLocks

def hold(report):
    print("running", flush=True)
    sys.stdin.readline()  # until the test lets it finish

provider = Scripted(during_execute=hold)
plan = provider.preflight("go", {})
result = action_runner.run(
    provider, plan, "web", ListRecorder(), Report(), locks=FileLocks(Path(sys.argv[1]))
)
print(result.outcome, flush=True)
"""


def test_one_action_per_target_across_processes(timeline: Timeline) -> None:
    """A second responder's cockpit (another process) rolling back the same target is refused
    while the first runs, told who holds it; it can go once the first has ended."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    other = subprocess.Popen(
        [sys.executable, "-c", _OTHER_RESPONDER, str(timeline.path), str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "running"
        provider = Scripted()
        plan = provider.preflight("go", {})
        with pytest.raises(TargetBusy, match=rf"running on web: held by pid {other.pid} "):
            action_runner.run(
                provider, plan, "web", ListRecorder(), Report(), locks=FileLocks(timeline.path)
            )
        out, _ = other.communicate(input="\n", timeout=30)
    finally:
        if other.poll() is None:
            other.kill()
    assert out.strip() == "succeeded"
    done = action_runner.run(
        provider, plan, "web", ListRecorder(), Report(), locks=FileLocks(timeline.path)
    )
    assert done.outcome == "succeeded"


class Deployment(Scripted):
    """A destructive plan on a target with a long name, as a platform's deployment id."""

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        return Plan("scripted", action, "dpl_8f3a9c", "Roll back", [Call("POST", "/go")], [], "go")


def test_a_short_code_confirms_only_where_the_procedure_allows_it(
    recorder: TimelineRecorder,
) -> None:
    provider = Deployment()
    strict = action_runner.allow_short_code(provider.preflight("go", {}), allowed=False)
    assert strict.short_code is None
    with pytest.raises(action_runner.ConfirmationRefused, match="type the target"):
        action_runner.run(provider, strict, "3a9c", recorder, Report())
    plan = action_runner.allow_short_code(provider.preflight("go", {}), allowed=True)
    assert plan.short_code == "3a9c", "the last four letters or digits of the target"
    with pytest.raises(action_runner.ConfirmationRefused, match="its code '3a9c'") as refused:
        action_runner.run(provider, plan, "3a9d", recorder, Report())
    assert "you typed '3a9d'" in str(refused.value)
    done = action_runner.run(provider, plan, "3A9C", recorder, Report())
    assert done.outcome == "succeeded"
    events = recorder.timeline.events(recorder.incident)
    refusals = [e for e in events if e.kind == "plan.refused"]
    assert len(refusals) == 2, "each wrong confirmation is recorded"
    [intent] = [e for e in events if e.kind == "action.intent"]
    assert intent.payload["confirmed_by"] == "short code"
    assert intent.payload["plan"]["short_code"] == "3a9c"
    assert action_runner.confirm(plan, "dpl_8f3a9c") == "target name"


def test_a_short_name_has_no_code_to_type_instead() -> None:
    assert action_runner.short_code("web") is None
    assert action_runner.short_code("ai-saas") is None
    assert action_runner.short_code("production/web-7f9c") == "7f9c"
