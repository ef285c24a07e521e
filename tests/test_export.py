"""The post-mortem export: deterministic Markdown and JSON from the real timeline, redacted."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.core.actions import Outgoing
from cockpit.core.clock import FixedClock, iso_ms
from cockpit.core.event_log import Event
from cockpit.core.export import cell, code, render_json, render_markdown
from cockpit.core.outbox import Outbox
from cockpit.core.paths import verify_command
from cockpit.core.procedure import Procedure
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "export_basic.md"
SECRET = "hunter2-very-secret-value"


@pytest.fixture
def fixed_uuids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Action and outbox ids are uuid4: fixed here, so the chain hashes repeat run to run."""
    counter = itertools.count(1)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(counter)))


@pytest.fixture
def procedure() -> Procedure:
    return load_builtin("pulse-messages")


def play_incident(timeline: Timeline, clock: FixedClock, *, close: bool = True) -> int:
    """A P1 on pulse-messages, recorded the way the app records it."""
    opened = timeline.open_incident("Checkout errors after deploy", "p1", "pulse-messages")
    incident = opened.id
    clock.advance(30)
    impact = iso_ms(clock.now())  # the first breaching sample
    clock.advance(30)
    timeline.record(
        incident,
        "trigger.fired",
        "Error rate > 5% for 2 samples (7.5%)",
        {"rule": "error-rate", "value": 7.5, "breach_began": impact},
    )
    clock.advance(30)
    timeline.acknowledge(incident)
    clock.advance(20)
    timeline.record(
        incident,
        "wizard.answered",
        "Are more than 50% of users affected? → Yes (> 50%)",
        {
            "node": "users-majority",
            "key": "y",
            "label": "Yes (> 50%)",
            "suggested": "n",
            "reason": "error_rate 7.5% of requests",
        },
    )
    clock.advance(25)
    timeline.record(
        incident,
        "wizard.decided",
        "Decided: P0 - Critical: switch traffic back to Blue now",
        {
            "node": "p0-switch",
            "options": ["blue-green", "vercel-instant"],
            "answers": [
                {
                    "node": "users-majority",
                    "key": "y",
                    "label": "Yes (> 50%)",
                    "suggested": "n",
                    "reason": "error_rate 7.5% of requests",
                }
            ],
        },
    )
    clock.advance(10)
    intent = timeline.begin_action(
        incident,
        "vercel.rollback",
        "Vercel instant rollback of web to v41",
        {"target": "web", "api_token": SECRET, "plan": {"note": f"token={SECRET}"}},
        command="cockpit act vercel rollback --target web | tee rollback.log",
    )
    clock.advance(90)
    timeline.finish_action(
        incident,
        intent.payload["action_id"],
        "succeeded",
        "web serves v41; health checks pass",
        {"verified": True, "transcript": [f"Authorization: Bearer {SECRET}", "done"]},
    )
    kind, summary, payload = Outbox.queue(
        Outgoing(channel="slack", subject="Rollback of web", body="rolled back", key="inc-1")
    )
    timeline.record(incident, kind, summary, payload)
    clock.advance(2)
    timeline.record(
        incident,
        "outbox.sent",
        "Sent to slack: Rollback of web",
        {"id": payload["id"], "attempt": 1},
    )
    timeline.record(
        incident,
        "checklist.ticked",
        "Ticked: Confirm rollback is necessary",
        {"list": "quick", "item": "confirm"},
    )
    clock.advance(30)
    timeline.record(
        incident,
        "checklist.auto_ticked",
        "Verified automatically",
        {"list": "quick", "item": "verify"},
    )
    timeline.record(
        incident,
        "checklist.skipped",
        "Skipped: Notify team via Slack (sent)",
        {"list": "quick", "item": "notify-slack", "reason": "sent by the outbox"},
    )
    timeline.record(incident, "note", f"ops said: password={SECRET} | see\nthe ticket")
    if close:
        clock.advance(300)
        timeline.close_incident(incident, "rolled back to v41")
    return incident


def export_of(
    timeline: Timeline, incident: int, procedure: Procedure | None, *, cli: bool = False
) -> str:
    return render_markdown(
        timeline.events(incident),
        timeline.incident(incident),
        procedure,
        head=timeline.head(),
        # What `cockpit export --db` names: the command that checks that very timeline.
        verify=verify_command(timeline.path) if cli else "cockpit timeline verify",
    )


def test_same_events_give_the_same_bytes_and_match_the_golden_file(
    tmp_path: Path, clock: FixedClock, procedure: Procedure, fixed_uuids: None
) -> None:
    with Timeline(tmp_path / "t.db", clock=clock, actor="alice") as timeline:
        incident = play_incident(timeline, clock)
        first = export_of(timeline, incident, procedure)
        second = export_of(timeline, incident, procedure)
    assert first == second
    assert first.encode("utf-8") == GOLDEN.read_bytes()


