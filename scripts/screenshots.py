"""`make screenshots`: SVGs of the demo into screenshots/, on a fixed clock so they are repeatable.

The demo service and its real metric sources run as in `cockpit demo`; instead of pollers on the
wall clock, this script advances a FixedClock half a second per sample and feeds the App the
samples the sources read over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"

# The timeline screen shows the actor; pin it so the pictures do not depend on who ran this.
os.environ.update({"USER": "oncall", "LOGNAME": "oncall"})
os.environ.pop("SSH_CONNECTION", None)


async def shoot() -> list[Path]:
    sys.path.insert(0, str(ROOT))
    from cockpit.app import CockpitApp
    from cockpit.commands.demo import DEMO_POLL_SECONDS, DEMO_PROCEDURE, DEMO_TITLE
    from cockpit.core.clock import FixedClock
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.core.timeline import Timeline
    from cockpit.demo.platforms import start_platforms
    from cockpit.demo.scenario import Scenario
    from cockpit.demo.service import DemoService
    from cockpit.demo.sources import demo_sources
    from cockpit.messages import MetricsSampled
    from cockpit.session import Session

    clock = FixedClock(datetime(2026, 1, 15, 3, 12, 0, tzinfo=UTC))
    scenario = Scenario(clock, bad_deploy_at=16.0, ramp_seconds=4.0)
    service = DemoService(scenario)
    url = service.start()
    platforms = start_platforms(  # the screens show flags and Vercel; no database is needed
        scenario, job_seconds=0.0, health_url=f"{url}/health", only={"feature_flags", "vercel"}
    )
    sources = demo_sources(url, clock)
    written = []
    with (
        tempfile.TemporaryDirectory() as work,
        Timeline(Path(work) / "shots.db", clock=clock) as timeline,
    ):
        incident = timeline.open_incident(DEMO_TITLE, "P1", DEMO_PROCEDURE, drill=True)
        session = Session(
            timeline=timeline,
            incident=incident,
            procedure=load_builtin(DEMO_PROCEDURE),
            sources=sources,
            actions=platforms.providers,
            clock=clock,
            poll_interval=DEMO_POLL_SECONDS,
        )
        app = CockpitApp(session, start_pollers=False)

        async def sample(pilot: object, steps: int, to: CockpitApp | None = None) -> None:
            for _ in range(steps):
                clock.advance(DEMO_POLL_SECONDS)
                for source in sources:
                    (to or app).post_message(MetricsSampled(source.name, source.sample()))
                await pilot.pause()  # type: ignore[attr-defined]

        async def until(pilot: object, condition: Callable[[], object]) -> None:
            for _ in range(500):
                if condition():
                    return
                await pilot.pause(0.01)  # type: ignore[attr-defined]
            raise SystemExit("screenshots: the screen never showed what was expected")

        def save(name: str) -> None:
            app.save_screenshot(filename=name, path=str(OUT))
            written.append(OUT / name)

        async with app.run_test(size=(100, 30)) as pilot:
            await sample(pilot, 30)  # healthy: the baseline fills
            save("dashboard-healthy.svg")
            await sample(pilot, 14)  # the bad deploy lands and the counters climb
            save("dashboard-counting.svg")
            await sample(pilot, 10)
            save("dashboard-firing.svg")
            await pilot.press("p")
            await pilot.press("x")
            await pilot.pause()
            save("procedure.svg")
            await pilot.press("t")
            await pilot.pause()
            save("timeline.svg")
            await pilot.press("d", "w")
            await pilot.pause()
            save("wizard.svg")
            await pilot.press("escape", "question_mark")
            await pilot.pause()
            save("help.svg")
            await pilot.press("escape", "w", "y", "r")  # decide, then roll back: blue-green
            await until(pilot, lambda: app.screen.query("#action-choices"))
            app.clear_notifications()
            save("action-pick.svg")
            picker = app.screen.query_one("#action-choices")
            labels = [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)]  # type: ignore[attr-defined]
            picker.highlighted = next(i for i, text in enumerate(labels) if "v1-2-3" in text)  # type: ignore[attr-defined]
            await pilot.press("enter")
            await until(pilot, lambda: getattr(app.screen, "plan", None) is not None)
            save("action-plan.svg")
            await pilot.press(*app.screen.plan.target, "enter")  # type: ignore[attr-defined]
            await until(pilot, lambda: getattr(app.screen, "result", None) is not None)
            app.clear_notifications()
            save("action-done.svg")
            await pilot.press("escape", "d")
            await sample(pilot, 16)  # the service recovers; automatic checks tick themselves
            app.clear_notifications()
            save("dashboard-recovered.svg")
            await pilot.press("e")  # the post-mortem: the export's preview, at its metrics
            await until(pilot, lambda: getattr(app.screen, "preview", ""))
            preview = app.screen.query_one("#preview")
            lines = app.screen.preview.splitlines()  # type: ignore[attr-defined]
            preview.scroll_to(y=lines.index("## Metrics"), animate=False)
            await pilot.pause()
            app.clear_notifications()
            save("postmortem-preview.svg")
            app.screen.query_one("#postmortem-tabs").active = "tab-root-cause"  # type: ignore[attr-defined]
            await pilot.pause()
            app.screen.query_one("#text-root-cause").load_text(  # type: ignore[attr-defined]
                "v1.2.4 shipped a database pool of one connection; requests queued behind it."
            )
            await pilot.press("ctrl+s")
            await pilot.pause()
            app.clear_notifications()
            save("postmortem-section.svg")
            await pilot.press("escape", "r")  # git revert: no git provider here, done by hand
            await until(pilot, lambda: type(app.screen).__name__ == "RollbackScreen")
            options = app.screen.query_one("OptionList")
            options.highlighted = options.get_option_index("git-revert")  # type: ignore[attr-defined]
            await pilot.press("enter")
            await until(pilot, lambda: type(app.screen).__name__ == "ManualScreen")
            await pilot.press("enter")  # the first step, done
            await pilot.pause()
            app.clear_notifications()
            save("manual.svg")
        app80 = CockpitApp(session, start_pollers=False)
        async with app80.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app80.board is not None)  # the trigger rules, loaded
            await sample(pilot, 12, app80)  # production as it reads after the rollback
            await pilot.pause(0.3)  # the dashboard's trailing paint
            app80.save_screenshot(filename="dashboard-80x24.svg", path=str(OUT))
            written.append(OUT / "dashboard-80x24.svg")
    platforms.stop()
    service.stop()
    return written


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for path in asyncio.run(shoot()):
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
