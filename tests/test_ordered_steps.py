"""Steps a runbook orders around a rollback, in a drill of a procedure file (issue 15, item 3).

The decided outcome's `before:` steps (ai-saas's Critical: notify stakeholders, then capture
evidence) come before the option is even planned: each is done or skipped with a reason, in
order, or settled by its checklist items; settling one ticks its items. An option's `after:`
steps (five-levels Level 4: restart the application) are asked once its action succeeded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_drill_file import OURS, drill_of, until

from cockpit.core.errors import ProcedureFileError
from cockpit.core.procedure_loader import load_builtin, load_procedure_file

pytestmark = pytest.mark.timeout(90)

ORDERED = OURS.replace(
    "      options: [revert]\n",
    "      options: [revert]\n"
    "      before:\n"
    "        - {text: Notify stakeholders, items: [quick.notify]}\n"
    "        - {text: Capture evidence, items: [quick.evidence]}\n",
).replace(
    "      - {id: confirm, text: Confirm rollback is necessary}\n",
    "      - {id: confirm, text: Confirm rollback is necessary}\n"
    "      - {id: notify, text: Stakeholders notified}\n"
    "      - {id: evidence, text: Evidence captured}\n",
)


def typed(words: str) -> list[str]:
    return ["space" if c == " " else c for c in words]


async def test_the_decisions_steps_come_before_the_rollback_in_order(tmp_path: Path) -> None:
    app, clock = drill_of(tmp_path, ORDERED, deploy_at=600.0)

    def events(kind: str) -> list[dict[str, object]]:
        return [e.payload for e in app.state.events if e.kind == kind]

    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, clock, lambda: "git" in app.session.actions, "the drill's git")
        app.record(
            "checklist.ticked", "Ticked: Stakeholders notified", {"list": "quick", "item": "notify"}
        )
        await until(pilot, clock, lambda: events("checklist.ticked"), "the tick read back")
        await pilot.press("w", "y")
        await until(pilot, clock, lambda: app.screen.wizard.question is None, "the outcome")  # type: ignore[attr-defined]
        await pilot.press("r")
        screen = app.screen
        await until(pilot, clock, lambda: type(screen).__name__ == "ActionScreen", "the action")
        ordered = screen.ordered  # type: ignore[attr-defined]
        assert ordered is not None, "the steps come before the option is planned"
        assert ordered.steps.next_open == 1, "step 1 is settled by its ticked checklist item"
        shown = str(screen.query_one("#action-plan").render())
        assert "Notify stakeholders: done" in shown and "▶ 2. Capture evidence" in shown
        await pilot.press("a", "b", "c", "enter")  # neither done nor `skip <why>`: refused
        await pilot.pause(0.1)
        assert not events("plan.step") and screen.asking is None  # type: ignore[attr-defined]
        await pilot.press(*typed("skip logs already in Loki"), "enter")
        await until(pilot, clock, lambda: screen.asking == "commit", "then the option's plan")  # type: ignore[attr-defined]
        await until(pilot, clock, lambda: events("checklist.skipped"), "the item read back")
        app.stop_sources()
    (step,) = events("plan.step")
    assert step["outcome"] == "roll" and step["status"] == "skipped" and step["step"] == 1
    assert step["reason"] == "logs already in Loki"
    assert events("checklist.skipped") == [
        {"list": "quick", "item": "evidence", "reason": "logs already in Loki"}
    ], "the step's checklist item says the same, with the same reason"
    assert app.state.checklists.state("quick", "evidence").status == "skipped"  # type: ignore[union-attr]


async def test_steps_after_the_action_are_asked_once_it_succeeded(tmp_path: Path) -> None:
    text = OURS.replace(
        "    best_for: Code-level issues\n",
        "    best_for: Code-level issues\n"
        "    after: [Restart the queue workers, Verify the backlog drains]\n",
    )
    app, clock = drill_of(tmp_path, text, deploy_at=600.0)

    def steps() -> list[dict[str, object]]:
        return [e.payload for e in app.state.events if e.kind == "plan.step"]

    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, clock, lambda: "git" in app.session.actions, "the drill's git")
        await pilot.press("r", "enter")
        screen = app.screen
        await until(pilot, clock, lambda: screen.query("#action-choices"), "the commits")
        await pilot.press("enter")
        await until(pilot, clock, lambda: screen.plan is not None, "the plan")  # type: ignore[attr-defined]
        assert not screen.after_open, "nothing is asked after an action before it ran"  # type: ignore[attr-defined]
        await pilot.press(*screen.plan.target, "enter")  # type: ignore[attr-defined]
        await until(pilot, clock, lambda: screen.result is not None, "the result")  # type: ignore[attr-defined]
        assert screen.result.outcome == "succeeded"  # type: ignore[attr-defined]
        await until(pilot, clock, lambda: screen.after_open, "the steps after it")  # type: ignore[attr-defined]
        confirm = screen.query_one("#action-confirm")
        assert "step 1/2: Restart the queue workers" in str(confirm.placeholder)  # type: ignore[attr-defined]
        assert screen.taking_text, "letters typed here are text, not the App's keys"
        await pilot.press("enter")
        await pilot.press(*typed("skip the backlog was empty"), "enter")
        await until(pilot, clock, lambda: len(steps()) == 2, "both recorded")
        assert not screen.after_open  # type: ignore[attr-defined]
        app.stop_sources()
    assert [(s["step"], s["status"], s["after"]) for s in steps()] == [
        (0, "done", "git.revert"),
        (1, "skipped", "git.revert"),
    ]
    order = [e.kind for e in app.state.events if e.kind in ("plan.step", "action.result")]
    assert order == ["action.result", "plan.step", "plan.step"], "after the action, not before"


def test_a_step_naming_a_checklist_item_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "queue-team.yaml"
    path.write_text(ORDERED.replace("items: [quick.evidence]", "items: [quick.evidense]"))
    with pytest.raises(ProcedureFileError) as raised:
        load_procedure_file(path)
    message = str(raised.value)
    assert "no checklist item 'quick.evidense'" in message and "before" in message


def test_the_runbooks_orders_are_in_the_builtins() -> None:
    """ai-saas's Critical: notify, then capture evidence, before any rollback; five-levels
    Level 4: stop the app before, restart it and verify the data after."""
    critical = load_builtin("ai-saas").tree.nodes["rollback-immediately"]
    assert [step.text.split(":")[0] for step in critical.before] == [  # type: ignore[union-attr]
        "Notify stakeholders",
        "Capture evidence",
    ]
    level4 = load_builtin("five-levels").option("database")
    assert level4.before and level4.before[0].startswith("Stop application")
    assert [step.split(" (")[0] for step in level4.after] == [
        "Restore from backup if needed",
        "Restart application",
        "Verify data integrity",
    ]
