"""The action benchmarks of issue 5: the cockpit's own overhead per action, and input latency
while an action hangs until its timeout.

Overhead: an in-process provider whose preflight, execute and verify return at once (and whose
own time is measured and subtracted), run from the action screen as a responder would: open the
plan, confirm, wait for the recorded result. What is left is the cockpit's: planning dispatch,
the worker, the durable intent and result writes, the messages and the repaint.

Latency: the real feature-flag provider against its simulator, told to hang; while the action
waits for its timeout, keys switch screens and each key's time to take effect is measured.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cockpit.core.actions import Call, Executed, Plan, Report, Verified  # noqa: E402
from providers.base import ActionProvider, ProviderOptions  # noqa: E402

Row = tuple[str, str, str, str, bool]
from bench_cli import QUICK  # noqa: E402

OVERHEAD_GOAL_MS = 50.0
LATENCY_GOAL_MS = 50.0
RUNS = 4 if QUICK else 40


class InstantProvider(ActionProvider):
    """Answers at once; counts its own time so it can be taken out of the measurement."""

    name = "instant"
    title = "Instant (benchmark)"
    Options = ProviderOptions
    actions: ClassVar[dict[str, str]] = {"flip": "nothing, at once"}
    spent = 0.0

    def health(self) -> str:
        return "ok"

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        started = time.perf_counter()
        plan = Plan(
            "instant",
            action,
            "bench",
            "Flip the bench switch",
            [Call("POST", "/flip")],
            ["bench: off → on"],
            "curl -X POST /flip",
            destructive=True,
            verify="read back",
        )
        InstantProvider.spent += time.perf_counter() - started
        return plan

    def execute(self, plan: Plan, report: Report) -> Executed:
        return Executed("flipped")

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        return Verified(True, "read back: on")


def make_app(folder: Path, actions: dict[str, ActionProvider]) -> Any:
    from cockpit.app import CockpitApp
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.core.timeline import Timeline
    from cockpit.session import Session

    timeline = Timeline(folder / "bench.db")
    incident = timeline.open_incident("bench", "P1", "pulse-messages", drill=True)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=load_builtin("pulse-messages"),
        actions=actions,
    )
    return CockpitApp(session, start_pollers=False)


async def wait_for(condition: Callable[[], object], limit: float = 10.0) -> None:
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > limit:
            raise RuntimeError("the cockpit did not react within 10 s")
        await asyncio.sleep(0.0005)


async def overhead(folder: Path) -> tuple[list[float], list[float]]:
    """Per run: seconds from opening the action to its plan on screen, and from the confirming
    Enter to the recorded result on screen; the provider's own time taken out of both."""
    from cockpit.screens.action import ActionScreen

    app = make_app(folder, {"instant": InstantProvider(ProviderOptions())})
    to_plan: list[float] = []
    to_result: list[float] = []
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(RUNS):
            InstantProvider.spent = 0.0
            started = time.perf_counter()
            screen = ActionScreen("instant", "flip", {})
            app.push_screen(screen)
            await wait_for(lambda screen=screen: screen.plan is not None)
            to_plan.append(time.perf_counter() - started - InstantProvider.spent)
            confirm = screen.query_one("#action-confirm")
            confirm.value = "bench"
            started = time.perf_counter()
            await confirm.action_submit()
            await wait_for(lambda screen=screen: screen.result is not None)
            to_result.append(time.perf_counter() - started)
            app.pop_screen()
            await pilot.pause()
    return to_plan, to_result


def runner_overhead(folder: Path) -> list[float]:
    """Seconds per action in the runner alone: confirm, durable intent and result, dispatch."""
    from cockpit import action_runner
    from cockpit.action_runner import TimelineRecorder
    from cockpit.core.timeline import Timeline

    provider = InstantProvider(ProviderOptions())
    with Timeline(folder / "runner.db") as timeline:
        recorder = TimelineRecorder(timeline, timeline.open_incident("b", "P1", "x").id)
        times = []
        for _ in range(RUNS * 5):
            started = time.perf_counter()
            plan = provider.preflight("flip", {})
            action_runner.run(provider, plan, "bench", recorder, Report())
            times.append(time.perf_counter() - started)
    return times


async def keys(
    app: Any, switches: int, moves: int, until: Callable[[], bool]
) -> dict[str, list[float]]:
    """Seconds per key to take effect: screen switches (t/d), then cursor moves on the timeline.

    Stops early when `until()` holds (the action ended)."""
    from textual.widgets import DataTable

    found: dict[str, list[float]] = {"switch": [], "move": []}
    for index in range(switches):
        if until():
            return found
        target = "timeline" if index % 2 == 0 else "dashboard"
        started = time.perf_counter()
        app.simulate_key("t" if target == "timeline" else "d")
        await wait_for(lambda target=target: app.current_mode == target)
        found["switch"].append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    app.simulate_key("t")
    await wait_for(lambda: app.current_mode == "timeline")
    table = app.screen.query_one(DataTable)
    table.focus()
    for _ in range(moves):
        if until():
            return found
        before = table.cursor_row
        key = "down" if before == 0 else "up"  # a new event may move the cursor to the end
        started = time.perf_counter()
        app.simulate_key(key)
        await wait_for(lambda before=before: table.cursor_row != before)
        found["move"].append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    return found


