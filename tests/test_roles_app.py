"""Roles in the TUI: an observer's cockpit writes nothing by its role (also when the role
arrives live from another cockpit), every top bar says its own role, and the lead assigns
roles and hands lead over from the `l` modal, the hand-over typed twice. Names with markup or
control characters are shown as they are."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.procedure import Procedure
from cockpit.core.roles import ASSIGNED
from cockpit.core.timeline import Timeline
from cockpit.screens.roles import RolesScreen
from cockpit.session import Session

ALICE = "alice via ssh 203.0.113.7 on pts/1"
BOB = "bob via ssh 198.51.100.2 on pts/2"


def cockpit_of(
    path: Path, actor: str, incident: int, procedure: Procedure, clock: FixedClock
) -> CockpitApp:
    """The cockpit `actor` runs on incident `incident` of the timeline at `path`."""
    timeline = Timeline(path, clock=clock, actor=actor)
    session = Session(
        timeline=timeline,
        incident=timeline.incident(incident),
        procedure=procedure,
        clock=clock,
        poll_interval=1.0,
    )
    return CockpitApp(session, start_pollers=False)


def opened(path: Path, clock: FixedClock, actor: str = ALICE) -> tuple[Timeline, int]:
    lead = Timeline(path, clock=clock, actor=actor)
    return lead, lead.open_incident("Checkout errors after deploy", "P1", "pulse-messages").id


async def until(pilot: Any, condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await pilot.pause(0.05)


def told(app: CockpitApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


def shown(app: CockpitApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def by(timeline: Timeline, incident: int, who: str) -> list[str]:
    return [e.kind for e in timeline.events(incident) if e.actor == who]


async def test_an_observer_cockpit_writes_nothing_by_its_role(
    tmp_path: Path, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    path = tmp_path / "timeline.db"
    lead, incident = opened(path, clock)
    lead.assign_role(incident, "observer", "bob")
    app = cockpit_of(path, BOB, incident, pulse_procedure, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.read_only and not app.session.watching and not app.driving
        assert shown(app, "#role") == "observer"
        # The guided line does not send an observer to keys that record nothing.
        assert shown(app, "#next-step") == (
            f"Next: observer: read-only in incident {incident} (lead: alice): follow the "
            "panes and the timeline."
        )
        await pilot.press("n", *"not recorded", "enter")
        await pilot.press("a")
        await pilot.press("w", "y")  # a wizard answer
        await pilot.pause()
        refusal = f"observer: read-only in incident {incident} (lead: alice)"
        refused = [n for n in app._notifications if n.title == "Not recorded"]
        assert len(refused) == 3 and {n.message for n in refused} == {refusal}, told(app)
        await pilot.press("escape", "q")
    assert by(lead, incident, BOB) == []


async def test_a_role_given_by_another_cockpit_turns_this_one_read_only_live(
    tmp_path: Path, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    path = tmp_path / "timeline.db"
    lead, incident = opened(path, clock)
    app = cockpit_of(path, BOB, incident, pulse_procedure, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        assert not app.read_only and app.driving
        assert shown(app, "#role") == "no role"
        await pilot.press("n", *"before", "enter")
        await until(pilot, lambda: "note" in by(lead, incident, BOB))
        lead.assign_role(incident, "responder", "bob")
        await until(pilot, lambda: app.role == "responder")
        await pilot.pause()
        assert shown(app, "#role") == "responder" and not app.read_only
        lead.assign_role(incident, "observer", "bob")
        await until(pilot, lambda: app.read_only)
        await pilot.pause()
        assert shown(app, "#role") == "observer"
        assert "You are an observer" in [n.title for n in app._notifications]
        assert not app.driving, "an observer gives up the automation: it would record nothing"
        await pilot.press("n", *"after", "enter")
        await pilot.pause()
        assert f"observer: read-only in incident {incident} (lead: alice)" in told(app)
    notes = [e.summary for e in lead.events(incident) if e.kind == "note"]
    assert notes == ["before"]


async def test_the_lead_assigns_and_hands_lead_over_with_the_name_typed_twice(
    tmp_path: Path, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    path = tmp_path / "timeline.db"
    lead, incident = opened(path, clock)
    app = cockpit_of(path, ALICE, incident, pulse_procedure, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        assert shown(app, "#role") == "lead"
        await pilot.press("l")
        assert isinstance(app.screen, RolesScreen)
        assert "lead            alice (you)" in shown(app, "#roles-list")
        await pilot.press(*"carol", "enter")  # responder is the role offered first
        await until(pilot, lambda: app.state.roles.role_of("carol") == "responder")
        await pilot.press("l", "up", *"bob", "enter")  # lead: asks for the name again
        screen = app.screen
        assert isinstance(screen, RolesScreen) and screen.pending == "bob"
        assert "Type bob again" in shown(app, "#roles-say")
        await pilot.press(*"bib", "enter")
        assert "Not handed over" in shown(app, "#roles-say")
        assert app.state.roles.lead == "alice"
        await pilot.press(*"bob", "enter")
        await until(pilot, lambda: app.state.roles.lead == "bob")
        await pilot.pause()
        assert not isinstance(app.screen, RolesScreen)
        assert shown(app, "#role") == "no role"
        await pilot.press("l")  # no longer the lead: the listing only, and who leads
        assert "Only the lead assigns roles (lead: bob)" in " ".join(
            str(s.render()) for s in app.screen.query(Static)
        )
        await pilot.press("escape")
    assigned = [e for e in lead.events(incident) if e.kind == ASSIGNED]
    assert [(e.payload["role"], e.payload["person"], e.actor) for e in assigned] == [
        ("responder", "carol", ALICE),
        ("lead", "bob", ALICE),
    ]


async def test_names_with_markup_or_control_characters_are_shown_as_they_are(
    tmp_path: Path, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    path = tmp_path / "timeline.db"
    eve = "eve\x1b[2J on pts/9"
    lead, incident = opened(path, clock, actor=eve)
    lead.assign_role(incident, "observer", "[bold]x")
    app = cockpit_of(path, eve, incident, pulse_procedure, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l", *"[/]boom", "enter")
        await until(pilot, lambda: app.state.roles.role_of("[/]boom") == "responder")
        await pilot.press("l")
        listing = shown(app, "#roles-list")
        assert "eve^[[2J (you)" in listing and "\x1b" not in listing
        assert "[bold]x" in listing and "[/]boom" in listing
        await pilot.press("escape")
    refused = Timeline(path, clock=clock, actor="[bold]x")
    viewer = cockpit_of(path, "[bold]x", incident, pulse_procedure, clock)
    async with viewer.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", *"hi", "enter")
        await pilot.pause()
        assert "(lead: eve^[[2J)" in told(viewer)
        assert shown(viewer, "#role") == "observer"
    assert by(refused, incident, "[bold]x") == []


@pytest.mark.integration
async def test_on_a_team_database_a_role_given_elsewhere_arrives_live(
    clock: FixedClock, pulse_procedure: Procedure
) -> None:
    """On one PostgreSQL incident, the lead's assignment reaches another cockpit through
    LISTEN/NOTIFY and turns it read-only."""
    import postgres_server

    from cockpit.core.pg_timeline import PgTimeline

    server = postgres_server.shared()
    with (
        postgres_server.fresh_database(server, "roles_app_") as url,
        PgTimeline(url, password=server.password, clock=clock, actor=ALICE) as lead,
    ):
        incident = lead.open_incident("Checkout errors", "P1", "pulse-messages").id
        mine = PgTimeline(url, password=server.password, clock=clock, actor=BOB)
        session = Session(
            timeline=mine,
            incident=mine.incident(incident),
            procedure=pulse_procedure,
            clock=clock,
            poll_interval=1.0,
        )
        app = CockpitApp(session, start_pollers=False)
        async with app.run_test(size=(80, 24)) as pilot:
            assert not app.read_only
            lead.assign_role(incident, "observer", "bob")
            await until(pilot, lambda: app.read_only)
            await pilot.pause()
            assert shown(app, "#role") == "observer"
            await pilot.press("n", *"not recorded", "enter")
            await pilot.pause()
            assert f"observer: read-only in incident {incident} (lead: alice)" in told(app)
        notes = [e for e in lead.events(incident) if e.kind == "note"]
        assert notes == []
        mine.close()
