"""Where the action screen is in the README's five steps, said in one line and in the field.

Preflight (reads only), Plan, Confirm, Execute (and verify), Record: a line at the top marks each
step done (✓), failed (✗), the one now (▶, or what it is doing: "Preflight: checking…") and
those to come. The field under the plan says what Enter does now, or, once the result is in,
what is next (u undo, Esc back). Both are computed from the screen's state, in one place, each
time the screen moves on, so no "checking…", "loading…" or "running…" outlives its state.

The result line sits under the steps, at the top, where toasts never land (they stack from the
bottom right); and the screen does not toast a result it shows: the App's toast is for a
responder who left the screen while the action ran. A mixin of ActionScreen, which owns the
fields it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.widgets import Input, Static

from widgets.plain import assemble, plain, visible

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual.app import App
    from textual.content import Content

    from cockpit import action_runner
    from cockpit.core.actions import Plan, Report
    from cockpit.core.manual import Steps
    from cockpit.core.ordered import Ordered
    from cockpit.screens.action_parts import PlanScroll

STEPS = ("Preflight", "Plan", "Confirm", "Execute", "Record")
"""The README's five steps of every rollback action ("Execute and verify" is one)."""

DONE, FAILED, NOW, TO_COME = "✓", "✗", "▶", ""


@dataclass(frozen=True)
class Where:
    """Each step's mark (DONE, FAILED, NOW or TO_COME), what the step now is doing, and the
    runbook's steps that come before the five or after them, while they are asked."""

    marks: tuple[str, str, str, str, str]
    doing: str = ""
    first: str = ""
    then: str = ""


def stage_line(where: Where) -> Content:
    """'Preflight ✓ · Plan ✓ · Confirm ▶ · Execute · Record', the step now standing out."""
    now = "bold reverse"
    parts: list[tuple[str, str]] = []
    if where.first:
        parts.append((f"{where.first} {NOW}", now))
    for name, mark in zip(STEPS, where.marks, strict=True):
        if mark == NOW:
            parts.append((f"{name}: {where.doing}" if where.doing else f"{name} {NOW}", now))
        elif mark == TO_COME:
            parts.append((name, "dim"))
        else:
            parts.append((f"{name} {mark}", "bold" if mark == FAILED else ""))
    if where.then:
        parts.append((f"{where.then} {NOW}", now))
    joined: list[tuple[str, str]] = []
    for part in parts:
        if joined:
            joined.append((" · ", "dim"))
        joined.append(part)
    return assemble(*joined, one_line=True)


class ActionStage:
    """Shows where the action is (see the module's docstring)."""

    ordered: Ordered | None
    asking: str | None
    offered: dict[str, list[tuple[str, str]]]
    plan: Plan | None
    before: Steps
    report: Report | None
    result: action_runner.Result | None
    stopped: bool
    after: Steps | None
    app: Any
    query_one: Any
    check_action: Any
    prompt: Callable[[Plan], None]
    """RunbookSteps' (declared only: a stub here could shadow the real one in the MRO)."""

    if TYPE_CHECKING:

        @property
        def after_open(self) -> bool:
            """RunbookSteps': whether a step after the provider's action is still open."""

    recorded = True
    """Whether the result is in the timeline (not when the target was busy: nothing ran)."""

    def where(self) -> Where:
        """The five steps' marks, from the screen's state."""
        if self.ordered is not None:
            return Where((TO_COME,) * 5, first="The outcome's steps")
        if self.stopped:
            return Where((FAILED, TO_COME, TO_COME, TO_COME, TO_COME))
        if self.result is not None:
            ran = DONE if self.result.outcome == "succeeded" else FAILED
            then = "Steps after" if self.after_open else ""
            return Where((DONE, DONE, DONE, ran, DONE if self.recorded else FAILED), then=then)
        if self.report is not None:
            doing = "cancelling…" if self.report.cancel_event.is_set() else "running…"
            return Where((DONE, DONE, DONE, NOW, TO_COME), doing)
        if self.plan is not None:
            index = self.before.next_open
            if index is not None:
                first = f"runbook step {index + 1}/{len(self.before.texts)} first"
                return Where((DONE, NOW, TO_COME, TO_COME, TO_COME), first)
            return Where((DONE, DONE, NOW, TO_COME, TO_COME))
        doing = f"needs {self.asking}" if self.asking is not None else "checking…"
        return Where((NOW, TO_COME, TO_COME, TO_COME, TO_COME), doing)

    def show_where(self) -> None:
        """The steps line, the field and the keys, for the state the screen is in now."""
        self.query_one("#action-stage", Static).update(stage_line(self.where()))
        self.show_field()
        self.show_keys()

    def show_field(self) -> None:
        """What the field says and takes now; the runbook's steps before and after the action
        set it themselves (RunbookSteps) while one is open."""
        if self.ordered is not None or self.after_open:
            return
        field = self.query_one("#action-confirm", Input)
        if self.result is not None:
            field.disabled = True
            head = {"succeeded": "done", "cancelled": "cancelled"}.get(self.result.outcome)
            head = "every step after it settled" if self.after is not None else head or "failed"
            field.placeholder = f"{head} · {self.whats_next()}"
        elif self.stopped:
            field.disabled = True
            field.placeholder = ""
        elif self.report is not None:
            # Not disabled while it runs: the field had the focus (see ActionScreen.confirmed).
            field.placeholder = (
                "cancelling at the next safe point…"
                if self.report.cancel_event.is_set()
                else "running… (x cancels at the next safe point)"
            )
        elif self.plan is not None:
            self.prompt(self.plan)
        elif self.asking is not None:
            field.disabled = False
            found = self.offered.get(self.asking)
            how = (
                ", or wait for the candidates above"
                if found is None
                else ", or ↑/↓ to choose one above"
                if found
                else ""
            )
            field.placeholder = visible(f"type the {self.asking}{how}, then Enter", one_line=True)
        else:  # the preflight reads: nothing to type until it answers
            field.disabled = True
            field.placeholder = ""

    def whats_next(self) -> str:
        """Once the result is in: the keys that do something now."""
        undo = "u: undo it (a new plan, confirmed like any other) · "
        return f"{undo if self.check_action('undo', ()) else ''}Esc: back"

    def show_keys(self) -> None:
        """The keys that do something now, in one line.

        A line of text rather than a Footer: a Footer rebuilds its key widgets on each state
        change, and that was most of the time between Enter and the result (make bench).
        """
        keys = ["Esc back", "? help"]
        if self.check_action("dry_run", ()):
            keys.insert(0, "^r dry run")
        if self.check_action("cancel", ()):
            keys.insert(0, "x cancel")
        if self.check_action("undo", ()):
            keys.insert(0, "u undo")
        self.query_one("#action-keys", Static).update(plain(" · ".join(keys)))

    def action_plan_page(self, pages: int) -> None:
        """PgDn/PgUp: scroll the plan, whichever field has the focus."""
        body: PlanScroll = self.query_one("#action-body")
        body.page(pages)

    def tell_result(self, app: App[object], result: action_runner.Result) -> None:
        """Toast the result to a responder who left this screen (or opened another over it);
        on it, the result line says it already, and a toast would cover the screen."""
        this: object = self  # the screen this mixin is part of
        if app.screen is this:
            return
        app.notify(
            result.summary,
            title=f"Action {result.outcome}",
            severity="information" if result.outcome == "succeeded" else "error",
        )
