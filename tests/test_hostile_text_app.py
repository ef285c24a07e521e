"""Hostile text through every screen of the real app (issue 13): it never dies, shows the text.

Markup-like tags ("[/]", "[@click=app.quit]", ...), control characters (ESC sequences, NUL, CR,
a bidi override) and ordinary words, in a procedure's titles, questions, answers, items and
templates, in the incident's title, in timeline events' summaries, kinds, actors, payloads
and commands, in a platform's error, in a pasted note and a pasted draft. The app is driven
through every screen; on each the App is still running, no control character reaches the
rendered screen, and the text is there, shown literally (control characters as "^[" or
U+FFFD, a line break in a one-line place as "⏎").

One hypothesis example is one app run with every field hostile at once (a run takes seconds,
so fields are batched, not examples); max_examples is kept small for the time budget.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from local_http import Canned
from textual import events
from textual.widgets import DataTable, Input, Static, TextArea

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.drafts import missing
from cockpit.core.procedure import Procedure
from cockpit.core.procedure_loader import parse_procedure
from cockpit.core.timeline import Timeline
from cockpit.session import Session
from widgets.plain import visible

ROOT = Path(__file__).resolve().parent.parent

TOKENS = [
    "[b]",
    "[/]",
    "[/b]",
    "[@click=app.quit]",
    "[link=x]",
    "[",
    "]",
    "\\[",
    "[on red]",
    "\x1b[31m",
    "\x1b[2J",
    "\x1b]0;pwned\x07",
    "\r",
    "\x00",
    "\x9b",
    "\u202e",
    "\n",
    "\t",
    "ok",
    "é",
    " ",
]
CONTROLS = {chr(c) for c in range(0x20) if c != 0x0A} | {"\x7f", "\x9b", "\u202e"}

hostile = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=5).map(
    lambda parts: "Z" + "".join(parts)  # never blank: a title must say something
)
"""A short hostile string: tags, controls and words, starting with a letter."""

EVERY_TOKEN = ["Z" + "".join(TOKENS[i:] + TOKENS[:i]) for i in range(12)]
"""Twelve strings each holding every token (in a different order): the first example."""

TEXT_KEYS = {
    "title",
    "description",
    "note",
    "source_text",
    "summary",
    "organisation",
    "source",
    "question",
    "help",
    "label",
    "explanation",
    "within",
    "best_for",
    "impact",
    "warning",
    "text",
    "section",
    "subject",
    "when",
    "role",
    "reach",
    "steps",
    "commands",
    "tie_breaks",
}
"""The procedure's free-text fields (ids, metric names and references are left alone)."""


