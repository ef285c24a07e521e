"""The post-mortem of an incident driven through the demo, from the first bad sample to the file.

The demo's simulated production goes bad; its real HTTP sources are read on a fixed clock and
fed to the app as its pollers would; the responder acknowledges, walks the wizard, ticks a
checklist item, rolls back through the Vercel simulator, sends the Slack update, writes the
post-mortem's sections in the app, closes the incident and writes the file. The file must be
what `cockpit export` gives, match the golden file, and hold none of the secrets the providers
were configured with or that were typed into messages.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.pilot import Pilot
from textual.widgets import TextArea

from cockpit.app import CockpitApp
from cockpit.cli import cli
from cockpit.core.clock import FixedClock
from cockpit.core.export import render_markdown
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from cockpit.demo.platforms import Platforms, start_platforms
from cockpit.demo.scenario import GOOD_VERSION, Scenario
from cockpit.demo.service import DemoService
from cockpit.demo.sources import demo_sources
from cockpit.session import Session

pytestmark = pytest.mark.timeout(120)

GOLDEN = Path(__file__).parent / "golden" / "export_demo.md"
TYPED_SECRET = "xoxb-1234567890-abcdefghijklmnopqrstuv"
"""A Slack bot token pasted into a message and a section by mistake."""


@pytest.fixture(autouse=True)
def fixed_uuids(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = itertools.count(1)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(counter)))


@pytest.fixture
def demo() -> Iterator[tuple[Scenario, DemoService, Platforms, FixedClock]]:
    clock = FixedClock(datetime(2026, 1, 15, 3, 12, tzinfo=UTC))
    scenario = Scenario(clock, bad_deploy_at=20.0, ramp_seconds=10.0)
    with DemoService(scenario) as service:
        platforms = start_platforms(  # the demo's flags and Vercel: no git, no database
            scenario,
            job_seconds=0.0,
            health_url=f"{service.base_url}/health",
            only={"feature_flags", "vercel"},
        )
        yield scenario, service, platforms, clock
        platforms.stop()


def normalised(text: str) -> str:
    """Ports are random and the chain hashes cover them: the rest must match to the byte."""
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    return re.sub(r"`[0-9a-f]{64}`", "`HASH`", text)


def provider_secrets(platforms: Platforms) -> list[str]:
    found = []
    for provider in [*platforms.providers.values(), *platforms.notifiers.values()]:
        for value in vars(provider.options).values():
            if hasattr(value, "get_secret_value"):
                found.append(value.get_secret_value())
    return found


async def until(pilot: Pilot[int], condition: Callable[[], object], what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_the_demo_incident_exports_the_post_mortem_a_reviewer_accepts(
    tmp_path: Path,
    demo: tuple[Scenario, DemoService, Platforms, FixedClock],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario, service, platforms, clock = demo
    # The timeline every command reads by default: the footer's command needs no --db.
    monkeypatch.setenv("COCKPIT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("COCKPIT_DB", raising=False)
    secrets = provider_secrets(platforms)
    assert len(secrets) >= 3  # admin API, Vercel and Slack tokens
    database = tmp_path / "timeline.db"
    timeline = Timeline(database, clock=clock, actor="alice")
    incident = timeline.open_incident("Checkout errors after v1.2.4", "P1", "pulse-messages")
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=load_builtin("pulse-messages"),
        actions=platforms.providers,
        notifiers=platforms.notifiers,
        clock=clock,
    )
    sources = demo_sources(service.base_url, clock)
    app = CockpitApp(session, start_pollers=False)

    def kinds() -> list[str]:
        return [event.kind for event in app.events]

    async def poll(seconds: int, pilot: Pilot[int]) -> None:
        """What the pollers do, a reading a second; the probe's own latency is wall-clock
        time, so it is left out to keep the post-mortem the same run to run."""
        for _ in range(seconds):
            clock.advance(1)
            for source in sources:
                samples = [s for s in source.sample() if s.metric != "health_latency_ms"]
                app.ingest(samples)
            await pilot.pause()

    async with app.run_test(size=(100, 40)) as pilot:
        await poll(40, pilot)  # healthy, then the bad deploy
        assert "trigger.fired" in kinds()
        await pilot.press("a", "enter")  # acknowledged
        clock.advance(20)
        await pilot.press("w", "y", "enter")  # more than half the users: decided
        await until(pilot, lambda: type(app.screen).__name__ == "ChecklistsScreen", "checklist")
        clock.advance(5)
        await pilot.press("space", "escape")  # "Confirm rollback is necessary"

        clock.advance(10)
        await pilot.press("r", "down", "enter")  # L2 Vercel Instant Rollback
        action = app.screen
        await until(pilot, lambda: action.plan is not None, "the plan")  # type: ignore[attr-defined]
        await pilot.press(*"pulse-messages", "enter")
        await until(pilot, lambda: action.result is not None, "the result")  # type: ignore[attr-defined]
        assert action.result.outcome == "succeeded"  # type: ignore[attr-defined]
        assert scenario.version() == GOOD_VERSION  # production really was rolled back
        await pilot.press("escape")
        await poll(45, pilot)  # recovering: the automatic items tick

        await pilot.press("m")  # the Slack incident update, with a token pasted in by mistake
        body = app.screen.query_one("#draft-body", TextArea)
        body.insert(f"\nDebug: bot token {TYPED_SECRET}\n")
        await pilot.press("ctrl+o")
        await until(pilot, lambda: "outbox.sent" in kinds(), "the Slack message sent")
        await pilot.press("escape")

        clock.advance(60)
        await pilot.press("e")
        await until(pilot, lambda: type(app.screen).__name__ == "PostmortemScreen", "post-mortem")
        screen = app.screen
        written = {
            "impact": "- Users affected: about 60 % of senders for 2 minutes\n"
            f"- Requests failed: 9 % of requests\n- Data loss: none\n- Pasted: {TYPED_SECRET}",
            "root-cause": "v1.2.4 shipped a database pool of one connection; requests queued "
            "behind it and timed out.",
            "lessons-learned": "1. What went well: the trigger fired within a minute.\n"
            "2. What went wrong: staging has no load test.\n3. Where we got lucky: off-peak.",
            "action-items": "- [ ] @dana - Load test the pool size in staging\n"
            "- [ ] @lee - Alert on pool saturation",
        }
        for key, text in written.items():
            area = screen.query_one(f"#text-{key}", TextArea)
            area.load_text(text)
        screen.query_one("#postmortem-tabs").active = "tab-resolution"  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.press("ctrl+s")  # saves the edits and keeps the drafted resolution
        await until(pilot, lambda: kinds().count("postmortem.written") == 5, "five sections")

        clock.advance(30)
        await pilot.press("ctrl+t")
        await pilot.press(*"rolled back to v1.2.3", "enter")
        await until(pilot, lambda: "incident.closed" in kinds(), "the incident closed")
        await pilot.press("ctrl+o")
        await until(pilot, lambda: "postmortem.exported" in kinds(), "the file written")
    timeline.close()

    written_file = tmp_path / "exports" / f"incident-{incident.id}-postmortem.md"
    from_file = written_file.read_text(encoding="utf-8")
    runner = CliRunner()
    exported = runner.invoke(cli, ["export", str(incident.id), "--db", str(database)])
    assert exported.exit_code == 0, exported.output
    # The file was written before its own `postmortem.exported` event (and so the chain head
    # it names is one earlier): otherwise the same document.
    later = [line for line in exported.output.splitlines() if "postmortem.exported" not in line]
    assert from_file.split("\n---\n")[0] == "\n".join(later).split("\n---\n")[0]

    as_json = runner.invoke(
        cli, ["export", str(incident.id), "--db", str(database), "--format", "json"]
    )
    for secret in [*secrets, TYPED_SECRET]:
        assert secret not in from_file and secret not in as_json.output
    assert "xoxb-" not in from_file

    data = json.loads(as_json.output)
    assert [row["verdict"] for row in data["durations"] if row["target"]] == ["met"] * 4
    if os.environ.get("COCKPIT_UPDATE_GOLDEN"):
        GOLDEN.write_text(normalised(from_file), encoding="utf-8")
    assert normalised(from_file) == GOLDEN.read_text(encoding="utf-8")


async def test_a_closed_incidents_post_mortem_is_written_the_next_day(
    tmp_path: Path, clock: FixedClock
) -> None:
    from cockpit.postmortem_app import PostmortemApp

    database = tmp_path / "timeline.db"
    timeline = Timeline(database, clock=clock, actor="dana")
    incident = timeline.open_incident("Login failures", "P1", "huntaze")
    clock.advance(600)
    closed = timeline.close_incident(incident.id, "rolled back the auth service")
    clock.advance(86_400)
    session = Session(
        timeline=timeline, incident=closed, procedure=load_builtin("huntaze"), clock=clock
    )
    app = PostmortemApp(session, start_pollers=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: type(app.screen).__name__ == "PostmortemScreen", "the screen")
        tabs = [pane.id for pane in app.screen.query("TabPane")]
        assert tabs[:3] == ["tab-preview", "tab-root-cause-analysis", "tab-impact-assessment"]
        area = app.screen.query_one("#text-root-cause-analysis", TextArea)
        area.load_text("An expired signing key on the auth service.")
        await pilot.press("ctrl+s")
        await pilot.press("escape")  # leaving ends the program
        await until(pilot, lambda: not app.is_running, "the app to end")
    events = timeline.events(incident.id)
    assert [e.kind for e in events][-3:] == [
        "session.started",
        "postmortem.written",
        "session.ended",
    ]
    text = render_markdown(events, timeline.incident(incident.id), load_builtin("huntaze"))
    assert "## Root Cause Analysis\n\nAn expired signing key on the auth service.\n" in text
    assert "| Root cause | An expired signing key on the auth service. |" in text


def test_the_postmortem_command_refuses_an_open_or_unknown_incident(
    tmp_path: Path, clock: FixedClock
) -> None:
    database = tmp_path / "timeline.db"
    with Timeline(database, clock=clock) as timeline:
        timeline.open_incident("Still burning", "P1", "pulse-messages")
    runner = CliRunner()
    still_open = runner.invoke(cli, ["postmortem", "1", "--db", str(database)])
    assert still_open.exit_code == 2
    assert "incident 1 is still open" in still_open.output
    assert "cockpit --incident 1" in still_open.output
    unknown = runner.invoke(cli, ["postmortem", "7", "--db", str(database)])
    assert unknown.exit_code == 2 and "7" in unknown.output


def test_the_postmortem_command_opens_only_the_post_mortem_of_a_closed_incident(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cockpit.commands.run as run

    database = tmp_path / "timeline.db"
    with Timeline(database, clock=clock) as timeline:
        timeline.open_incident("Over", "P2", "pitchey")
        timeline.close_incident(1, "fixed forward")
    launched: list[tuple[Session, bool]] = []

    def launch(session: Session, *, postmortem: bool = False) -> int:
        launched.append((session, postmortem))
        return 0

    monkeypatch.setattr(run, "launch", launch)
    result = CliRunner().invoke(cli, ["postmortem", "1", "--db", str(database)])
    assert result.exit_code == 0, result.output
    [(session, postmortem)] = launched
    assert postmortem and session.incident.status == "closed"
    assert session.procedure is not None and session.procedure.name == "pitchey"
