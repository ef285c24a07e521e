"""What the action screen is made of apart from the screen: the recorder it hands the runner,
the messages its workers post, the plan as the responder reads it, and the plan's scroll area,
which says when more of the plan is below the fold (at 80x24 a Kubernetes plan's "By hand",
"Verify" and "Undo" lines are)."""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from cockpit import action_runner
from cockpit.core.actions import ActionCancelled, Plan, Report
from widgets.plain import plain, plain_text

if TYPE_CHECKING:
    from textual import events
    from textual.app import ComposeResult

    from cockpit.core.timeline import Event
    from cockpit.incident_app import IncidentApp


class AppRecorder:
    """The runner's Recorder, from a worker thread: each write goes to the App's writer, in
    order, and the worker waits until it is committed (never the screen: that is the point)."""

    def __init__(
        self,
        app: IncidentApp,
        option: str | None,
        checklist: tuple[str, str] | None = None,
        report: Report | None = None,
        actor: str | None = None,
    ) -> None:
        self.app = app
        self.actor = actor
        """Who the steps are recorded as, when not the responder (the cockpit by itself)."""
        self.option = option
        self.checklist = checklist
        self.report = report
        """The running action's: while its intent waits for the timeline, x still cancels."""

    def _with_option(self, payload: dict[str, Any]) -> dict[str, Any]:
        if self.option:
            payload = {**payload, "option": self.option}
        if self.checklist:
            payload = {**payload, "checklist": list(self.checklist)}
        return payload

    def begin(self, action: str, summary: str, payload: dict[str, Any], command: str) -> str:
        future = self.app.begin_action_later(
            action, summary, self._with_option(payload), command, self.actor
        )
        event = self._committed(future, cancellable=True)
        return str(event.payload["action_id"])

    def finish(self, action_id: str, outcome: str, summary: str, payload: dict[str, Any]) -> None:
        future = self.app.finish_action_later(
            action_id, outcome, summary, self._with_option(payload), self.actor
        )
        self._committed(future, cancellable=False)

    def note(self, kind: str, summary: str, payload: dict[str, Any]) -> None:
        self.app.record(kind, summary, payload, actor=self.actor)

    def _committed(self, future: Future[Event], *, cancellable: bool) -> Event:
        """Wait for a write; an intent still waiting for the lock can be cancelled, and then
        nothing was recorded and nothing runs."""
        said = False
        while True:
            try:
                return future.result(timeout=WAIT_STEP)
            except FutureTimeout:
                pass
            report = self.report
            if report is None:
                continue
            if not said:
                said = True
                report.log("waiting for the timeline to record this (another process holds it)…")
            if cancellable and report.cancel_event.is_set() and future.cancel():
                raise ActionCancelled("cancelled before anything was recorded or changed")


WAIT_STEP = 0.5
"""How often a worker waiting for the timeline looks at the cancel key."""


class Planned(Message):
    """Preflight finished: the plan, or why there is none."""

    def __init__(self, plan: Plan | None, error: str = "") -> None:
        super().__init__()
        self.plan = plan
        self.error = error


class Candidates(Message):
    """Values a provider offers for a parameter (empty with a note when it has none)."""

    def __init__(self, param: str, found: list[tuple[str, str]], note: str) -> None:
        super().__init__()
        self.param = param
        self.found = found
        self.note = note


class Progressed(Message):
    """A line for the log, and the progress bar's new position when given."""

    def __init__(self, line: str, fraction: float | None) -> None:
        super().__init__()
        self.line = line
        self.fraction = fraction


class Finished(Message):
    """The action ended: its result is recorded, unless `recorded` is False (a busy target, a
    cancel while the intent waited: nothing was recorded or changed)."""

    def __init__(self, result: action_runner.Result, *, recorded: bool = True) -> None:
        super().__init__()
        self.result = result
        self.recorded = recorded


class DirectRecorder(AppRecorder):
    """The Recorder from the App's own thread (a dry run only notes)."""

    def __init__(self, app: IncidentApp) -> None:
        super().__init__(app, None)


def render_plan(plan: Plan) -> Text:
    """The plan as the responder reads it before confirming (a provider's and a procedure's
    words: shown plainly, control characters visible, secrets scrubbed)."""
    text = Text()

    def add(line: object, style: str = "") -> None:
        text.append_text(plain_text(line, style))

    add(f"{plan.title}\n", "bold")
    add(f"Target: {plan.target}   ")
    add("DESTRUCTIVE" if plan.destructive else "not destructive\n", "bold")
    if plan.destructive:
        add(
            f"   confirm: type the name, or its code {plan.short_code}\n"
            if plan.short_code
            else "\n"
        )
    add("\nWhat will change:\n", "bold")
    for change in plan.changes:
        add(f"  • {change}\n")
    if plan.warnings:
        add("\nWarnings:\n", "bold")
        for warning in plan.warnings:
            add(f"  ! {warning}\n")
    add("\nCalls:\n", "bold")
    for call in plan.calls:
        add(f"  {call.line()}\n")
    add("\nBy hand: ", "bold")
    add(f"{plan.cli}\n")
    add("Verify: ", "bold")
    add(f"{plan.verify} (gives up after {plan.timeout_seconds:g} s)\n")
    if plan.undo:
        add("Undo: ", "bold")
        add(f"{undo_words(plan.undo)}\n")
    text.rstrip()  # a last empty line would be one more "below" to scroll to, for nothing
    return text


def undo_words(undo: dict[str, Any]) -> str:
    """The undo as the responder reads it: 'rollout_undo deployment=ai-saas-web
    namespace=ai-saas-prod', never a Python dict."""
    params = undo.get("params") or {}
    pairs = params.items() if isinstance(params, dict) else [("params", params)]
    return " ".join([str(undo.get("action", "")), *(f"{k}={_word(v)}" for k, v in pairs)])


def _word(value: object) -> str:
    """One parameter's value in words: a flag's state as true/false, a mapping as
    (key=value, ...), a list comma-separated, a text with spaces quoted so it reads as one."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}={_word(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list | tuple):
        return ",".join(_word(v) for v in value)
    text = str(value)
    return f'"{text}"' if not text or any(c.isspace() for c in text) else text


class PlanScroll(VerticalScroll):
    """The plan's scroll area; a line at its foot says how much more is below, while there is
    (the screen's PgDn/PgUp scroll it: the typing field keeps the focus)."""

    def compose(self) -> ComposeResult:
        yield Static(id="action-more")  # docked at the foot (cockpit.tcss): it never scrolls

    def page(self, pages: int) -> None:
        """Scroll by what shows: Textual's own page counts the row the line takes, and a
        line of the plan would be skipped at each page."""
        shown = self.scrollable_content_region.height
        shown -= sum(1 for more in self.query("#action-more") if more.display)
        self.scroll_to(y=self.scroll_y + pages * max(1, shown), animate=False)

    def below(self) -> int:
        """Lines of the plan below the fold."""
        return max(0, round(self.max_scroll_y - self.scroll_y))

    def show_more(self) -> None:
        """Say what is below, or nothing when all of it shows; the line takes a row only
        while it shows (which hides one more line: the count is taken after that)."""
        below = self.below()
        lines = f"{below} more line{'s' if below != 1 else ''}"
        for more in self.query("#action-more").results(Static):  # none once the screen left
            more.display = below > 0
            more.update(plain(f"↓ {lines} below: PgDn" if below else ""))

    def on_resize(self, _: events.Resize) -> None:
        self.call_after_refresh(self.show_more)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.call_after_refresh(self.show_more)
