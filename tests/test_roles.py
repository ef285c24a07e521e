"""Roles in an incident (cockpit.core.roles): the rules checked when writing, on SQLite and on
PostgreSQL (one parametrised fixture, as tests/test_timeline.py's), and the fold that says who
holds which role at any point of the incident's events."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.core.clock import FixedClock
from cockpit.core.errors import IncidentError
from cockpit.core.roles import (
    ASSIGNED,
    ROLES,
    RoleError,
    RoleRefused,
    Roles,
    person_of,
)
from cockpit.core.state import IncidentState
from cockpit.core.timeline import Timeline

ALICE = "alice via ssh 203.0.113.7 on pts/3"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
both = pytest.mark.parametrize("tl", BACKENDS, indirect=True)


@pytest.fixture
def tl(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The timeline under test, its actor alice (who opens the incidents)."""
    clock = FixedClock()
    if getattr(request, "param", "sqlite") == "sqlite":
        with Timeline(tmp_path / "timeline.db", clock=clock, actor=ALICE) as opened:
            yield opened
        return
    import postgres_server

    from cockpit.core.pg_timeline import PgTimeline

    server = postgres_server.shared()
    with (
        postgres_server.fresh_database(server, "tl_roles_") as url,
        PgTimeline(
            url, password=server.password, clock=clock, actor=ALICE, retry_pause=0.0
        ) as opened,
    ):
        yield opened


def roles_of(tl: Any, incident: int) -> Roles:
    return Roles.replay(tl.events(incident))


def test_a_person_is_the_user_name_of_an_actor() -> None:
    assert person_of("alice via ssh 203.0.113.7 on pts/3") == "alice"
    assert person_of("alice on pts/3") == "alice"
    assert person_of("alice") == "alice"
    assert person_of("uid 1000") == "uid 1000"


@both
def test_who_opened_the_incident_is_its_lead(tl: Any) -> None:
    incident = tl.open_incident("checkout 5xx", "P1", None).id
    roles = roles_of(tl, incident)
    assert roles.lead == "alice"
    assert roles.listing() == [("lead", "alice")]
    assert roles.changes[0].by is None


@both
def test_the_lead_assigns_roles_and_a_person_holds_one(tl: Any) -> None:
    incident = tl.open_incident("checkout 5xx", "P1", None).id
    event = tl.assign_role(incident, "responder", "bob")
    assert event.kind == ASSIGNED
    assert event.payload == {"role": "responder", "person": "bob", "by": "alice", "previous": None}
    assert event.summary == "bob is now responder, assigned by alice"
    tl.assign_role(incident, "observer", "carol")
    moved = tl.assign_role(incident, "communications", "bob")
    assert moved.payload["previous"] == "responder"
    assert tl.assign_role(incident, "communications", "bob") is None, "held already: nothing"
    roles = roles_of(tl, incident)
    assert roles.role_of("bob") == "communications"
    assert roles.listing() == [("lead", "alice"), ("communications", "bob"), ("observer", "carol")]
    assert [e.kind for e in tl.events(incident)].count(ASSIGNED) == 3


@both
def test_only_the_lead_assigns_and_the_refusal_names_the_lead(tl: Any) -> None:
    incident = tl.open_incident("checkout 5xx", "P1", None).id
    with pytest.raises(RoleRefused, match="lead: alice"):
        tl.assign_role(incident, "lead", "bob", actor="bob via ssh 198.51.100.2")
    assert ASSIGNED not in [e.kind for e in tl.events(incident)]


@both
def test_a_hand_over_moves_lead_and_the_former_lead_assigns_no_more(tl: Any) -> None:
    incident = tl.open_incident("checkout 5xx", "P1", None).id
    tl.assign_role(incident, "observer", "bob")
    handed = tl.assign_role(incident, "lead", "bob")
    assert handed.summary == "Lead handed over: alice → bob"
    assert handed.payload["previous"] == "observer"
    roles = roles_of(tl, incident)
    assert roles.lead == "bob" and roles.role_of("alice") is None
    assert roles.changes[-1].handed_from == "alice"
    with pytest.raises(RoleRefused, match="lead: bob"):
        tl.assign_role(incident, "responder", "carol")  # alice, no longer the lead
    tl.assign_role(incident, "responder", "alice", actor="bob on pts/1")
    assert roles_of(tl, incident).role_of("alice") == "responder"


@both
def test_the_lead_cannot_take_another_role_before_handing_lead_over(tl: Any) -> None:
    incident = tl.open_incident("checkout 5xx", "P1", None).id
    with pytest.raises(RoleRefused, match="hand lead over first"):
        tl.assign_role(incident, "observer", "alice")
    assert tl.assign_role(incident, "lead", "alice") is None


