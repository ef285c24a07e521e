"""The post-mortem screen at 80x24, as a responder uses it: the preview reads as the document
does (no "&lt;"), the close dialog's prompt is whole, and one Esc leaves a section editor."""

from __future__ import annotations

import re
from collections.abc import Callable

from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import TextArea

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.postmortem import sections, written_event
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from cockpit.screens.modals import NoteScreen
from cockpit.session import Session

SIZE = (80, 24)


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    """Pause (in short steps, at most 10 s of them) until `condition` holds."""
    for _ in range(200):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"never: {what}")


def shown_text(widget: Widget) -> str:
    """What the widget paints, its lines joined by spaces (wrapping undone)."""
    width, height = widget.size
    lines = widget.render_lines(Region(0, 0, width, height))
    return re.sub(r"\s+", " ", " ".join(line.text for line in lines)).strip()


def cockpit(timeline: Timeline, clock: FixedClock) -> CockpitApp:
    procedure = load_builtin("pulse-messages")
    incident = timeline.open_incident("Checkout errors", "P1", procedure.name)
    root_cause = next(s for s in sections(procedure) if s.key == "root-cause")
    kind, summary, payload = written_event(root_cause, "The pool was <behind> the queue & stuck.")
    timeline.record(incident.id, kind, summary, payload)
    session = Session(timeline=timeline, incident=incident, procedure=procedure, clock=clock)
    return CockpitApp(session, start_pollers=False)


async def test_the_preview_shows_what_the_document_says_not_its_escapes(
    timeline: Timeline, clock: FixedClock
) -> None:
    app = cockpit(timeline, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await until(pilot, lambda: bool(getattr(app.screen, "preview", "")), "the preview")
        preview = app.screen.query_one("#preview", TextArea).text
        assert (
            "| Detect (impact → first trigger fired) | opened | - | n/a | < 5 min | open |"
            in preview
        )
        assert "The pool was <behind> the queue & stuck." in preview  # as it was typed
        assert "&lt;" not in preview and "&amp;" not in preview
        exported = app.screen.preview  # type: ignore[attr-defined]
        assert "&lt; 5 min" in exported and "&lt;behind&gt;" in exported  # the file: escaped


async def test_the_close_dialogs_prompt_is_whole_at_80_columns(
    timeline: Timeline, clock: FixedClock
) -> None:
    app = cockpit(timeline, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await until(pilot, lambda: type(app.screen).__name__ == "PostmortemScreen", "the screen")
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, NoteScreen), "the close dialog")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, NoteScreen)
        prompt = dialog.query_one("#note-box").children[0]  # above the input
        assert prompt.region.right <= SIZE[0]
        assert shown_text(prompt) == dialog.prompt
        assert dialog.prompt.endswith("(Enter closes the incident, Esc cancels):")


async def test_one_esc_leaves_a_section_editor_keeping_what_was_typed(
    timeline: Timeline, clock: FixedClock
) -> None:
    app = cockpit(timeline, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e")
        await until(pilot, lambda: type(app.screen).__name__ == "PostmortemScreen", "the screen")
        await pilot.press("right", "right")  # Impact, Root Cause
        await pilot.press("tab")
        editor = app.focused
        assert isinstance(editor, TextArea) and editor.id == "text-root-cause"
        await pilot.press("end", *" Fixed in v1.2.5.")
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "DashboardScreen", "one Esc out")
    texts = [e.payload["text"] for e in timeline.events(1) if e.kind == "postmortem.written"]
    assert texts[-1] == "The pool was <behind> the queue & stuck. Fixed in v1.2.5."
