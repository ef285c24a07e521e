"""Provides the rollback screen: the procedure's options, the decided one first, one key to run.

Each line says the option's level, title, recovery time, risk and whether a provider is
configured for it; Enter opens the action screen (plan, confirmation, run). An option the cockpit
cannot perform (provider `manual`, or not configured) opens to be done by hand: its steps ticked
in order, its end recorded as a rollback like any other (cockpit/screens/manual.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from cockpit.core.manual import MANUAL
from cockpit.core.recovery_text import recovery_words
from cockpit.core.wizard import DECIDED
from cockpit.screens.base import CockpitScreen
from cockpit.screens.incident_bar import IncidentBar
from widgets.footer import KeyFooter
from widgets.plain import assemble, plain

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.content import Content

    from cockpit.core.procedure import Procedure, RollbackOption
    from cockpit.incident_app import IncidentApp


def decided_options(app: IncidentApp) -> list[str]:
    """The options of the latest decision, best first (empty before any decision)."""
    for event in reversed(app.events):
        if event.kind == DECIDED:
            return [str(option) for option in event.payload.get("options", [])]
    return []


class RollbackScreen(CockpitScreen[None]):
    """Choose a rollback option and open its action."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Back", id="rollback.leave"),
    ]

    @property
    def procedure(self) -> Procedure:
        """The incident's procedure (the App opens this screen once it is loaded)."""
        procedure = self.cockpit.session.procedure
        assert procedure is not None
        return procedure

    def compose(self) -> ComposeResult:
        yield IncidentBar()
        decided = decided_options(self.cockpit)
        options = sorted(
            self.procedure.options,
            key=lambda o: (o.id not in decided, decided.index(o.id) if o.id in decided else 0),
        )
        head = (
            "Decided: " + ", ".join(decided) + " — Enter opens the plan"
            if decided
            else "No decision yet (w decides); every option of the procedure:"
        )
        yield Static(plain(head), id="rollback-head")
        yield OptionList(
            *[Option(self.line(option, option.id in decided), id=option.id) for option in options],
            id="rollback-options",
        )
        yield KeyFooter()

    def line(self, option: RollbackOption, decided: bool) -> Content:
        """One option: level, title, time, risk, provider status."""
        if option.provider == MANUAL:
            status = "by hand (recorded here)"
        elif option.provider in self.cockpit.session.actions:
            status = "ready"
        else:
            status = "not configured: by hand (recorded here)"
        first = assemble(
            (f"L{option.level} {option.title}", "bold" if decided else ""),
            f"  {recovery_words(option.recovery_time)} · risk {option.risk}",
            one_line=True,
        )
        second = plain(f"    {option.provider}.{option.action} · {status}", "dim", one_line=True)
        return assemble(first, "\n", second)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        from cockpit.screens.action import ActionScreen

        option = self.procedure.option(str(message.option.id))
        self.app.push_screen(
            ActionScreen(option.provider, option.action, dict(option.params), option=option.id)
        )

    def action_leave(self) -> None:
        """Back."""
        self.dismiss(None)
