"""Provides the action screen: one rollback action from plan to recorded result.

Opening it runs the provider's preflight in a thread worker and shows the plan: the exact
calls, what will change, the equivalent CLI line, warnings, how it will be verified and how to
undo it. A destructive plan runs only when the target's name is typed back; anything else typed
is refused and recorded. The run itself is another thread worker: a progress bar, a live log,
`x` to cancel at the next safe point, and the result, all recorded by the App. Workers only post
messages; this screen never touches the timeline itself. An option the cockpit cannot perform
(no provider for it in this session) gives way to the manual screen, to be done by hand. Where
the screen is in the five steps, and what the field takes, is said by ActionStage
(action_stage.py), each time the screen moves on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.widgets import Input, Log, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from cockpit import action_runner
from cockpit.core.actions import ActionCancelled, Plan, Report
from cockpit.core.errors import CockpitError
from cockpit.core.manual import MANUAL, Steps
from cockpit.core.ordered import Ordered, outcome_steps
from cockpit.core.procedure import is_placeholder
from cockpit.core.redact import scrub
from cockpit.screens.action_parts import (
    AppRecorder,
    Candidates,
    DirectRecorder,
    Finished,
    Planned,
    PlanScroll,
    Progressed,
    render_plan,
)
from cockpit.screens.action_stage import ActionStage
from cockpit.screens.action_steps import RunbookSteps
from cockpit.screens.base import CockpitScreen
from cockpit.screens.incident_bar import IncidentBar
from widgets.editors import PlainInput
from widgets.plain import assemble, plain, plain_text, visible

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.worker import Worker

    from providers.base import ActionProvider


class ActionScreen(RunbookSteps, ActionStage, CockpitScreen[None]):
    """Plan, confirm, run, verify: one action of one provider."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Back", id="action.leave"),
        Binding("up", "choose(-1)", "Previous candidate", show=False, id="action.choose_up"),
        Binding("down", "choose(1)", "Next candidate", show=False, id="action.choose_down"),
        Binding("x", "cancel", "Cancel run", id="action.cancel"),
        Binding("ctrl+r", "dry_run", "Dry run", id="action.dry_run"),
        Binding("u", "undo", "Undo", id="action.undo"),
        # Priority: the typing field or the log has the focus, and the plan is what scrolls.
        Binding("pagedown", "plan_page(1)", "More of the plan", show=False, priority=True),
        Binding("pageup", "plan_page(-1)", "Back up the plan", show=False, priority=True),
    ]

    def __init__(
        self,
        slot: str,
        action: str,
        params: dict[str, Any],
        *,
        option: str | None = None,
        checklist: tuple[str, str] | None = None,
        decided: str | None = None,
    ) -> None:
        super().__init__()
        self.decided = decided
        """The outcome node the wizard just decided, when it opened this screen."""
        self.checklist = checklist
        """The checklist item this runs for: its verified result ticks it."""
        self.slot = slot
        self.action = action
        self.params = params
        self.option = option
        self.plan: Plan | None = None
        self.asking: str | None = None
        """The parameter being asked for, while the procedure left one open."""
        self.report: Report | None = None
        self.result: action_runner.Result | None = None
        self.stopped = False
        """Nothing can run (no provider, a plan refused): the screen only says why."""
        self.offered: dict[str, list[tuple[str, str]]] = {}
        """Candidates each parameter was offered, kept so a refused pick can be picked again."""
        self.params_asked: dict[str, Any] = {}
        """What the procedure wrote for each parameter it left open ("[blue-deployment-url]")."""
        self.last_answered: tuple[str, str] | None = None
        """The parameter the responder gave last, and what the procedure had written there."""
        self.before = Steps([])
        """The runbook's steps before the provider acts (stop the app), done or skipped first."""
        self.ordered: Ordered | None = None
        """The decided outcome's steps before any rollback (notify, capture evidence), while
        one is open: they come before the option is even planned."""
        self.after: Steps | None = None
        """The option's steps after the provider acted (restart the app), once it succeeded."""

    @property
    def taking_text(self) -> bool:
        """Whether the responder was asked to type (a parameter, a target's name): until the
        action runs, the App's single-letter keys stay quiet here, so typing a name can never
        acknowledge, page or switch screens (Esc leaves)."""
        return (self.report is None and not self.stopped) or self.after_open

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show only the keys that do something now."""
        running = self.report is not None and self.result is None
        if action == "cancel":
            return running
        if action == "dry_run":
            return self.plan is not None and self.report is None
        if action == "choose":
            return self.asking is not None and bool(self.query("#action-choices"))
        if action == "undo":
            return bool(
                self.plan and self.plan.undo and self.result and self.result.outcome == "succeeded"
            )
        return True

    @property
    def procedure_says_destructive(self) -> bool:
        """Whether the procedure marks the option this runs for as destructive."""
        procedure = self.cockpit.session.procedure
        if self.option is None or procedure is None:
            return False
        return procedure.option(self.option).destructive

    @property
    def provider(self) -> ActionProvider | None:
        """The configured provider for this slot, if any."""
        return self.cockpit.session.actions.get(self.slot)

    def compose(self) -> ComposeResult:
        yield IncidentBar()
        yield Static(id="action-stage")
        # At the top, under the steps: toasts stack from the bottom right, never here.
        yield Static(id="action-result")
        with PlanScroll(id="action-body"):
            yield Static(plain(f"{self.slot} · {self.action}: checking…"), id="action-plan")
        # Outside the scroll: the confirmation and progress stay in view at 80x24.
        yield PlainInput(id="action-confirm", disabled=True)
        yield ProgressBar(id="action-progress", total=1.0, show_eta=False)
        yield Log(id="action-log", max_lines=500)
        yield Static(id="action-keys")

    def on_mount(self) -> None:
        procedure = self.cockpit.session.procedure
        if self.option is not None and procedure is not None:
            state = self.cockpit.state
            ordered = outcome_steps(procedure, state.events, state.checklists, node=self.decided)
            if ordered is not None and ordered.open:
                self.ordered = ordered
                self.show_ordered()
                self.show_where()
                return
        self.begin()

    def begin(self) -> None:
        """Plan the option (or give way to the manual screen), once nothing comes first."""
        provider = self.provider
        if provider is None and self.slot != MANUAL and self.cockpit.still_starting:
            self.show_error(
                f"The {self.slot!r} platform is still starting (a drill starts its platforms "
                "after its metrics): Esc, and open this option again in a few seconds."
            )
            return
        if provider is None and self.option is not None:
            # The cockpit cannot perform it (provider `manual`, not configured, not
            # installed): the responder does it by hand, and it is recorded as a rollback.
            from cockpit.screens.manual import ManualScreen

            self.app.switch_screen(ManualScreen(self.option))
            return
        if provider is None:  # a checklist item's check: the item is ticked by hand
            configured = ", ".join(sorted(self.cockpit.session.actions)) or "none"
            self.show_error(
                f"The cockpit cannot run {self.slot}.{self.action} here: no {self.slot!r} "
                f"provider in this session (configured: {configured}). Do the check by hand "
                "and tick the item on the checklist."
            )
            return
        self.params = {**self.params, **provider.fixed_for(self.action)}
        self.params_asked = {k: v for k, v in self.params.items() if is_placeholder(v)}
        self.next_step(provider)

    def next_step(self, provider: ActionProvider) -> None:
        """Ask for the next parameter the procedure left open, or plan when none is left."""
        missing = [k for k, v in self.params.items() if is_placeholder(v)]
        if missing:
            self.ask(provider, missing[0])
        else:
            self.asking = None
            self.query_one("#action-plan", Static).update(
                plain(f"{self.slot} · {self.action}: checking…")
            )
            self.show_where()
            self.preflight(provider)

    def ask(self, provider: ActionProvider, param: str, refused: str = "") -> None:
        """Say what is missing, offer the provider's candidates, take a typed value too.

        The typing field keeps the focus throughout (↑/↓ move in the list): a letter typed
        here is part of a name, never a key of the App. `refused`: why the last value was
        refused by the provider; the list stays, to pick again.
        """
        self.asking = param
        self.show_question(param, refused)
        self.show_where()
        self.query_one("#action-confirm", Input).focus()
        if param in self.offered:
            self.show_picker(self.offered[param])
        else:
            self.candidates(provider, param)

    def show_question(self, param: str, refused: str = "") -> None:
        """The question, what the procedure wrote, the candidates (loading, listed or none),
        and why the last answer was refused."""
        found = self.offered.get(param)
        text = assemble(
            (f"{self.slot} · {self.action} needs {param}", "bold"),
            f"\nThe procedure leaves it as {self.params.get(param, '')}. ",
            "Loading the candidates…"
            if found is None
            else "Type it below, or choose one above with ↑/↓; Enter takes it."
            if found
            else "No candidates to choose from: type it below, then Enter.",
            (f"\nRefused: {refused}" if refused else "", "bold"),
        )
        self.query_one("#action-plan", Static).update(text)

    @work(thread=True, exit_on_error=False, group="action-choices")
    def candidates(self, provider: ActionProvider, param: str) -> None:
        """Worker: the values the provider can list for a parameter (reads only)."""
        try:
            found = provider.choices(self.action, param, self.params)
        except CockpitError as error:
            found, note = [], f"could not list candidates: {error}"
        else:
            note = "" if found else "the provider lists no candidates; type the value"
        self.post_message(Candidates(param, found, note))

    def show_failure(self, worker: Worker[Any]) -> None:
        """A worker raised (a provider bug): what waited for it says so (the App recorded it)."""
        reason = f"{type(worker.error).__name__}: {worker.error}"
        self.log_line(f"failed: {reason}")
        if worker.group == "action-choices" and self.asking is not None:
            self.offered[self.asking] = []
            self.show_question(self.asking, f"could not list the candidates ({reason}); type it")
            self.show_where()
        elif worker.group == "action-plan":
            self.show_error(f"Could not plan: {reason}")
        elif worker.group == "action-run" and self.result is None:  # "running…" and x end
            summary = f"The run failed unexpectedly ({reason}); check the timeline."
            failed = action_runner.Result("failed", summary, False, [])
            self.post_message(Finished(failed, recorded=False))

    @on(Candidates)
    def show_candidates(self, message: Candidates) -> None:
        if message.param != self.asking:
            return
        if message.note:
            self.log_line(message.note)
        self.offered[message.param] = message.found
        self.show_question(message.param)
        self.show_picker(message.found)
        self.show_where()

    def show_picker(self, found: list[tuple[str, str]]) -> None:
        """The candidates, the first highlighted: providers list first the one a rollback
        means (the last good deployment), the one serving now last."""
        for old in self.query("#action-choices"):
            old.remove()
        if not found:
            return
        picker = OptionList(
            *[Option(plain(label, one_line=True), id=value) for value, label in found],
            id="action-choices",
        )
        picker.can_focus = False  # the typing field keeps the focus: see `ask`
        self.query_one("#action-body", PlanScroll).mount(picker)
        picker.highlighted = 0
        self.refresh_bindings()

    def action_choose(self, step: int) -> None:
        """↑/↓ while asking: move the highlight in the candidates."""
        for picker in self.query("#action-choices").results(OptionList):
            if picker.option_count:
                now = picker.highlighted if picker.highlighted is not None else -step
                picker.highlighted = max(0, min(picker.option_count - 1, now + step))

    def chosen(self) -> str | None:
        """The highlighted candidate's value, if a list is shown."""
        for picker in self.query("#action-choices").results(OptionList):
            if picker.highlighted is not None:
                return picker.get_option_at_index(picker.highlighted).id
        return None

    @on(OptionList.OptionSelected, "#action-choices")
    def picked(self, message: OptionList.OptionSelected) -> None:
        if message.option.id is not None:
            self.answer(message.option.id)

    def answer(self, value: str) -> None:
        """Take the value of the parameter being asked for, then go on."""
        provider, param = self.provider, self.asking
        if provider is None or param is None or not value.strip():
            return
        self.params = {**self.params, param: value.strip()}
        self.last_answered = (param, str(self.params_asked.get(param, "")))
        self.log_line(f"{param} = {value.strip()}")
        for picker in self.query("#action-choices"):
            picker.remove()
        confirm = self.query_one("#action-confirm", Input)
        confirm.value = ""
        confirm.disabled = True
        self.next_step(provider)

    @work(thread=True, exit_on_error=False, group="action-plan")
    def preflight(self, provider: ActionProvider) -> None:
        """Worker: ask the provider for the plan (reads only)."""
        try:
            plan = action_runner.stricter(
                provider.preflight(self.action, self.params), self.procedure_says_destructive
            )
            procedure = self.cockpit.session.procedure
            allowed = procedure is not None and procedure.short_confirmation
            plan = action_runner.allow_short_code(plan, allowed)
        except CockpitError as error:
            self.post_message(Planned(None, str(error)))
        except Exception as error:  # a provider bug must not leave the screen "checking…"
            self.post_message(Planned(None, f"internal error: {type(error).__name__}: {error}"))
        else:
            self.post_message(Planned(plan))

    @on(Planned)
    def planned(self, message: Planned) -> None:
        if message.plan is None:
            self.cockpit.record(
                "plan.failed",
                f"Cannot plan {self.slot}.{self.action}: {message.error}",
                {"provider": self.slot, "action": self.action, "option": self.option},
            )
            provider = self.provider
            if self.last_answered is not None and provider is not None:
                # The value the responder gave was refused: ask for it again, list and all.
                param, placeholder = self.last_answered
                self.last_answered = None
                self.params = {**self.params, param: placeholder}
                self.ask(provider, param, refused=message.error)
                return
            self.show_error(message.error)
            return
        self.plan = plan = message.plan
        self.query_one("#action-plan", Static).update(render_plan(plan))
        procedure = self.cockpit.session.procedure
        if self.option is not None and procedure is not None:
            self.before = Steps(procedure.option(self.option).before)
        confirm = self.query_one("#action-confirm", Input)
        confirm.disabled = False
        self.show_where()
        confirm.focus()

    def show_error(self, text: str) -> None:
        """Say why nothing can run."""
        self.stopped = True
        self.query_one("#action-plan", Static).update(plain(text, "bold"))
        result = self.query_one("#action-result", Static)
        result.update(plain("Nothing was changed. Esc to go back."))
        result.display = True
        self.show_where()

    @on(Input.Submitted, "#action-confirm")
    def confirmed(self, message: Input.Submitted) -> None:
        if self.ordered is not None or self.after_open:
            if self.cockpit.read_only:
                self.notify(self.cockpit.read_only_reason, title="Not run", severity="error")
            elif self.ordered is not None:
                self.settle_ordered(message.value)
            elif self.plan is not None:
                self.settle_after(self.plan, message.value)
            message.input.value = ""
            return
        if self.asking is not None:
            self.answer(message.value.strip() or self.chosen() or "")
            return
        plan, provider = self.plan, self.provider
        if plan is None or provider is None or self.report is not None:
            return
        if self.cockpit.read_only:
            self.notify(self.cockpit.read_only_reason, title="Not run", severity="error")
            return
        if self.before.next_open is not None:
            self.settle_before(plan, message.value)
            message.input.value = ""
            return
        try:
            action_runner.confirm(plan, message.value)
        except action_runner.ConfirmationRefused as error:
            self.cockpit.record(
                "plan.refused",
                f"Not run: {plan.title}: {error}",
                {"plan": plan.as_payload(), "reason": str(error), "option": self.option},
            )
            message.input.value = ""
            self.notify(str(error), title="Not confirmed", severity="error")
            return
        # Not disabled: disabling the focused Input stalled this screen's messages for ~0.5 s
        # (seen in make bench); another Enter is ignored because self.report is set.
        message.input.value = ""
        self.query_one("#action-log", Log).focus()  # keys are the App's again, not the Input's
        self.report = Report(
            lambda line, fraction: self.post_message(Progressed(line, fraction)),
            deadline_seconds=plan.timeout_seconds,
        )
        self.show_where()
        # The App is taken here: a worker thread finds it through this screen, which is gone
        # once the responder left (and the result's toast then never came).
        recorder = AppRecorder(self.cockpit, self.option, self.checklist, self.report)
        self.execute(provider, plan, message.value, recorder)

    @work(thread=True, exit_on_error=False, group="action-run")
    def execute(
        self, provider: ActionProvider, plan: Plan, typed: str, recorder: AppRecorder
    ) -> None:
        """Worker: the runner records the intent, executes, verifies, records the result."""
        app, report = recorder.app, recorder.report
        assert report is not None
        recorded = True
        try:
            result = action_runner.run(
                provider, plan, typed, recorder, report, locks=app.session.locks
            )
        except CockpitError as error:  # busy target, or cancelled before the intent: nothing
            recorded = False  # was recorded or changed
            outcome = "cancelled" if isinstance(error, ActionCancelled) else "failed"
            result = action_runner.Result(outcome, str(error), False, [str(error)])
        self.post_message(Finished(result, recorded=recorded))
        # Through the App: the responder may have left this screen while the action ran.
        app.call_from_thread(self.tell_result, app, result)

    @on(Progressed)
    def progressed(self, message: Progressed) -> None:
        self.log_line(message.line)
        if message.fraction is not None:
            self.query_one("#action-progress", ProgressBar).update(progress=message.fraction)

    @on(Finished)
    def finished(self, message: Finished) -> None:
        self.result = result = message.result
        self.recorded = message.recorded
        style = "bold green" if result.outcome == "succeeded" else "bold red"
        shown = self.query_one("#action-result", Static)
        shown.update(plain_text(result.summary, style))
        shown.display = True
        procedure = self.cockpit.session.procedure
        if result.outcome == "succeeded" and self.option is not None and procedure is not None:
            after = procedure.option(self.option).after
            if after:
                self.after = Steps(after)
                self.prompt_after()
        self.show_where()

    def log_line(self, line: str) -> None:
        """A line of the live log: a provider's progress and errors, shown plainly."""
        self.query_one("#action-log", Log).write_line(visible(scrub(line), one_line=True))

    def action_cancel(self) -> None:
        """Ask the running action to stop at its next safe point."""
        if self.report is not None and self.result is None:
            self.report.cancel()
            self.log_line("cancel requested…")
            self.show_where()

    def action_dry_run(self) -> None:
        """Record the plan and run nothing."""
        if self.plan is not None and self.report is None:
            action_runner.dry_run(self.plan, DirectRecorder(self.cockpit))
            self.notify("The plan is recorded; nothing was run.", title="Dry run")

    def action_undo(self) -> None:
        """Open the undo of a finished action as a new plan (confirmed like any other)."""
        plan = self.plan
        if plan is None or not plan.undo or self.result is None:
            return
        self.app.switch_screen(
            ActionScreen(
                self.slot,
                str(plan.undo.get("action")),
                dict(plan.undo.get("params", {})),
                option=None,
            )
        )

    def action_leave(self) -> None:
        """Back; a running action keeps running and is recorded when it ends."""
        if self.report is not None and self.result is None:
            self.notify("The action keeps running; its result will be in the timeline.")
        self.dismiss(None)
