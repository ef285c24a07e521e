"""Provides the manual screen: a rollback option the cockpit cannot perform, done by hand.

The action screen opens it for an option whose provider is `manual`, or is not configured (or
not installed) in this session. It says so plainly, shows the option's steps and the runbook's
commands, and records what the responder does as a rollback like any other (cockpit.core.manual):
the start and the end as the same `action.intent` and `action.result` a provider's action
writes, each step as an `action.step` within it. Steps are ticked in the runbook's order: a
later one ticked first is refused, naming the step still open, until that one is done or
skipped with a typed reason. The option is then marked done and verified, done but not verified,
or failed, with an optional note; a destructive one is marked done only once its name is typed
back, as the action screen confirms a destructive plan.

The screen shows what the timeline says (cockpit/screens/manual_parts.py writes it, without
waiting), so leaving and coming back, a restart or a second responder finds the same action with
its steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Input, OptionList, Static

from cockpit import action_runner
from cockpit.core import manual
from cockpit.core.manual import CHOICES, STEP, Choice, StepMark, StepOpen, Steps
from cockpit.screens.base import CockpitScreen
from cockpit.screens.incident_bar import IncidentBar
from cockpit.screens.manual_parts import ManualRecorder, installed, step_rows
from widgets.editors import PlainInput
from widgets.plain import assemble, plain, visible

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.content import Content

    from cockpit.core.procedure import RollbackOption
    from cockpit.core.state import ActionState
    from cockpit.core.timeline import Event


class ManualScreen(CockpitScreen[None]):
    """One rollback option done by hand: its steps in order, then done or failed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Back", id="manual.leave"),
        Binding("s", "skip", "Skip the open step…", id="manual.skip"),
        Binding("b", "begin", "Record the start", id="manual.begin"),
    ]

    def __init__(self, option: str) -> None:
        super().__init__()
        self.option_id = option
        self.steps = Steps([])
        self.recorder: ManualRecorder | None = None
        """Writes the action (made on mount, when the procedure is at hand)."""
        self.asking: str | None = None
        """What the field below asks for: `skip` (a reason), `confirm` (the name), `note`."""
        self.choice: Choice | None = None
        """How the responder is marking the option, while its note is asked for."""
        self.sent: Choice | None = None
        """How this screen marked it (its result is on its way or recorded)."""
        self.ended: ActionState | None = None
        """The action's result, once recorded (by anyone)."""

    @property
    def option(self) -> RollbackOption:
        """The option done by hand (the App opens screens once the procedure is loaded)."""
        procedure = self.cockpit.session.procedure
        assert procedure is not None
        return procedure.option(self.option_id)

    @property
    def record(self) -> ManualRecorder:
        """The option's action in the timeline."""
        assert self.recorder is not None, "made on mount"
        return self.recorder

    @property
    def taking_text(self) -> bool:
        """While a reason, a name or a note is typed, the App's single-letter keys stay quiet."""
        return self.asking is not None

    def compose(self) -> ComposeResult:
        yield IncidentBar()
        yield Static(id="manual-head")
        yield OptionList(id="manual-steps")
        with VerticalScroll(id="manual-body"):
            yield Static(id="manual-commands")
        yield PlainInput(id="manual-input", disabled=True)
        yield Static(id="manual-status")
        yield Static(id="manual-keys")

    def on_mount(self) -> None:
        option = self.option
        self.steps = Steps(option.steps)
        self.recorder = ManualRecorder(self.cockpit, option)
        name = manual.action_name(option)
        mine = [a for a in self.cockpit.state.actions.values() if self.ours(a, name)]
        open_now = next((a for a in mine if a.outcome is None), None)
        if open_now is not None:  # begun earlier (left and back, a restart, another responder)
            self.record.action_id = open_now.action_id
            for mark in open_now.steps:
                self.steps.mark(mark)
        commands = "\n".join(option.commands) or "(the runbook gives no commands)"
        self.query_one("#manual-commands", Static).update(
            assemble(("Commands from the runbook:\n", "bold"), commands)
        )
        self.cockpit.event_recorded.subscribe(self, self.event_recorded)
        self.show()
        self.highlight_next()
        self.query_one("#manual-steps", OptionList).focus()

    def ours(self, action: ActionState, name: str) -> bool:
        """Whether an action is this option done by hand."""
        return action.option == self.option_id and action.action == name

    # --- what is shown --------------------------------------------------------------------

    def show(self) -> None:
        """Head, steps and choices, status and keys, from the steps and the action's state."""
        self.query_one("#manual-head", Static).update(self.head())
        picker = self.query_one("#manual-steps", OptionList)
        cursor = picker.highlighted
        picker.clear_options()
        picker.add_options(step_rows(self.steps))
        picker.highlighted = cursor
        self.show_keys()

    def head(self) -> Content:
        """Title, why the cockpit cannot do it, destructive or not, started or not."""
        option, session = self.option, self.cockpit.session
        why = manual.why_by_hand(
            option.provider, list(session.actions), installed=installed(option.provider)
        )
        action = self.cockpit.state.actions.get(self.record.action_id or "")
        if action is not None:
            started = f" · started by {action.actor} at {action.started[11:19]} UTC"
        elif self.record.started:
            started = " · started (recording…)"
        else:
            started = " · not started yet"
        return assemble(
            (f"{option.title} — by hand", "bold"),
            (started, "dim"),
            f"\n{why}",
            (
                "\nDESTRUCTIVE: its name is typed back to mark it done."
                if option.destructive
                else "",
                "bold",
            ),
            (f"\nWarning: {option.warning}" if option.warning else "", "bold"),
        )

    def show_keys(self) -> None:
        """The keys that do something now, in one line."""
        settled = self.sent is not None or self.ended is not None
        keys = [] if settled else ["Enter tick the step / mark the option"]
        if self.check_action("skip", ()):
            keys.append("s skip a step")
        if self.check_action("begin", ()):
            keys.append("b start")
        keys.append("Esc " + ("cancel" if self.asking else "back"))
        self.query_one("#manual-keys", Static).update(plain(" · ".join(keys), one_line=True))

    def say(self, text: str, style: str = "bold") -> None:
        """A line or two under the steps: a refusal, a question, the result (none: hidden)."""
        status = self.query_one("#manual-status", Static)
        status.update(plain(text, style))
        status.display = bool(text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show only the keys that do something now."""
        open_for_input = self.asking is None and self.sent is None and self.ended is None
        if action == "skip":
            return open_for_input and self.steps.next_open is not None
        if action == "begin":
            return open_for_input and not self.record.started
        return True

    # --- the responder's keys ---------------------------------------------------------------

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        """Enter on a step ticks it (in order); on an ending, marks the option."""
        row = str(message.option.id)
        if not self.can_write():
            return
        if row.startswith("step-"):
            self.tick(int(row.removeprefix("step-")))
        else:
            self.mark(cast("Choice", row.removeprefix("choice-")))

    def tick(self, index: int) -> None:
        """Record a step done, or say why not (an earlier one is open: named)."""
        try:
            self.steps.check_tick(index)
        except StepOpen as error:
            self.say(str(error))
            self.notify(str(error), title=error.title, severity="warning")
            return
        except ValueError as error:
            self.say(str(error), "")
            return
        self.record_step(index, "done")

    def action_skip(self) -> None:
        """Ask why the open step is skipped; an empty answer skips nothing."""
        index = self.steps.next_open
        if index is None or not self.can_write():
            return
        self.ask("skip", f"why is step {index + 1} skipped? Enter records it, Esc cancels")
        self.say(f"Skipping step {index + 1}: {self.steps.texts[index]}", "")

    def action_begin(self) -> None:
        """Record that the responder starts now (time to rollback start)."""
        if self.can_write():
            self.record.begin()
            self.show()

    def mark(self, choice: Choice) -> None:
        """Mark the option done (every step settled; a destructive one confirmed) or failed."""
        words = CHOICES[choice][0]
        if choice != "failed":
            try:
                self.steps.check_done()
            except StepOpen as error:
                self.say(str(error))
                self.notify(str(error), title=error.title, severity="warning")
                return
        self.choice = choice
        if choice != "failed" and self.option.destructive:
            target = manual.plan_for(self.option).target
            self.ask("confirm", f"type {target} and press Enter to mark it done (destructive)")
            self.say(f"{words}: the option is destructive; type its name to confirm.")
        else:
            self.ask_note(words)

    def ask_note(self, words: str) -> None:
        """The last question: a note, which may be empty."""
        self.ask("note", "a note for the timeline (optional); Enter records, Esc cancels")
        self.say(f"{words}: add a note if it helps the post-mortem, then Enter.", "")

    def ask(self, what: str, placeholder: str) -> None:
        """Give the field the focus to take a reason, a name or a note."""
        self.asking = what
        field = self.query_one("#manual-input", Input)
        field.disabled, field.display = False, True
        field.value = ""
        field.placeholder = visible(placeholder, one_line=True)
        field.focus()
        self.show_keys()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        """The answer to what the field asked."""
        typed, asking = message.value.strip(), self.asking
        if asking == "skip":
            index = self.steps.next_open
            if not typed:
                self.say("A skipped step needs a reason: type why, or Esc.")
                return
            self.stop_asking()
            if index is not None and self.can_write():
                self.record_step(index, "skipped", typed)
        elif asking == "confirm":
            self.confirmed(message.input, typed)
        elif asking == "note" and self.choice is not None:
            choice = self.choice
            self.stop_asking()
            if self.can_write():
                self.finish(choice, typed)

    def confirmed(self, field: Input, typed: str) -> None:
        """A destructive option is marked done only once its name is typed back, as the
        action screen confirms a destructive plan (refusals are recorded there and here)."""
        plan = manual.plan_for(self.option)
        try:
            action_runner.confirm(plan, typed)
        except action_runner.ConfirmationRefused as error:
            self.cockpit.record(
                "plan.refused",
                f"Not marked done: {plan.title}: {error}",
                {"plan": plan.as_payload(), "reason": str(error), "option": self.option_id},
            )
            field.value = ""
            self.say(f"Not confirmed: {error}")
            self.notify(str(error), title="Not confirmed", severity="error")
            return
        self.ask_note(CHOICES[self.choice or "verified"][0])

    def stop_asking(self) -> None:
        """Back to the list."""
        self.asking = None
        field = self.query_one("#manual-input", Input)
        field.value, field.placeholder, field.disabled, field.display = "", "", True, False
        self.query_one("#manual-steps", OptionList).focus()
        self.show_keys()

    def action_leave(self) -> None:
        """Esc: cancel the question, or go back (an action begun stays open: reopening the
        option finds it, with its steps)."""
        if self.asking is not None:
            self.choice = None
            self.stop_asking()
            self.say("Cancelled: nothing recorded.", "")
            return
        self.dismiss(None)

    # --- recording ------------------------------------------------------------------------

    def can_write(self) -> bool:
        """Whether this cockpit may record here now (says why not)."""
        if self.cockpit.read_only:
            self.notify(self.cockpit.read_only_reason, title="Not recorded", severity="error")
            return False
        if self.sent is not None or self.ended is not None:
            self.say(
                "This option is marked already; Esc to go back (opening it again starts a "
                "new attempt).",
                "",
            )
            return False
        return True

    def record_step(self, index: int, status: manual.StepStatus, reason: str = "") -> None:
        """A step done or skipped, in the timeline within the action."""
        self.record.step(self.steps, index, status, reason)
        self.steps.mark(StepMark(index, status, reason=reason))
        self.say("")
        self.show()
        self.highlight_next()

    def highlight_next(self) -> None:
        """The cursor on the step open now, or on "done and verified" when none is."""
        picker = self.query_one("#manual-steps", OptionList)
        upcoming = self.steps.next_open
        row = f"step-{upcoming}" if upcoming is not None else "choice-verified"
        picker.highlighted = picker.get_option_index(row)

    def finish(self, choice: Choice, note: str) -> None:
        """The option's result: the same `action.result` a provider's action records."""
        summary = self.record.finish(choice, note)
        self.sent = choice
        self.say(f"{summary} (recording…)", "")
        self.show()

    def event_recorded(self, event: Event) -> None:
        """Follow the action in the timeline: its intent (this screen's or another
        responder's), its steps, its result."""
        payload: dict[str, Any] = event.payload
        action_id = str(payload.get("action_id", ""))
        if event.kind == "action.intent" and self.record.action_id is None:
            if not self.record.follows(event):
                return
            self.record.action_id = action_id
        elif not action_id or action_id != self.record.action_id:
            return
        elif event.kind == STEP:
            mark = StepMark.from_payload(payload, event.actor, event.ts)
            if mark is not None:
                self.steps.mark(mark)
        elif event.kind == "action.result":
            self.ended = self.cockpit.state.actions.get(action_id)
            good = payload.get("outcome") == "succeeded"
            self.say(event.summary, "bold green" if good else "bold red")
        self.show()
