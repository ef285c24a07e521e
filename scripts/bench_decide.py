"""Keystrokes and tool time from a fired trigger to a recommended option, on the demo (issue 4).

The demo runs as `cockpit demo` does (simulated production over HTTP, real sources and pollers)
with its clock stepped so the bad deploy comes at once. When the first trigger fires, a scripted
responder follows the banner: `w` opens the wizard; at each question it presses Enter when the
live evidence suggests an answer and the first answer's key otherwise; at the recommendation,
Enter records the decision. Tool time is the time the cockpit takes to handle each key (from
the key to the screen being idle again), summed; the responder's own thinking is not counted.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Row = tuple[str, str, str, str, bool]
KEY_GOAL = 6
TIME_GOAL = 0.5


async def run_demo_decision(folder: Path) -> tuple[list[str], float, str]:
    """(keys pressed, seconds of tool time, the decision recorded)."""
    from cockpit.app import CockpitApp
    from cockpit.commands.demo import DEMO_POLL_SECONDS, DEMO_PROCEDURE, DEMO_TITLE
    from cockpit.core.clock import FixedClock
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.core.timeline import Timeline
    from cockpit.demo.scenario import Scenario
    from cockpit.demo.service import DemoService
    from cockpit.demo.sources import demo_sources
    from cockpit.session import Session

    clock = FixedClock(datetime(2026, 1, 15, 3, 12, tzinfo=UTC))
    scenario = Scenario(clock, bad_deploy_at=1.0, ramp_seconds=1.0)
    timeline = Timeline(folder / "decide.db", clock=clock)
    incident = timeline.open_incident(DEMO_TITLE, "P1", DEMO_PROCEDURE, drill=True)
    with DemoService(scenario) as service:
        session = Session(
            timeline=timeline,
            incident=incident,
            procedure=load_builtin(DEMO_PROCEDURE),
            sources=demo_sources(service.base_url, clock),
            clock=clock,
            poll_interval=DEMO_POLL_SECONDS,  # the demo's own cadence: the load is real
        )
        app = CockpitApp(session)
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(400):  # bounded: the demo's triggers fire within seconds
                if any(event.kind == "trigger.fired" for event in app.events):
                    break
                clock.advance(DEMO_POLL_SECONDS)
                await pilot.pause(DEMO_POLL_SECONDS / 5)
            else:
                raise RuntimeError("no trigger fired on the demo")
            keys: list[str] = []
            tool = 0.0

            async def press(key: str, done: Callable[[], bool]) -> None:
                # Pilot.press waits for every queue on the screen to drain, and the pollers
                # keep those queues busy; the responder waits only for the key's effect.
                nonlocal tool
                started = time.perf_counter()
                app.simulate_key(key)
                while not done():
                    if time.perf_counter() - started > 10:
                        raise RuntimeError(f"the key {key!r} had no effect in 10 s")
                    await asyncio.sleep(0.0005)
                tool += time.perf_counter() - started
                keys.append(key)

            def wizard() -> Any:
                screen = app.screen
                return getattr(screen, "wizard", None) if screen.is_mounted else None

            await press("w", lambda: wizard() is not None)
            while (walk := wizard()) is not None:
                answered = len(walk.path)
                if walk.question is None:
                    await press("enter", lambda: type(app.screen).__name__ == "ChecklistsScreen")
                    break
                key = (
                    app.screen.suggestion.key  # type: ignore[attr-defined]
                    if app.screen.suggestion is not None  # type: ignore[attr-defined]
                    else walk.question.answers[0].key
                )
                key = "enter" if app.screen.suggestion is not None else key  # type: ignore[attr-defined]
                await press(key, lambda walk=walk, n=answered: len(walk.path) > n)
                if len(keys) > 20:
                    raise RuntimeError("the wizard did not reach a decision in 20 keys")
            # The decision is written by the App's writer thread and read back; and the
            # checklist screen must finish mounting before the App is shut (tearing it down
            # mid-mount made Textual's tabs look for a tab already gone).
            for _ in range(200):
                decided = [e.summary for e in app.events if e.kind == "wizard.decided"]
                if decided and app.screen.is_mounted:
                    break
                await asyncio.sleep(0.01)
            await pilot.pause(0.2)
        if not decided:
            raise RuntimeError("no decision was recorded")
        return keys, tool, decided[-1]


def decide_row() -> Row:
    """The benchmark row for scripts/bench.py."""
    label = "fired trigger → recommended option (demo)"
    goal = f"≤ {KEY_GOAL} keys, ≤ {TIME_GOAL} s"
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-decide-") as folder:
        try:
            keys, tool, decided = asyncio.run(run_demo_decision(Path(folder)))
        except RuntimeError as error:
            return (label, "failed", str(error), goal, False)
    return (
        label,
        f"{len(keys)} keys, {tool:.3f} s",
        f"keys {' '.join(keys)} → {decided}",
        goal,
        len(keys) <= KEY_GOAL and tool <= TIME_GOAL,
    )


if __name__ == "__main__":
    print(decide_row())
