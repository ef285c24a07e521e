"""A rollback option's recovery time says each duration once: the runbooks' words often hold it
twice ("Medium - 2-3 minutes (~2-3 minutes)"), and the procedure's Markdown added the range a
third time."""

from __future__ import annotations

import re

import pytest
from textual.widgets import OptionList

from cockpit.app import CockpitApp
from cockpit.core.clock import FixedClock
from cockpit.core.drafts import incident_facts
from cockpit.core.procedure import RecoveryTime
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.procedure_text import render_markdown
from cockpit.core.recovery_text import recovery_summary, recovery_words
from cockpit.core.timeline import Timeline
from cockpit.session import Session

BUILTINS = ("pulse-messages", "ai-saas", "five-levels", "huntaze", "pitchey")
DURATION = re.compile(r"\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?\s*(?:minutes?|min|seconds?|hours?)")


def durations(text: str) -> list[str]:
    return [found.replace(" ", "") for found in DURATION.findall(text)]


def recovery(text: str, low: float = 2, high: float = 3) -> RecoveryTime:
    return RecoveryTime(min_minutes=low, max_minutes=high, text=text)


@pytest.mark.parametrize("name", BUILTINS)
def test_no_builtin_option_says_its_recovery_time_twice(name: str) -> None:
    for option in load_builtin(name).options:
        for shown in (recovery_words(option.recovery_time), recovery_summary(option.recovery_time)):
            found = durations(shown)
            assert len(found) == len(set(found)), f"{option.id}: {shown!r}"


def test_a_bracket_repeating_the_rest_is_left_out_and_one_that_adds_is_kept() -> None:
    assert recovery_words(recovery("Medium - 2-3 minutes (~2-3 minutes)")) == (
        "Medium - 2-3 minutes"
    )
    assert recovery_words(recovery("Estimated Time: 2-3 minutes (Rollback Time: ~2-3 min)")) == (
        "Estimated Time: 2-3 minutes"
    )
    kept = "Expected Time: 3-5 minutes (without database rollback); 10-15 minutes (with it)"
    assert recovery_words(recovery(kept, 3, 5)) == kept
    assert recovery_summary(recovery("~30 seconds", 0.5, 0.5)) == "0.5 min (~30 seconds)"
    assert recovery_summary(recovery("Fast", 1, 2)) == "1-2 min (Fast)"


def test_the_procedures_markdown_gives_the_range_once() -> None:
    text = render_markdown(load_builtin("pulse-messages"))
    lines = [line for line in text.splitlines() if line.startswith("- Recovery time:")]
    assert "- Recovery time: Medium - 2-3 minutes" in lines
    assert not any("~2-3" in line or "2-3 min (" in line for line in lines)


def test_the_drafts_eta_says_it_once(timeline: Timeline, clock: FixedClock) -> None:
    procedure = load_builtin("pulse-messages")
    incident = timeline.open_incident("Checkout errors", "P1", procedure.name)
    decided = ("wizard.decided", "Decided", {"options": ["vercel-instant"]}, "")
    facts = incident_facts(procedure, incident, [decided], clock.now())
    assert facts["eta"] == "Medium - 2-3 minutes"


async def test_the_rollback_list_says_it_once(timeline: Timeline, clock: FixedClock) -> None:
    procedure = load_builtin("pulse-messages")
    incident = timeline.open_incident("Checkout errors", "P1", procedure.name)
    session = Session(timeline=timeline, incident=incident, procedure=procedure, clock=clock)
    app = CockpitApp(session, start_pollers=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        lines = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        vercel = next(line for line in lines if "Vercel Instant Rollback" in line)
        assert "Medium - 2-3 minutes · risk low" in vercel
        assert "~2-3" not in vercel