async def latency_while_hanging(
    folder: Path,
) -> tuple[dict[str, list[float]], dict[str, list[float]], str]:
    """Per-key seconds to take effect, with no action running (the baseline) and while a real
    provider hangs until its timeout."""
    from cockpit.screens.action import ActionScreen
    from cockpit.simulators.admin_api import AdminApiSimulator
    from providers.feature_flags import FeatureFlagsProvider

    with AdminApiSimulator({"aiSummarization": True}) as sim:
        options = FeatureFlagsProvider.Options.model_validate(
            {"base_url": sim.url, "token": sim.token, "timeout_seconds": 3.0}
        )
        app = make_app(folder, {"feature_flags": FeatureFlagsProvider(options)})  # type: ignore[arg-type]
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(3):
                app.record("note", "so the timeline has rows to move through")
            # Each screen is built the first time it is shown; build them first so the keys
            # measure responsiveness, not first-time construction (reported apart).
            started = time.perf_counter()
            app.simulate_key("t")
            await wait_for(lambda: app.current_mode == "timeline")
            first_build = time.perf_counter() - started
            app.simulate_key("d")
            await wait_for(lambda: app.current_mode == "dashboard")
            # As a responder would: the cockpit has been open a few seconds and has settled.
            from cockpit.incident_app import SETTLE_SECONDS

            await asyncio.sleep(SETTLE_SECONDS + 0.5)
            baseline = await keys(app, *((4, 4) if QUICK else (40, 40)), lambda: False)
            app.simulate_key("d")
            await wait_for(lambda: app.current_mode == "dashboard")
            screen = ActionScreen("feature_flags", "disable_flags", {"flags": ["aiSummarization"]})
            app.push_screen(screen)
            await wait_for(lambda: screen.plan is not None)
            sim.fail("hang", seconds=30, times=100)
            await screen.query_one("#action-confirm").action_submit()
            await pilot.pause()
            hanging = await keys(
                app, *((4, 8) if QUICK else (40, 200)), lambda: screen.result is not None
            )
            for _ in range(100):
                if screen.result is not None:
                    break
                await asyncio.sleep(0.1)
            outcome = screen.result.summary
    built = f"first switch to the timeline, building it: {first_build * 1000:.0f} ms"
    return baseline, hanging, f"{outcome} ({built})"


def _ms(values: list[float], quantile: float = 0.5) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * quantile))] * 1000


def rows() -> list[Row]:
    """The benchmark rows for scripts/bench.py."""
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-actions-") as folder:
        runner = runner_overhead(Path(folder))
        to_plan, to_result = asyncio.run(overhead(Path(folder)))
    found: list[Row] = [
        (
            "action overhead: runner (confirm, record intent+result, dispatch)",
            f"median {_ms(runner):.1f} ms, p95 {_ms(runner, 0.95):.1f} ms",
            f"{len(runner)} actions, durable writes; provider time excluded",
            f"≤ {OVERHEAD_GOAL_MS:.0f} ms",
            _ms(runner) <= OVERHEAD_GOAL_MS,
        ),
        (
            "action overhead: in the app, Enter → recorded result on screen",
            f"median {_ms(to_result):.1f} ms, p95 {_ms(to_result, 0.95):.1f} ms",
            f"open → plan on screen median {_ms(to_plan):.1f} ms (screen build)",
            f"≤ {OVERHEAD_GOAL_MS:.0f} ms",
            _ms(to_result) <= OVERHEAD_GOAL_MS,
        ),
    ]
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-hang-") as folder:
        baseline, hanging, outcome = asyncio.run(latency_while_hanging(Path(folder)))
    switch, move = _ms(hanging["switch"], 0.99), _ms(hanging["move"], 0.99)
    found.append(
        (
            "input latency while an action hangs",
            f"p99: screen switch {switch:.0f} ms, cursor move {move:.0f} ms",
            f"no action running: switch {_ms(baseline['switch'], 0.99):.0f} ms, move "
            f"{_ms(baseline['move'], 0.99):.0f} ms; {len(hanging['switch'])}+"
            f"{len(hanging['move'])} keys during: {outcome[:30]}…{outcome[-50:]}",
            f"p99 ≤ {LATENCY_GOAL_MS:.0f} ms",
            max(switch, move) <= LATENCY_GOAL_MS,
        )
    )
    return found


if __name__ == "__main__":
    for row in rows():
        print(row)
