"""One header and one footer on every screen, at 80x24 and at 120x40 (issue 16, finding 4).

The header keeps the incident's id, severity and procedure whole (the title is what gets cut,
with an ellipsis); the footer shows each key whole or not at all, the screen's own keys first,
and always ends with the help key: "? Help" when everything fit, "? more" when some did not.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.binding import Binding
from textual.pilot import Pilot

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from cockpit.session import Session
from widgets.footer import KeyFooter, fitted

SCREENS = {
    "d": "DashboardScreen",
    "p": "ProcedureScreen",
    "t": "TimelineScreen",
    "w": "WizardScreen",
    "r": "RollbackScreen",
    "c": "ChecklistsScreen",
    "m": "DraftsScreen",
    "e": "PostmortemScreen",
    "o": "ProvidersScreen",
}


def app_on(tmp_path: Path) -> CockpitApp:
    clock = FixedClock()
    timeline = Timeline(tmp_path / "t.db", clock=clock, actor="oncall")
    incident = timeline.open_incident(
        "Checkout errors after deploy v1.2.4, seen by every customer in the EU region",
        "P1",
        "pulse-messages",
    )
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=load_builtin("pulse-messages"),
        clock=clock,
        poll_interval=60,
    )
    return CockpitApp(session, start_pollers=False)


def shown(pilot: Pilot[int], selector: str) -> str:
    return str(pilot.app.screen.query_one(selector).render())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_every_screen_has_the_header_and_a_footer_of_whole_keys(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app = app_on(tmp_path)
    async with app.run_test(size=size) as pilot:
        for key, name in SCREENS.items():
            await pilot.press("escape", "d")
            await pilot.press(key)
            for _ in range(100):
                if type(app.screen).__name__ == name and app.screen.query(KeyFooter):
                    break
                await pilot.pause(0.02)
            assert type(app.screen).__name__ == name, f"{key} opened {type(app.screen).__name__}"
            await pilot.pause()
            header = shown(pilot, "#incident-title")
            assert header.startswith("#1 · P1 · pulse-messages · Checkout"), (name, header)
            footer = app.screen.query_one(KeyFooter)
            line = str(footer.render())
            keys = fitted(footer.shown, size[0])
            assert line == "".join(f" {k} {words} " for k, words, _ in keys), "no key is cut"
            assert line.rstrip().endswith(("? Help", "? more", "f1 Help", "f1 more")), (name, line)
            assert len(line.rstrip()) <= size[0], (name, line)
            assert len(keys) >= 3, (name, line)
            own = [
                binding.description
                for binding in type(app.screen).BINDINGS
                if isinstance(binding, Binding)
                and binding.show
                and app.screen.check_action(binding.action.partition("(")[0], ()) is True
            ]
            for words in own:
                assert f" {words} " in line, f"{name}: its own key {words!r} is not shown: {line}"


def test_keys_are_left_out_whole_and_the_help_key_says_more() -> None:
    keys = (("w", "Decide", True), ("r", "Roll back", True), ("?", "help", True))
    assert fitted(keys, 80) == (
        ("w", "Decide", True),
        ("r", "Roll back", True),
        ("?", "Help", True),
    )
    assert fitted(keys, 22) == (("w", "Decide", True), ("?", "more", True))
    assert fitted(keys, 8) == (("?", "more", True),)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_a_cut_line_ends_in_an_ellipsis(tmp_path: Path, size: tuple[int, int]) -> None:
    """A timeline summary wider than the screen, and a trigger's title in a narrow pane: both
    end in "…", and a trigger's counter is never what is cut."""
    app = app_on(tmp_path)
    long = "Rolled back the checkout service after " + "a very long explanation " * 12 + "END"
    async with app.run_test(size=size) as pilot:
        app.record("note", long)
        await pilot.pause(0.2)
        triggers = app.screen.query_one("#triggers")
        rows = [strip.text for strip in triggers.render_lines(triggers.region.reset_offset)]  # type: ignore[attr-defined]
        rules = [row for row in rows if row.split()[:1] == ["WAITING"]]
        assert rules and all("]" in row for row in rules), rules  # the counter is whole
        await pilot.press("t")
        for _ in range(100):
            if type(app.screen).__name__ == "TimelineScreen":
                break
            await pilot.pause(0.02)
        await pilot.pause(0.2)
        table = app.screen.query_one("#events")
        row = table.row_count - 1  # type: ignore[attr-defined]
        lines = [strip.text for strip in table.render_lines(table.region.reset_offset)]  # type: ignore[attr-defined]
        noted = next(line for line in lines if "Rolled back the checkout" in line)
        assert "END" not in noted and noted.rstrip().endswith("…"), noted
        assert len(noted) <= size[0]
        assert row >= 1


def test_the_first_frame_lists_the_trigger_rules_from_the_file() -> None:
    """Before the procedure is validated (after the first paint), the dashboard already lists
    each trigger rule, WAITING, from the file's outline, in the procedure's order."""
    from cockpit.core.outline import builtin_outline

    for name in ("ai-saas", "five-levels", "huntaze", "pitchey", "pulse-messages"):
        titles = tuple(rule.title for rule in load_builtin(name).triggers)
        assert builtin_outline(name).triggers == titles, name


async def test_the_waiting_rows_read_as_the_first_verdicts_will() -> None:
    from textual.app import App, ComposeResult

    from widgets.trigger_list import TriggerList

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield TriggerList(id="triggers")

    app = One()
    async with app.run_test(size=(80, 10)) as pilot:
        app.query_one(TriggerList).waiting(("Error rate > 5%", "[p95] > 3 s"))
        await pilot.pause()
        rows = [str(line) for line in app.query_one(TriggerList).render().split("\n")]  # type: ignore[union-attr]
        assert rows == [
            "WAITING  [no sample yet] Error rate > 5%",
            "WAITING  [no sample yet] [p95] > 3 s",
        ], rows
