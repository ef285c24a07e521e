"""Provides CockpitApp: the screens, keys, modals and command palette over an IncidentApp.

Pollers live on the App (IncidentApp), so sampling goes on whatever screen is open.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import AwaitMount

from cockpit.core.roles import ASSIGNED as ROLE_ASSIGNED
from cockpit.incident_app import IncidentApp
from cockpit.screens.dashboard import DashboardScreen

if TYPE_CHECKING:
    from cockpit.core.timeline import Event


def _screen(module: str, name: str) -> Screen[Any]:
    """Import and build a screen on first use."""
    screen_class = getattr(importlib.import_module(f"cockpit.screens.{module}"), name)
    return cast(Screen[Any], screen_class())


WARM_SCREENS = (
    "action",
    "rollback",
    "wizard",
    "checklists",
    "timeline",
    "procedure",
    "drafts",
    "postmortem",
    "providers",
    "modals",
)
"""The screens' modules, imported by the warm-up worker after the first paint."""


def _modals() -> Any:
    return importlib.import_module("cockpit.screens.modals")


class CockpitApp(IncidentApp):
    """The incident cockpit."""

    TITLE = "Rollback Cockpit"
    CSS_PATH = "cockpit.tcss"
    # Screens other than the dashboard are imported when first shown: the first paint of the
    # dashboard is budgeted at 1.3x a bare Textual app (make bench).
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "dashboard": DashboardScreen,
        "procedure": lambda: _screen("procedure", "ProcedureScreen"),
        "timeline": lambda: _screen("timeline", "TimelineScreen"),
    }
    DEFAULT_MODE = "dashboard"
    BINDINGS: ClassVar[list[BindingType]] = [
        # The footer shows them in this order, as many as fit: the next steps of a rollback first.
        Binding(
            "w",
            "decide",
            "Decide",
            tooltip="The decision wizard: the procedure's tree, one question at a time",
            id="cockpit.decide",
        ),
        Binding(
            "r",
            "roll_back",
            "Roll back",
            tooltip="The rollback options (the decided one first): plan, confirm, run, verify",
            id="cockpit.roll_back",
        ),
        Binding(
            "c",
            "checklists",
            "Checklists",
            tooltip="The procedure's checklists: tick, untick, skip with a reason",
            id="cockpit.checklists",
        ),
        Binding(
            "t",
            "show('timeline')",
            "Timeline",
            tooltip="Every recorded event",
            id="cockpit.timeline",
        ),
        Binding(
            "p",
            "show('procedure')",
            "Procedure",
            tooltip="The team's runbook",
            id="cockpit.procedure",
        ),
        Binding(
            "m",
            "drafts",
            "Drafts",
            tooltip="Communication drafts from the procedure's templates, filled and editable",
            id="cockpit.drafts",
        ),
        Binding(
            "e",
            "postmortem",
            "Post-mortem",
            tooltip="The post-mortem: preview the export, write root cause, lessons, action items",
            id="cockpit.postmortem",
        ),
        Binding(
            "d",
            "show('dashboard')",
            "Dashboard",
            tooltip="Live metrics and triggers",
            id="cockpit.dashboard",
        ),
        Binding(
            "o",
            "providers",
            "Providers",
            tooltip="Configured providers and their health",
            id="cockpit.providers",
            show=False,  # in help and the palette: each footer key costs on every rebuild
        ),
        Binding(
            "n",
            "note",
            "Note",
            tooltip="Record a note in the timeline",
            id="cockpit.note",
            show=False,
        ),
        Binding(
            "a",
            "acknowledge",
            "Ack",
            tooltip="Acknowledge the incident (starts time-to-ack)",
            id="cockpit.ack",
            show=False,
        ),
        Binding(
            "l",
            "roles",
            "Roles",
            tooltip="Who holds which role (lead, responder, communications, observer); the "
            "lead assigns them and hands lead over",
            id="cockpit.roles",
            show=False,
        ),
        Binding("question_mark", "help", "Help", tooltip="Keys and screens", id="cockpit.help"),
        Binding(
            "f1",
            "help_anywhere",
            "Help",
            tooltip="Keys and screens, also while typing",
            id="cockpit.help_anywhere",
            priority=True,  # a screen taking text (a draft, a name) gets ? as a character
        ),
        Binding("q", "quit", "Quit", tooltip="Leave; the incident stays open", id="cockpit.quit"),
        Binding(
            "k",
            "cancel_automatic",
            "Cancel auto-rollback",
            tooltip="Stop the automatic rollback's countdown (only while it counts down)",
            id="cockpit.cancel_automatic",
        ),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The App's single-letter keys stay quiet while a screen waits for typed text: a name
        typed into the wrong place must never acknowledge, page or switch screens."""
        if action in _LETTER_ACTIONS and getattr(self.screen, "taking_text", False):
            return False
        if action == "show" and parameters == (self.current_mode,) and len(self.screen_stack) == 1:
            return False  # the screen shown now: its key would do nothing, so it is not offered
        if action == "cancel_automatic":
            run = self.state.auto
            return run is not None and run.counting_down and not self.read_only
        return super().check_action(action, parameters)

    def on_mount(self) -> None:
        if self.read_only:
            self.notify(
                "Watching: everyone's events show here live; nothing is recorded from here."
                if self.session.watching
                else f"{self.read_only_reason}: everyone's events show here live; nothing is "
                "recorded from here."
            )
        else:
            holder = self.session.held_by
            if holder is not None:
                self.notify(
                    f"{holder.actor} (pid {holder.pid} on {holder.host}"
                    + (f", {holder.tty}" if holder.tty else "")
                    + f", since {holder.since}) drives this incident's automation. You "
                    "respond: what you do is recorded and seen there; if that cockpit ends, "
                    "this one drives.",
                    title="Responding",
                    timeout=15,
                )
            self.begin_session()
        if self.session.greeting:
            self.notify(self.session.greeting, title="Resumed", timeout=20)
        self.start_watching()

    def action_take_over(self) -> None:
        """Drive the incident from here, stopping the cockpit that drives it now (when it is
        wedged: a live driver whose SSH session is gone still drives well)."""
        self.driver.take_over()

    def warm_up(self) -> None:
        """Worker: also every screen's module, imported before its first key (their imports,
        Textual's tabs, Rich's Markdown with pygments, were up to 50 ms of a first visit)."""
        super().warm_up()
        for module in WARM_SCREENS:
            importlib.import_module(f"cockpit.screens.{module}")

    def switch_mode(self, mode: str) -> AwaitMount:
        """Switch screens; one built already is shown at once (see `delay_update`)."""
        self.shown_at_once = mode in self._screen_stacks
        try:
            return super().switch_mode(mode)
        finally:
            self.shown_at_once = False

    shown_at_once = False

    def delay_update(self, delay: float = 0.05) -> None:
        # Textual holds every paint for 50 ms on a switch of modes, to hide a screen being
        # built; a screen built before has nothing to hide, and the 50 ms were the floor of
        # every key that switches screens (make bench: keys).
        if not self.shown_at_once:
            super().delay_update(delay)

    def has_procedure(self) -> bool:
        """Whether the procedure and its checklists are loaded; if not, the responder is told.

        They load in a worker so the dashboard paints first; a key pressed in that moment
        must say why nothing opened rather than open a screen with nothing to show.
        """
        if self.session.procedure is not None and self.checklists is not None:
            return True
        if self.procedure_error is not None:
            self.notify(self.procedure_error, title="The procedure did not load", severity="error")
        else:
            self.notify("The procedure is still loading; try again in a moment.")
        return False

    def push_when_ready(self, module: str, name: str) -> None:
        """Open a screen that shows the procedure, once it is loaded."""
        if self.has_procedure():
            self.push_screen(_screen(module, name))

    def action_show(self, mode: str) -> None:
        """Switch to a screen."""
        if mode == "procedure" and not self.has_procedure():
            return
        if mode == self.current_mode:
            # Already in that mode under a pushed screen (wizard, rollback, action): go back to
            # the mode's own screen, as the key promises. A running action keeps running.
            while len(self.screen_stack) > 1:
                self.pop_screen()
            return
        self.switch_mode(mode)

    def action_decide(self) -> None:
        """Open the decision wizard (resuming a walk already started)."""
        self.push_when_ready("wizard", "WizardScreen")

    def action_checklists(self) -> None:
        """Open the checklists."""
        self.push_when_ready("checklists", "ChecklistsScreen")

    def action_roll_back(self) -> None:
        """Open the rollback options."""
        self.push_when_ready("rollback", "RollbackScreen")

    def action_providers(self) -> None:
        """Open the providers panel."""
        self.push_screen(_screen("providers", "ProvidersScreen"))

    def action_drafts(self) -> None:
        """Open the communication drafts."""
        self.push_when_ready("drafts", "DraftsScreen")

    def action_postmortem(self) -> None:
        """Open the post-mortem: the export's preview and the written sections."""
        self.push_when_ready("postmortem", "PostmortemScreen")

    def action_note(self) -> None:
        """Ask for a note and record it."""

        def save(text: str | None) -> None:
            if text and self.read_only:  # an observer by role since the note was begun, too
                self.notify(self.read_only_reason, title="Not recorded", severity="warning")
            elif text:
                self.record("note", text)

        self.push_screen(_modals().NoteScreen(), save)

    def action_roles(self) -> None:
        """Who holds which role; the lead assigns one or hands lead over (typed twice)."""
        from cockpit.screens.roles import RolesScreen, assign

        if isinstance(self.screen, RolesScreen):
            return
        self.push_screen(RolesScreen(), partial(assign, self))

    def note_event(self, event: Event) -> None:
        super().note_event(event)
        if event.kind == ROLE_ASSIGNED:
            from cockpit.screens.roles import role_changed

            role_changed(self, event)

    def action_acknowledge(self) -> None:
        """Acknowledge the incident once."""
        acknowledged_at = self.session.incident.acknowledged_at
        if acknowledged_at is not None:
            self.notify(f"Already acknowledged at {acknowledged_at[11:19]} UTC")
            return
        if self.read_only:
            self.notify(self.read_only_reason, title="Not recorded", severity="warning")
            return
        if self.acknowledging:
            self.notify("The acknowledgement is on its way to the timeline.")
            return
        from cockpit.screens.confirm import ConfirmScreen

        paging = "pagerduty" in self.session.notifiers
        detail = "Records the acknowledgement (time to acknowledge)" + (
            " and tells PagerDuty." if paging else "."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.acknowledge()

        self.push_screen(
            ConfirmScreen(f"Acknowledge incident #{self.session.incident.id}?", detail), answered
        )

    def action_cancel_automatic(self) -> None:
        """k: stop an automatic rollback's countdown (recorded as the responder's)."""
        if self.cancel_automatic():
            self.notify("Automatic rollback cancelled: the decision is yours.", timeout=10)

    def action_help_anywhere(self) -> None:
        """F1: the help screen, wherever the focus is (? is text in an editor)."""
        self.action_help()

    def action_help(self) -> None:
        """Show keys and screens."""
        keys = [(b.key, b.description, b.tooltip) for b in self.BINDINGS if isinstance(b, Binding)]
        keys += [("x", "Decision", "On the procedure screen: jump to the decision section")]
        if isinstance(self.screen, _modals().HelpScreen):
            return  # F1 on the help itself
        hint = self.next_step(type(self.screen).__name__)
        self.push_screen(_modals().HelpScreen(keys, hint))

    async def action_quit(self) -> None:
        """Leave; the incident stays open and can be resumed."""
        self.record("session.ended", "cockpit detached (quit)")
        self.exit(0)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Dashboard", "Live metrics and triggers", partial(self.action_show, "dashboard")
        )
        yield SystemCommand(
            "Procedure", "The team's runbook", partial(self.action_show, "procedure")
        )
        yield SystemCommand(
            "Timeline", "Every recorded event", partial(self.action_show, "timeline")
        )
        yield SystemCommand("Decide", "The decision wizard", self.action_decide)
        yield SystemCommand("Checklists", "Tick, untick, skip", self.action_checklists)
        yield SystemCommand("Roll back", "Plan, confirm and run an option", self.action_roll_back)
        yield SystemCommand("Providers", "Configured providers and health", self.action_providers)
        yield SystemCommand("Drafts", "Communication drafts", self.action_drafts)
        yield SystemCommand(
            "Post-mortem", "Preview the export, write its sections", self.action_postmortem
        )
        yield SystemCommand("Add note", "Record a note in the timeline", self.action_note)
        yield SystemCommand(
            "Acknowledge incident", "Record the acknowledgement", self.action_acknowledge
        )
        yield SystemCommand(
            "Roles", "Who holds which role; the lead assigns them", self.action_roles
        )
        yield SystemCommand("Keys and screens", "Help", self.action_help)
        if not self.driving and not self.read_only:
            yield SystemCommand(
                "Take over driving",
                "Stop the cockpit that drives this incident and drive it from here",
                self.action_take_over,
            )


_LETTER_ACTIONS = frozenset(
    binding.action.partition("(")[0]
    for binding in CockpitApp.BINDINGS
    if isinstance(binding, Binding) and (len(binding.key) == 1 or binding.key == "question_mark")
)
"""The App's actions bound to a single printable key (d, p, a, q, ...)."""
