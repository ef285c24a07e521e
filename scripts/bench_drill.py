"""From a drill's fired trigger to the verified rollback, per built-in procedure (issue 15).

Each built-in runs as `cockpit drill --procedure NAME` does (its simulated production over
HTTP, its platforms, real sources and pollers) on a stepped clock. When the first trigger
fires, a scripted responder: `w` opens the wizard; at each question it takes the live
evidence's suggestion (Enter) or else the answer on the shortest way to a rollback outcome; at
the recommendation `r` records the decision and opens its first option; Enter settles each step
the decision orders before any rollback (ai-saas's Critical: notify, capture evidence); Enter
takes the candidate offered first for each parameter the procedure leaves open; the target's
name is typed when the plan is destructive (its short code, where the procedure allows one);
Enter confirms. Actions count a typed name as one; keystrokes count every key (issue 19: at most
KEY_GOAL from the fired trigger to the verified rollback, the typed confirmation included).

Tool time is the cockpit's: from each key to its effect on screen (the confirming Enter to the
recorded intent), summed; the platform's own rollback job, until verified, is shown beside it.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_cli import QUICK

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Row = tuple[str, str, str, str, bool]
BUILTINS = ("pulse-messages", "ai-saas", "five-levels", "huntaze", "pitchey")
ACTION_GOAL = 7
KEY_GOAL = 12
TIME_GOAL = 0.5
POLL = 0.5


def rollback_keys(procedure: Any) -> dict[str, str]:
    """For each question, the answer on the shortest way to a rollback outcome."""
    tree = procedure.tree
    best: dict[str, str] = {}
    queue = deque([(tree.start, "")])
    seen = {tree.start}
    parents: dict[str, tuple[str, str]] = {}
    while queue:
        node_id, _ = queue.popleft()
        node = tree.nodes[node_id]
        if getattr(node, "decision", None) == "rollback":
            while node_id in parents:  # walk back up, noting each answer taken
                node_id, key = parents[node_id]
                best[node_id] = key
            return best
        for answer in getattr(node, "answers", None) or []:
            if answer.next not in seen:
                seen.add(answer.next)
                parents[answer.next] = (node_id, answer.key)
                queue.append((answer.next, answer.key))
    return best


async def drill(name: str, folder: Path) -> dict[str, Any]:
    """Keys pressed, actions, tool seconds, seconds to verified, and the outcome."""
    from cockpit.app import CockpitApp
    from cockpit.commands.demo import start_demo
    from cockpit.core.clock import FixedClock
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.core.timeline import Timeline
    from cockpit.session import Session

    procedure = load_builtin(name)
    clock = FixedClock(datetime(2026, 1, 15, 3, 12, tzinfo=UTC))
    timeline = Timeline(folder / f"{name}.db", clock=clock)
    incident = timeline.open_incident(f"drill: {name}", "P1", name, drill=True)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=procedure,
        clock=clock,
        poll_interval=POLL,
        start_sources=lambda: start_demo(clock, 2.0, procedure, job_seconds=0.5),
    )
    app = CockpitApp(session)
    try:
        found = await _respond(app, procedure, clock)
    finally:
        app.stop_sources()  # the drill's git remote and database go, whatever happened
    # Scored as `cockpit drill` scores one when its cockpit exits (issue 19).
    from cockpit.commands.drill import score_and_tick

    score, _lines = score_and_tick(folder / f"{name}.db", incident.id)
    found["score"] = score.get("score")
    return found


async def _respond(app: Any, procedure: Any, clock: Any) -> dict[str, Any]:
    """The scripted responder on a running drill (see the module's docstring)."""
    toward = rollback_keys(procedure)
    keys: list[str] = []
    times: list[float] = []
    actions = 0
    keystrokes = 0
    tool = 0.0
    async with app.run_test(size=(100, 40)) as pilot:
        for _ in range(3000):  # the drill is up (its platforms too) before its clock runs
            if any(e.summary.startswith("platform simulators") for e in app.events):
                break
            await pilot.pause(0.01)
        else:
            raise RuntimeError("the drill's platforms did not start in 30 s")
        for _ in range(600):
            if any(event.kind == "trigger.fired" for event in app.events):
                break
            clock.advance(POLL)
            await pilot.pause(POLL / 10)
        else:
            raise RuntimeError("no trigger fired")

        async def press(typed: str | list[str], done: Callable[[], object]) -> None:
            nonlocal tool, actions, keystrokes
            started = time.perf_counter()
            for key in [typed] if isinstance(typed, str) else typed:
                app.simulate_key(key)
            while not done():
                if time.perf_counter() - started > 15:
                    raise RuntimeError(
                        f"{typed!r} had no effect in 15 s (after {' '.join(keys)}, on "
                        f"{type(app.screen).__name__})"
                    )
                await asyncio.sleep(0.0005)
            took = time.perf_counter() - started
            tool += took
            keys.append(typed if isinstance(typed, str) else "<" + "".join(typed) + ">")
            times.append(took)
            actions += 1
            keystrokes += 1 if isinstance(typed, str) else len(typed)

        def screen() -> str:
            return type(app.screen).__name__

        def opened() -> bool:
            return screen() == "ManualScreen" or (
                screen() == "ActionScreen"
                and (
                    app.screen.asking is not None  # type: ignore[attr-defined]
                    or app.screen.plan is not None  # type: ignore[attr-defined]
                    or app.screen.ordered is not None  # type: ignore[attr-defined]
                )
            )

        await press("w", lambda: getattr(app.screen, "wizard", None) is not None)
        while (walk := getattr(app.screen, "wizard", None)) is not None:
            if walk.question is None:  # r: record the decision and open its first option
                await press("r", opened)
                break
            suggestion = app.screen.suggestion  # type: ignore[attr-defined]
            key = "enter" if suggestion is not None else toward.get(walk.current, "")
            key = key or walk.question.answers[0].key
            answered = len(walk.path)
            await press(key, lambda walk=walk, n=answered: len(walk.path) > n)
            if actions > 20:
                raise RuntimeError("the wizard did not decide in 20 keys")
        action = app.screen
        while screen() == "ActionScreen" and (ordered := action.ordered) is not None:  # type: ignore[attr-defined]
            # The outcome's steps before any rollback (ai-saas: notify, capture evidence).
            step = ordered.steps.next_open
            await press(
                "enter",
                lambda ordered=ordered, step=step: ordered.steps.next_open != step,
            )
        action = app.screen
        if screen() == "ManualScreen":
            option = next(o for o in procedure.options if o.id == action.option_id)  # type: ignore[attr-defined]
            if option.provider != "manual":
                raise RuntimeError(
                    f"{' '.join(keys)} opened {option.id} by hand: the drill has no "
                    f"{option.provider} platform"
                )
            shown = [f"{key}({ms * 1000:.0f})" for key, ms in zip(keys, times, strict=True)]
            return {
                "keys": shown,
                "actions": actions,
                "keystrokes": keystrokes,
                "tool": tool,
                "verified": None,
            }
        waited = time.perf_counter()
        while action.plan is None:  # type: ignore[attr-defined]
            asked = action.asking  # type: ignore[attr-defined]
            if asked is not None and action.query("#action-choices"):
                await press("enter", lambda asked=asked: action.asking != asked)  # type: ignore[attr-defined]
                waited = time.perf_counter()
            elif time.perf_counter() - waited > 15:
                break
            await asyncio.sleep(0.002)
        plan = action.plan  # type: ignore[attr-defined]
        if plan is None:
            found = action.query("#action-plan")
            shown = str(found.first().render()) if found else f"now on {screen()}"
            raise RuntimeError(f"no plan after {' '.join(keys)}: {' '.join(shown.split())[:300]}")
        typed = plan.short_code or plan.target
        confirm = [*typed, "enter"] if plan.destructive else ["enter"]
        intents = sum(event.kind == "action.intent" for event in app.events)
        ran = time.perf_counter()
        await press(
            confirm, lambda: sum(event.kind == "action.intent" for event in app.events) > intents
        )
        while action.result is None:  # type: ignore[attr-defined]
            if time.perf_counter() - ran > 60:
                raise RuntimeError("no result in 60 s")
            await asyncio.sleep(0.01)
        verified = time.perf_counter() - ran
        outcome = action.result.outcome  # type: ignore[attr-defined]
        await pilot.pause(0.1)
    return {
        "keys": [f"{key}({ms * 1000:.0f})" for key, ms in zip(keys, times, strict=True)],
        "actions": actions,
        "keystrokes": keystrokes,
        "tool": tool,
        "verified": verified,
        "outcome": outcome,
    }


def rows(quick: bool = QUICK) -> list[Row]:
    """One row per built-in procedure for scripts/bench.py (`quick`: the first one only)."""
    made: list[Row] = []
    for name in BUILTINS[:1] if quick else BUILTINS:
        label = f"drill {name}: trigger → verified rollback"
        goal = f"≤ {ACTION_GOAL} actions, ≤ {KEY_GOAL} keys, ≤ {TIME_GOAL} s tool time"
        with tempfile.TemporaryDirectory(prefix="cockpit-bench-drill-") as folder:
            try:
                found = asyncio.run(drill(name, Path(folder)))
            except RuntimeError as error:
                made.append((label, "failed", str(error), goal, False))
                continue
        verified = found["verified"]
        after = (
            f"{found.get('outcome')} {verified:.2f} s after the confirmation (the platform's job)"
            if verified is not None
            else "a manual option: the responder's"
        )
        made.append(
            (
                label,
                f"{found['actions']} actions, {found['keystrokes']} keys, {found['tool']:.3f} s",
                f"keys (ms) {' '.join(found['keys'])}; {after}; scored {found.get('score')}/100",
                goal,
                found["actions"] <= ACTION_GOAL
                and found["keystrokes"] <= KEY_GOAL
                and found["tool"] <= TIME_GOAL
                and found.get("outcome", "succeeded") == "succeeded",
            )
        )
    return made


if __name__ == "__main__":
    from bench_cli import standalone

    sys.exit(standalone(__doc__, rows))