@both
def test_a_wrong_role_a_bad_name_or_a_closed_incident_is_a_clear_error(tl: Any) -> None:
    incident = tl.open_incident("checkout 5xx", "P1", None).id
    with pytest.raises(RoleError, match="a role is one of lead, responder, communications, obs"):
        tl.assign_role(incident, "commander", "bob")
    with pytest.raises(RoleError, match="cannot be empty"):
        tl.assign_role(incident, "responder", "   ")
    with pytest.raises(RoleError, match="printable"):
        tl.assign_role(incident, "responder", "bob\x1b[2J")
    with pytest.raises(IncidentError, match="no incident 99"):
        tl.assign_role(99, "responder", "bob")
    tl.close_incident(incident)
    with pytest.raises(IncidentError, match="is closed"):
        tl.assign_role(incident, "responder", "bob")


@both
def test_role_events_are_written_by_assign_role_only(tl: Any) -> None:
    incident = tl.open_incident("checkout 5xx", "P1", None).id
    with pytest.raises(ValueError, match=r"role\.assigned"):
        tl.record(incident, ASSIGNED, "bob takes lead", {"role": "lead", "person": "bob"})


@both
def test_two_cockpits_cannot_both_hand_over_lead(tl: Any) -> None:
    """Alice, on two cockpits at once, hands lead to bob from one and to carol from the other:
    the check runs inside the write, so exactly one hand-over is recorded."""
    incident = tl.open_incident("checkout 5xx", "P1", None).id
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def hand_to(person: str) -> None:
        with tl.sibling() as mine:
            start.wait()
            try:
                outcomes[person] = mine.assign_role(incident, "lead", person)
            except RoleRefused as refused:
                outcomes[person] = refused

    threads = [threading.Thread(target=hand_to, args=(name,)) for name in ("bob", "carol")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    refused = [value for value in outcomes.values() if isinstance(value, RoleRefused)]
    assert len(outcomes) == 2 and len(refused) == 1
    lead = roles_of(tl, incident).lead
    assert lead in ("bob", "carol") and f"lead: {lead}" in str(refused[0])
    assert [e.kind for e in tl.events(incident)].count(ASSIGNED) == 1


def test_the_fold_says_who_held_what_at_any_point(timeline: Timeline) -> None:
    incident = timeline.open_incident("checkout 5xx", "P1", None)
    me = person_of(timeline.actor)
    timeline.assign_role(incident.id, "observer", "bob")
    timeline.assign_role(incident.id, "lead", "bob")
    events = timeline.events(incident.id)
    seen = []
    state = IncidentState(incident)
    for event in events:
        state.apply(event)
        seen.append(state.roles.listing())
    assert seen == [
        [("lead", me)],
        [("lead", me), ("observer", "bob")],
        [("lead", "bob")],
    ]
    assert state.roles.changes[-1].previous == "observer"
    # An event the rules did not write (another role name, no person) changes nothing.
    assert not Roles().fold(ASSIGNED, "x", "t", {"role": "king", "person": "bob"})
    assert not Roles().fold(ASSIGNED, "x", "t", {"role": "lead", "person": ""})
    assert set(ROLES) == {"lead", "responder", "communications", "observer"}


def test_the_post_mortem_lists_who_held_which_role_with_the_hand_overs(tmp_path: Path) -> None:
    import json

    from cockpit.core.export import render_json, render_markdown
    from cockpit.core.export_report import REPORT_KINDS

    clock = FixedClock()
    with Timeline(tmp_path / "t.db", clock=clock, actor=ALICE) as timeline:
        incident = timeline.open_incident("checkout 5xx", "P1", None).id
        alone = render_markdown(timeline.events(incident), timeline.incident(incident), None)
        assert "## Roles" not in alone, "nobody was given a role: no section"
        clock.advance(60)
        timeline.assign_role(incident, "responder", "[bold]bob|x")
        clock.advance(60)
        timeline.assign_role(incident, "lead", "carol")
        clock.advance(60)
        timeline.assign_role(incident, "communications", "[bold]bob|x", actor="carol")
        events, about = timeline.events(incident), timeline.incident(incident)
        some = timeline.events(incident, kinds=REPORT_KINDS)
        rows = timeline.rows(incident)
    text = render_markdown(events, about, None)
    assert render_markdown(some, about, None, rows=rows) == text, "REPORT_KINDS holds them"
    section = text.split("## Roles\n", 1)[1].split("\n## ", 1)[0]
    assert "| lead | carol | " in section
    assert "| communications | [bold]bob\\|x | " in section
    assert "alice: lead (opened the incident) | - |" in section
    assert "lead handed over: alice → carol | alice |" in section
    assert "[bold]bob\\|x: communications (was responder) | carol |" in section
    changes = section.split("| Time (UTC) |", 1)[1].splitlines()[2:]
    assert [row.split(" | ")[0] for row in changes] == [
        f"| 2026-01-15 03:1{minute}:00 UTC" for minute in (2, 3, 4, 5)
    ]
    data = json.loads(render_json(events, about, None))
    assert [h["person"] for h in data["roles"]["holders"]] == ["carol", "[bold]bob|x"]
    assert [c["role"] for c in data["roles"]["changes"]] == [
        "lead",
        "responder",
        "lead",
        "communications",
    ]
    assert data["roles"]["changes"][2]["handed_from"] == "alice"