REFUSED_IN_PROCEDURES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""What the procedure loader refuses at the door (tests/test_hostile_procedures.py): a
procedure brings markup-like text and bidi controls to the screens, not escape sequences."""


def hostile_procedure(texts: list[str]) -> Procedure:
    """pulse-messages with every free-text field replaced by one of `texts` (in turn)."""
    data = yaml.safe_load((ROOT / "checklists" / "pulse-messages.yaml").read_text())
    count = 0
    texts = [REFUSED_IN_PROCEDURES.sub("", text) for text in texts]

    def next_text() -> str:
        nonlocal count
        count += 1
        return texts[count % len(texts)]

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in TEXT_KEYS and isinstance(value, str):
                    node[key] = next_text()
                elif key in TEXT_KEYS and isinstance(value, list):
                    node[key] = [next_text() if isinstance(v, str) else walk(v) for v in value]
                elif key == "body" and isinstance(value, str):
                    node[key] = next_text() + " {title} {affected} {version}"
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        return node

    return parse_procedure(yaml.safe_dump(walk(data), allow_unicode=True), "hostile.yaml")


def screen_text(app: CockpitApp) -> str:
    """What the terminal would show now, as text (the screen's compositor, line by line)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def squash(text: str) -> str:
    """Without whitespace: padding, wrapping and tab stops differ between places."""
    return "".join(text.split())


def assert_healthy(app: CockpitApp, where: str) -> str:
    """The App is running and nothing raw reaches the terminal; returns the screen's text."""
    assert app.is_running and app.return_code is None, f"the App ended on {where}"
    assert app._exception is None, f"{where}: {app._exception!r}"
    shown = screen_text(app)
    raw = sorted({repr(ch) for ch in shown if ch in CONTROLS})
    assert not raw, f"{where}: raw control characters on screen: {raw}"
    return shown


def assert_shown(shown: str, text: str, where: str, *, one_line: bool = False) -> None:
    """Each line of the text is on the screen, literally (controls made visible); in a
    one-line place, its start at least, cut off with "…" where the place is too narrow."""
    on_screen = squash(shown)
    if one_line:
        line = squash(visible(text, one_line=True))
        cut = any(line[:end] + "…" in on_screen for end in range(len(line) - 1, 3, -1))
        assert line in on_screen or cut, f"{where}: {line!r} is not on the screen"
        return
    for line in filter(None, map(squash, visible(text).split("\n"))):
        assert line in on_screen, f"{where}: {line!r} is not on the screen"


async def until(pilot: Any, condition: Callable[[], bool], seconds: float = 10) -> None:
    """Pause until `condition` holds, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        await pilot.pause(0.05)


def build_app(folder: Path, texts: list[str], platform: Canned) -> CockpitApp:
    """The cockpit on a hostile procedure, incident and timeline, with one Vercel provider
    whose platform answers every call with a hostile error."""
    from providers.vercel import VercelProvider

    clock = FixedClock()
    procedure = hostile_procedure(texts)
    timeline = Timeline(folder / "timeline.db", clock=clock, actor=texts[0])
    incident = timeline.open_incident(texts[1], "P1", procedure.name)
    # A Vercel rollback's intent and result, as the runner records them, all hostile.
    intent = timeline.begin_action(
        incident.id,
        "vercel.rollback",
        texts[2],
        {"text": "[/]", "error": texts[3], texts[4]: ["[b]", texts[5]]},
        command=f"vercel rollback {texts[6]}",
        actor=texts[7],
    )
    timeline.finish_action(
        incident.id, intent.payload["action_id"], "failed", texts[3], {"error": texts[4]}
    )
    timeline.record(incident.id, f"{texts[8]}.kind", "a hostile kind", {})
    vercel = VercelProvider(
        VercelProvider.Options.model_validate({"base_url": platform.url, "token": "t0ken"})
    )
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=procedure,
        clock=clock,
        actions={"vercel": vercel},
    )
    return CockpitApp(session, start_pollers=False)


async def visit_every_screen(app: CockpitApp, texts: list[str]) -> None:
    """d, n, t, p and its tabs, w, r, c, m, e, o, ?: each checked as it is shown."""
    procedure = app.session.procedure
    assert procedure is not None
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.3)
        shown = assert_healthy(app, "dashboard")
        assert_shown(shown, app.session.incident.title, "dashboard title", one_line=True)

        # A note: typed tags, and a paste with control characters.
        await pilot.press("n")
        await pilot.press(*"[b]x[/]")
        app.screen.query_one(Input).post_message(events.Paste(texts[9]))
        await pilot.pause()
        assert_healthy(app, "note modal")
        await pilot.press("enter")
        await pilot.pause(0.3)
        note = next(e for e in reversed(app.events) if e.kind == "note")
        assert note.summary.startswith("[b]x[/]")
        assert_shown(assert_healthy(app, "dashboard tail"), note.summary, "tail", one_line=True)

        await pilot.press("t")
        await pilot.pause()
        table: DataTable[Any] = app.screen.query_one(DataTable)
        for index, event in enumerate(app.events):
            row = table.get_row_at(index)
            assert str(row[2]) == visible(event.kind, one_line=True)
            assert str(row[3]) == visible(event.actor, one_line=True)
            assert str(row[4]) == visible(event.summary, one_line=True)
        hostile_event = next(e for e in app.events if e.kind == "action.intent")
        table.move_cursor(row=app.events.index(hostile_event))
        await pilot.pause()
        shown = assert_healthy(app, "timeline")
        assert_shown(shown, hostile_event.summary, "timeline detail", one_line=True)
        assert_shown(shown, f"$ {hostile_event.command}", "timeline command", one_line=True)
        # The payload's line may be cut off by the detail's few rows: read the widget for it.
        payload = json.dumps(hostile_event.payload, sort_keys=True, ensure_ascii=False)[:400]
        detail = str(app.screen.query_one("#event-detail", Static).render())
        assert visible(payload, one_line=True) in detail

        await pilot.press("p")
        for tab in range(5):
            await pilot.pause()
            assert_healthy(app, f"procedure tab {tab}")
            await pilot.press("right")

        await pilot.press("w")
        await pilot.pause()
        shown = assert_healthy(app, "wizard")
        question = procedure.tree.nodes[procedure.tree.start]
        assert_shown(shown, question.question, "wizard question")  # type: ignore[union-attr]
        for answer in question.answers:  # type: ignore[union-attr]
            assert_shown(shown, answer.label, "wizard answer")
        await pilot.press("escape")

        await pilot.press("r")
        await pilot.pause()
        shown = assert_healthy(app, "rollback")
        for option in procedure.options[:3]:
            assert_shown(shown, f"L{option.level} {option.title}", "option", one_line=True)
        await pilot.press("escape")

        await pilot.press("c")
        await pilot.pause()
        shown = assert_healthy(app, "checklists")
        first = next(iter(procedure.checklists.values()))
        for item in first.items[:3]:
            assert_shown(shown, item.text, "checklist item")
        await pilot.press("escape")

        await pilot.press("m")
        await pilot.pause()
        shown = assert_healthy(app, "drafts")
        key = next(iter(procedure.templates))
        template = procedure.templates[key]
        status = str(app.screen.query_one("#draft-status", Static).render())
        facts = app.screen.facts()  # type: ignore[attr-defined]
        gaps = missing(template, facts)
        assert gaps and all(f"[{gap}]" in status for gap in gaps), status
        assert_shown(shown, template.title, "draft list", one_line=True)
        body = app.screen.query_one("#draft-body", TextArea)
        body.focus()
        body.move_cursor(body.document.end)
        body.post_message(events.Paste(texts[10]))
        await pilot.pause()
        assert body.text.endswith(visible(texts[10]))
        assert_healthy(app, "drafts, pasted")
        await pilot.press("ctrl+s", "escape")
        await pilot.pause()

        await pilot.press("e")
        await until(pilot, lambda: "Rendering" not in app.screen.query_one("#preview").text)  # type: ignore[attr-defined]
        assert_healthy(app, "post-mortem")
        await pilot.press("escape")

        await pilot.press("o")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: "checking" not in str(table.get_row_at(0)[3]))
        shown = assert_healthy(app, "providers")
        # A long error runs past the screen's edge (the table scrolls sideways): the cell
        # holds all of it, the screen its start.
        error = visible(texts[11], one_line=True)
        assert error in str(table.get_row_at(0)[3])
        assert squash(error)[:12] in squash(shown)
        await pilot.press("escape")

        await pilot.press("question_mark")
        await pilot.pause()
        assert_healthy(app, "help")
        await pilot.press("escape")
        await pilot.pause()
        assert_healthy(app, "back on the dashboard")


@settings(
    max_examples=3,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example is an app run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(texts=st.lists(hostile, min_size=12, max_size=12))
@example(texts=EVERY_TOKEN)
def test_hostile_text_through_every_screen(texts: list[str]) -> None:
    platform = Canned(kind="application/json")
    platform.status = 403
    platform.body = json.dumps({"error": {"message": texts[11]}}).encode()
    try:
        with tempfile.TemporaryDirectory() as folder:
            app = build_app(Path(folder), texts, platform)
            try:
                asyncio.run(visit_every_screen(app, texts))
            finally:
                app.session.actions["vercel"].close()
                app.session.timeline.close()
    finally:
        platform.stop()


# --- the simple cases, by hand ----------------------------------------------------------------


def simple_app(timeline: Timeline, clock: FixedClock, procedure: Procedure) -> CockpitApp:
    incident = timeline.open_incident("Checkout errors", "P1", procedure.name)
    session = Session(timeline=timeline, incident=incident, procedure=procedure, clock=clock)
    return CockpitApp(session, start_pollers=False)


async def test_a_payload_of_markup_renders_in_the_timeline(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    """The issue's crash: a payload {"text": "[/]"} on the timeline screen."""
    app = simple_app(timeline, clock, pulse_procedure)
    timeline.record(app.session.incident.id, "note", "from the platform", {"text": "[/]"})
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        table: DataTable[Any] = app.screen.query_one(DataTable)
        row = next(i for i, e in enumerate(app.events) if e.summary == "from the platform")
        table.move_cursor(row=row)
        await pilot.pause()
        assert '{"text": "[/]"}' in assert_healthy(app, "timeline")


async def test_a_procedure_title_of_markup_shows_literally(
    timeline: Timeline, clock: FixedClock
) -> None:
    text = (ROOT / "checklists" / "pulse-messages.yaml").read_text()
    title = yaml.safe_load(text)["title"]
    procedure = parse_procedure(text.replace(title, '"[b]unbalanced"', 1), "unbalanced.yaml")
    assert procedure.title == "[b]unbalanced"
    app = simple_app(timeline, clock, procedure)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("p")
        await pilot.pause()
        assert "[b]unbalanced" in assert_healthy(app, "procedure")


async def test_the_drafts_status_line_keeps_its_gap_names(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    app = simple_app(timeline, clock, pulse_procedure)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m")
        template = next(iter(pulse_procedure.templates.values()))
        gaps = missing(template, app.screen.facts())  # type: ignore[attr-defined]
        status = str(app.screen.query_one("#draft-status", Static).render())
        assert gaps, "the first template has a gap to fill in before anything is recorded"
        assert "to fill in: " + ", ".join(f"[{gap}]" for gap in gaps) in status


async def test_a_notification_shows_its_control_characters(
    timeline: Timeline, clock: FixedClock, pulse_procedure: Procedure
) -> None:
    """An unfinished action's hostile summary is told in a toast, visibly (the tests above run
    without toasts: Pilot's default, and they would cover the text being checked)."""
    first = simple_app(timeline, clock, pulse_procedure)
    incident = first.session.incident.id
    timeline.begin_action(incident, "vercel.rollback", "roll\x1b[2Jback [/]", {}, command="vercel")
    # The cockpit opened again on the incident: it finds the action's outcome unknown.
    session = Session(
        timeline=timeline,
        incident=timeline.incident(incident),
        procedure=pulse_procedure,
        clock=clock,
    )
    app = CockpitApp(session, start_pollers=False)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await pilot.pause(0.5)
        shown = assert_healthy(app, "dashboard with a toast")
        assert "Outcome unknown: roll^[[2Jback [/]" in shown
