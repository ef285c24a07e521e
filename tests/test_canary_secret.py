"""A canary secret, configured as a provider's token, planted where secrets get out: a platform
echoing it in an error, a responder pasting it into a note, a confirmation and a draft. It must
reach none of: the database (with its WAL), the export, the drafts, the crash and error files,
and what the screens show (their screenshots). The canary has no shape a pattern would know:
only the literal removal of configured secrets catches it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from local_http import Canned
from pilot_wait import until

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from cockpit.demo.platforms import Platforms, start_platforms
from cockpit.demo.scenario import Scenario
from cockpit.demo.service import DemoService
from cockpit.screens.action import ActionScreen
from cockpit.session import Session
from providers.vercel import VercelProvider

pytestmark = pytest.mark.timeout(90)

CANARY = "zq9-canary-Xk42w"


@pytest.fixture
def demo() -> Iterator[tuple[Platforms, FixedClock]]:
    clock = FixedClock(datetime(2026, 1, 15, 3, 12, tzinfo=UTC))
    scenario = Scenario(clock, bad_deploy_at=1.0, ramp_seconds=1.0)
    with DemoService(scenario) as service:
        platforms = start_platforms(  # the demo's flags and Vercel: no git, no database
            scenario,
            job_seconds=0.0,
            health_url=f"{service.base_url}/health",
            only={"feature_flags", "vercel"},
        )
        clock.advance(5)
        yield platforms, clock
        platforms.stop()


async def test_a_configured_secret_gets_out_nowhere(
    tmp_path: Path, demo: tuple[Platforms, FixedClock]
) -> None:
    platforms, clock = demo
    echoing = Canned(
        json.dumps(
            {"error": {"code": "forbidden", "message": f"token {CANARY} is revoked"}}
        ).encode()
    )
    echoing.status = 401
    leaky = VercelProvider(
        VercelProvider.Options.model_validate(
            {"base_url": echoing.url, "token": CANARY, "project": "shop"}
        )
    )
    data = tmp_path / "data"
    db = data / "timeline.db"
    timeline = Timeline(db, clock=clock)
    incident = timeline.open_incident("demo", "P1", "pulse-messages", drill=True)
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=load_builtin("pulse-messages"),
        actions={**platforms.providers, "leaky": leaky},
        clock=clock,
    )
    app = CockpitApp(session, start_pollers=False)
    shown: list[str] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            # A platform echoes the token in its error: recorded, shown, notified.
            await app.push_screen(ActionScreen("leaky", "instant_rollback", {}))
            await until(pilot, lambda: app.screen.stopped, "the refusal")  # type: ignore[attr-defined]
            await until(pilot, lambda: any(e.kind == "plan.failed" for e in app.events), "recorded")
            shown.append(app.export_screenshot())
            await pilot.press("escape")
            # Pasted into a note.
            await pilot.press("n", *f"pasted {CANARY} here", "enter")
            # Typed as a confirmation: refused, "you typed '...'" recorded.
            await pilot.press("r", "down", "enter")  # L2 Vercel instant rollback (the demo's)
            screen = app.screen
            await until(pilot, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
            await pilot.press(*CANARY, "enter")
            await until(pilot, lambda: any(e.kind == "plan.refused" for e in app.events), "refused")
            shown.append(app.export_screenshot())
            await pilot.press("escape", "escape")
            # Written into a draft and saved (the file beside the timeline).
            await pilot.press("m")
            await pilot.press("end", *f" and {CANARY}", "ctrl+s")
            await until(pilot, lambda: any(e.kind == "draft.saved" for e in app.events), "saved")
            shown.append(app.export_screenshot())
            await pilot.press("escape", "t")
            await pilot.pause(0.3)
            shown.append(app.export_screenshot())
            await pilot.press("end")
            await pilot.pause(0.3)
            shown.append(app.export_screenshot())
            await pilot.press("q")
    finally:
        leaky.close()
        echoing.stop()
    exported = subprocess.run(
        [sys.executable, "-m", "cockpit", "export", str(incident.id), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert exported.returncode == 0, exported.stderr
    as_json = subprocess.run(
        [
            sys.executable,
            "-m",
            "cockpit",
            "export",
            str(incident.id),
            "--db",
            str(db),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    kinds = [e.kind for e in timeline.events(incident.id)]
    assert {"plan.failed", "plan.refused", "note", "draft.saved"} <= set(kinds), kinds
    places = {"export": exported.stdout, "json export": as_json.stdout}
    places |= {f"screen {n}": text for n, text in enumerate(shown)}
    for path in data.rglob("*"):
        if path.is_file():
            places[str(path.relative_to(data))] = path.read_bytes().decode("utf-8", "replace")
    assert any("drafts" in name for name in places), "the draft file was written"
    leaked = [name for name, text in places.items() if CANARY in text]
    assert not leaked, f"the canary got out in: {leaked}"
    assert "[redacted]" in exported.stdout, "it was there, and was removed"
