"""The runbook's steps around one rollback on the action screen, in the runbook's order.

Three kinds, each done (Enter) or skipped with a typed reason (`skip <why>`), never passed over:
the decided outcome's steps before any rollback (ai-saas's Critical: notify stakeholders, then
capture evidence; cockpit.core.ordered), asked before the option is even planned; the option's
`before:` steps (stop the app), asked once the plan shows and before it can be confirmed; and
its `after:` steps (restart the app), asked once the action succeeded. Each is recorded as a
`plan.step` event. A mixin of ActionScreen, which owns the fields it reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import Input, Log, Static

from cockpit.core.manual import BEFORE, StepMark, StepOpen, Steps, StepStatus, before_answer
from cockpit.core.ordered import Ordered, settle
from widgets.plain import plain_text, visible

if TYPE_CHECKING:
    from collections.abc import Callable

    from cockpit.core.actions import Plan
    from cockpit.incident_app import IncidentApp


class RunbookSteps:
    """Asks and records the runbook's steps around the action (see the module's docstring)."""

    before: Steps
    ordered: Ordered | None
    after: Steps | None
    option: str | None
    cockpit: IncidentApp
    query_one: Any
    notify: Any
    show_where: Callable[[], None]
    """ActionStage's: the steps line, the field and the keys, as the state is now."""

    def begin(self) -> None:
        """Plan the option (the screen's own), once nothing comes first."""
        raise NotImplementedError

    def log_line(self, line: str) -> None:
        """A line of the screen's live log."""
        raise NotImplementedError

    def prompt(self, plan: Plan) -> None:
        """What Enter does now: settle the next step before the action, or run it."""
        confirm = self.query_one("#action-confirm", Input)
        index = self.before.next_open
        if index is not None:
            confirm.placeholder = visible(
                f"first, step {index + 1}/{len(self.before.texts)}: "
                f"{self.before.texts[index]}: Enter once done, or skip and why",
                one_line=True,
            )
            return
        code = f" (or its code {plan.short_code})" if plan.short_code else ""
        confirm.placeholder = visible(
            f"type {plan.target}{code} and press Enter to run"
            if plan.destructive
            else "press Enter to run (not destructive)",
            one_line=True,
        )

    def answer_step(
        self, steps: Steps, typed: str, order: str, title: str
    ) -> tuple[int, StepStatus, str] | None:
        """What Enter says of the first open step: done, or skipped with why; anything else is
        refused with a message naming the step (None)."""
        try:
            return before_answer(steps, typed)
        except StepOpen as error:
            self.notify(
                f"Step {error.index + 1} {order}: {steps.texts[error.index]}. "
                "Enter once it is done, or type skip and why.",
                title=title,
                severity="error",
            )
            return None

    def settle_before(self, plan: Plan, typed: str) -> None:
        """Enter while a step before the action is open: done, skipped with why, or refused."""
        answer = self.answer_step(self.before, typed, "comes first", "Not run yet")
        if answer is None:
            return
        index, status, reason = answer
        summary, payload = self.before.event(index, status, reason)
        payload |= {"option": self.option, "before": f"{plan.provider}.{plan.action}"}
        self.cockpit.record(BEFORE, f"Before {plan.title}: {summary}", payload)
        self.before.mark(StepMark(index, status, reason=reason))
        self.log_line(summary)
        self.show_where()

    def show_ordered(self) -> None:
        """The decided outcome's steps before any rollback, and the one to settle now."""
        ordered = self.ordered
        assert ordered is not None
        self.query_one("#action-plan", Static).update(render_ordered(ordered, self.option))
        confirm = self.query_one("#action-confirm", Input)
        confirm.disabled = False
        index = ordered.steps.next_open
        if index is not None:
            confirm.placeholder = visible(
                f"first, step {index + 1}/{len(ordered.steps.texts)}: "
                f"{ordered.steps.texts[index]}: Enter once done, or skip and why",
                one_line=True,
            )
        confirm.focus()

    def settle_ordered(self, typed: str) -> None:
        """Enter while one of the outcome's steps is open: done, skipped with why, or refused;
        once none is open, the option is planned."""
        ordered = self.ordered
        assert ordered is not None
        steps = ordered.steps
        answer = self.answer_step(steps, typed, "comes first", "Not run yet")
        if answer is None:
            return
        index, status, reason = answer
        state = self.cockpit.state
        records = settle(ordered, state.checklists, index, status, reason)
        for kind, summary, payload in records:
            self.cockpit.record(kind, summary, payload)
        steps.mark(StepMark(index, status, reason=reason))
        self.log_line(records[0][1])
        if ordered.open:
            self.show_ordered()
            return
        self.ordered = None
        confirm = self.query_one("#action-confirm", Input)
        confirm.disabled = True
        confirm.placeholder = ""
        self.begin()

    @property
    def after_open(self) -> bool:
        """Whether a step after the provider's action is still to be done or skipped."""
        return self.after is not None and self.after.next_open is not None

    def prompt_after(self) -> None:
        """Ask for the next step after the action, or say none is left."""
        after = self.after
        assert after is not None
        confirm = self.query_one("#action-confirm", Input)
        index = after.next_open
        if index is None:  # the field says what is next, the steps line that all are done
            self.query_one("#action-log", Log).focus()
            self.show_where()
            return
        confirm.disabled = False
        confirm.placeholder = visible(
            f"then, step {index + 1}/{len(after.texts)}: {after.texts[index]}: "
            "Enter once done, or skip and why",
            one_line=True,
        )
        confirm.focus()

    def settle_after(self, plan: Plan, typed: str) -> None:
        """Enter while a step after the action is open: done, skipped with why, or refused."""
        after = self.after
        assert after is not None
        answer = self.answer_step(after, typed, "is next", "Step still open")
        if answer is None:
            return
        index, status, reason = answer
        summary, payload = after.event(index, status, reason)
        payload |= {"option": self.option, "after": f"{plan.provider}.{plan.action}"}
        self.cockpit.record(BEFORE, f"After {plan.title}: {summary}", payload)
        after.mark(StepMark(index, status, reason=reason))
        self.log_line(summary)
        self.prompt_after()


def render_ordered(ordered: Ordered, option: str | None) -> Text:
    """The steps the decided outcome puts before any rollback, each settled or open, in the
    runbook's order (a procedure's words: shown plainly)."""
    text = Text()

    def add(line: object, style: str = "") -> None:
        text.append_text(plain_text(line, style))

    add(f"Before any rollback, {ordered.outcome} orders these steps, in this order:\n", "bold")
    steps = ordered.steps
    current = steps.next_open
    for index, words in enumerate(steps.texts):
        mark = steps.marks.get(index)
        items = ", ".join(f"{kind}.{item}" for kind, item in ordered.items[index])
        where = f" (checklist: {items})" if items else ""
        if mark is None:
            pointer = "▶" if index == current else " "
            add(f"  {pointer} {index + 1}. {words}{where}\n", "bold" if index == current else "")
            continue
        how = "done" if mark.status == "done" else f"skipped (why: {mark.reason})"
        who = f" by {mark.actor}" if mark.actor else ""
        add(f"  ✓ {index + 1}. {words}: {how}{who}\n")
    add(f"\nThen the rollback: {option or 'the chosen option'}.\n")
    return text