def test_durations_are_held_against_the_procedure_targets(
    timeline: Timeline, clock: FixedClock, procedure: Procedure
) -> None:
    incident = play_incident(timeline, clock)
    data = json.loads(
        render_json(timeline.events(incident), timeline.incident(incident), procedure)
    )
    rows = {row["key"]: row for row in data["durations"]}
    # Each phase from the one before it: detection from the first breaching sample (30 s
    # before the trigger fired), the decision from the acknowledgement.
    assert rows["detect"]["from"] == "impact began"
    assert rows["detect"]["seconds"] == 30 and rows["detect"]["verdict"] == "met"  # < 5 min
    assert rows["acknowledge"]["seconds"] == 30 and rows["acknowledge"]["verdict"] == "no target"
    assert rows["decide"]["seconds"] == 45 and rows["decide"]["verdict"] == "met"  # < 2 min
    assert rows["start"]["seconds"] == 10
    assert rows["rollback"]["seconds"] == 90 and rows["rollback"]["verdict"] == "met"
    assert rows["verify"]["seconds"] == 0 and rows["verify"]["verdict"] == "no target"
    assert rows["resolve"]["seconds"] == 332
    assert rows["total"]["seconds"] == 537 and rows["total"]["verdict"] == "met"  # < 15 min
    assert rows["total"]["duration"] == "8m 57s"


def test_an_open_incident_says_so_instead_of_using_the_wall_clock(
    timeline: Timeline, clock: FixedClock, procedure: Procedure
) -> None:
    incident = play_incident(timeline, clock, close=False)
    text = export_of(timeline, incident, procedure)
    assert "| Closed | still open |" in text
    assert (
        "| Total (impact → closed) | impact began | - | still open | &lt; 15 min | open |" in text
    )


def test_without_a_procedure_there_is_no_target(timeline: Timeline, clock: FixedClock) -> None:
    incident = play_incident(timeline, clock)
    text = export_of(timeline, incident, None)
    assert (
        "| Detect (impact → first trigger fired) | impact began | 2026-01-15 03:13:00 UTC | 30s | "
        "no target | no target |" in text
    )
    assert "No procedure was available" in text


def test_secrets_never_reach_the_export(
    timeline: Timeline, clock: FixedClock, procedure: Procedure
) -> None:
    incident = play_incident(timeline, clock)
    events = timeline.events(incident)
    # An event as an older cockpit (before a redaction rule existed) might have stored it.
    leaked = Event(
        id=events[-1].id + 1,
        incident=incident,
        ts=events[-1].ts,
        kind="note",
        actor="bob",
        summary=f"curl -H 'Authorization: Bearer {SECRET}' x",
        payload={"api_key": SECRET},
        command=f"deploy --password {SECRET}",
        prev_hash=events[-1].hash,
        hash="f" * 64,
    )
    # ... and a message whose subject carried a token, queued the same way.
    queued = events[-1]._replace(
        id=leaked.id + 1,
        kind="outbox.queued",
        summary="Queued",
        payload={"id": "m9", "message": {"channel": "slack", "subject": f"token={SECRET}"}},
        command=None,
    )
    about = timeline.incident(incident)
    for text in (
        render_markdown([*events, leaked, queued], about, procedure),
        render_json([*events, leaked, queued], about, procedure),
    ):
        assert SECRET not in text
        assert "[redacted]" in text


def test_table_cells_escape_pipes_newlines_and_html() -> None:
    assert cell("a | b\nc <d>") == "a \\| b<br>c &lt;d&gt;"
    assert code("echo `x`") == "`` echo `x` ``"
    assert code("a | b <c>") == "`a \\| b <c>`"


def test_the_json_format_carries_the_same_content(
    timeline: Timeline, clock: FixedClock, procedure: Procedure
) -> None:
    incident = play_incident(timeline, clock)
    data = json.loads(
        render_json(
            timeline.events(incident), timeline.incident(incident), procedure, head=timeline.head()
        )
    )
    assert data["incident"]["status"] == "closed"
    assert data["actions"][0]["command"].startswith("cockpit act vercel rollback")
    assert data["actions"][0]["outcome"] == "succeeded" and data["actions"][0]["verified"]
    assert data["communications"] == [
        {
            "channel": "slack",
            "subject": "Rollback of web",
            "status": "sent",
            "attempts": 1,
            "queued_at": "2026-01-15T03:15:55.000Z",
            "last_at": "2026-01-15T03:15:57.000Z",
        }
    ]
    assert data["decisions"][0]["steps"][0]["overrode_evidence"] is True
    quick = next(item for item in data["checklists"] if item["list"] == "quick")
    assert (quick["done"], quick["skipped"]) == (2, 1)
    assert data["chain"]["head_hash"] == timeline.head()[1]
    assert len(data["timeline"]) == len(timeline.events(incident))


def test_the_cli_writes_a_file(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "t.db"
    with Timeline(db, clock=clock, actor="alice") as timeline:
        incident = play_incident(timeline, clock)
        head = timeline.head()
    out = tmp_path / "pm.md"
    umask = os.umask(0o027)
    try:
        result = CliRunner().invoke(
            cli, ["export", str(incident), "--db", str(db), "--out", str(out)]
        )
    finally:
        os.umask(umask)
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o640  # a file to commit: the usual mode, umask applied
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Incident Report: 2026-01-15 Checkout errors after deploy\n")
    assert head[1] in text and SECRET not in text
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pm.md")] == []
    as_json = CliRunner().invoke(
        cli, ["--db", str(db), "export", str(incident), "--format", "json"]
    )
    assert as_json.exit_code == 0
    assert json.loads(as_json.output)["incident"]["id"] == incident


def test_the_cli_gives_the_same_bytes_whether_its_second_process_works_or_not(
    tmp_path: Path, clock: FixedClock, procedure: Procedure, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing

    import cockpit.commands.export as command

    db = tmp_path / "t.db"
    with Timeline(db, clock=clock, actor="alice") as timeline:
        incident = play_incident(timeline, clock)
        expected = export_of(timeline, incident, procedure, cli=True)  # here, every event
    argv = ["export", str(incident), "--db", str(db)]
    assert CliRunner().invoke(cli, argv).output == expected  # the timeline from a fork

    def broken(path: str, incident_id: int, head_id: int) -> str:
        raise OSError("the worker could not read the database")

    monkeypatch.setattr(command, "_timeline_section", broken)  # the fork inherits it
    assert CliRunner().invoke(cli, argv).output == expected  # redone here
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert CliRunner().invoke(cli, argv).output == expected  # no fork at all


def test_the_cli_fails_clearly_for_an_unknown_incident(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "t.db"
    with Timeline(db, clock=clock, actor="alice") as timeline:
        play_incident(timeline, clock)
    result = CliRunner().invoke(cli, ["export", "99", "--db", str(db)])
    assert result.exit_code == 2
    assert "no incident 99" in result.output
    missing = CliRunner().invoke(cli, ["export", "1", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 2
    assert "no timeline database" in missing.output


def test_cockpit_export_never_imports_textual(tmp_path: Path) -> None:
    with Timeline(tmp_path / "t.db") as timeline:
        timeline.open_incident("probe", "p1", "pulse-messages")
    code_ = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('LOADED' if 'textual' in sys.modules else 'CLEAN'))\n"
        f"sys.argv = ['cockpit', '--db', {str(tmp_path / 't.db')!r}, 'export', '1']\n"
        "from cockpit.cli import main\nmain()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code_], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("CLEAN")
    assert "# Incident Report:" in result.stdout


def test_an_unknown_procedure_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    with Timeline(db, actor="alice") as timeline:
        timeline.open_incident("probe", "p1", "no-such-procedure")
    result = CliRunner().invoke(cli, ["export", "1", "--db", str(db)])
    assert result.exit_code == 0
    assert "warning: procedure 'no-such-procedure' not loaded" in result.output
    assert "No procedure was available, so no checklists." in result.output


def test_reading_only_the_kinds_the_sections_use_gives_the_same_export(
    timeline: Timeline, clock: FixedClock, procedure: Procedure
) -> None:
    """`cockpit export` reads REPORT_KINDS as events and the rest as rows: if a section starts
    reading another kind, this fails until the kind is added."""
    from cockpit.core import checklist_state, outbox, postmortem
    from cockpit.core.export_report import REPORT_KINDS

    every_kind = {*outbox.KINDS, *checklist_state.KINDS, postmortem.WRITTEN}
    assert every_kind <= set(REPORT_KINDS)
    incident = play_incident(timeline, clock)
    about, head = timeline.incident(incident), timeline.head()
    every = timeline.events(incident)
    some = timeline.events(incident, kinds=REPORT_KINDS)
    rows = timeline.rows(incident)
    assert len(some) < len(every) == len(rows)
    for render in (render_markdown, render_json):
        whole = render(every, about, procedure, head=head)
        assert render(some, about, procedure, head=head, rows=rows) == whole
