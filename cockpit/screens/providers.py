"""Provides the providers panel: every configured action provider and whether it answers.

Each provider's health check (a real read against its API with our credentials) runs in its
own thread worker, so a provider that hangs shows "checking…" until its timeout and never
freezes the panel. `h` checks again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Static

from cockpit.core.errors import CockpitError
from cockpit.screens.base import CockpitScreen
from cockpit.screens.incident_bar import IncidentBar
from widgets.footer import KeyFooter
from widgets.plain import plain, plain_text

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from providers.base import ActionProvider


class HealthChecked(Message):
    """One provider's health: a line, and whether it is good."""

    def __init__(self, slot: str, ok: bool, line: str) -> None:
        super().__init__()
        self.slot = slot
        self.ok = ok
        self.line = line


class ProvidersScreen(CockpitScreen[None]):
    """The configured providers, what they can do and their health."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "check", "Check again", id="providers.check"),
        Binding("escape", "leave", "Back", id="providers.leave"),
    ]

    def compose(self) -> ComposeResult:
        yield IncidentBar()
        yield Static(id="providers-head")
        yield DataTable(id="providers-table", cursor_type="row")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("name", key="name")
        table.add_column("provider", key="provider")
        table.add_column("actions", key="actions")
        table.add_column("health", key="health")
        actions = self.cockpit.session.actions
        head = self.query_one("#providers-head", Static)
        if not actions:
            # plain: as markup, "[providers.NAME]" was a style and vanished from the line.
            head.update(
                plain(
                    "No action providers are configured: add [providers.NAME] sections to "
                    "cockpit.toml (see the README). The procedure's commands can still be run "
                    "by hand."
                )
            )
            return
        head.update(plain(f"{len(actions)} providers configured; h checks their health again"))
        for slot, provider in sorted(actions.items()):
            table.add_row(
                plain_text(slot, one_line=True),
                plain_text(provider.title, one_line=True),
                plain_text(", ".join(provider.actions), one_line=True),
                "checking…",
                key=slot,
            )
        self.action_check()

    def action_check(self) -> None:
        """Check every provider's health again, each in its own worker."""
        table = self.query_one(DataTable)
        for slot, provider in self.cockpit.session.actions.items():
            table.update_cell(slot, "health", "checking…")
            self.check(slot, provider)

    @work(thread=True, exit_on_error=False, group="health")
    def check(self, slot: str, provider: ActionProvider) -> None:
        """Worker: one provider's health."""
        try:
            line = provider.health()
        except CockpitError as error:
            self.post_message(HealthChecked(slot, False, str(error)))
        except Exception as error:  # a provider bug shows as unhealthy, not as a crash
            self.post_message(HealthChecked(slot, False, f"internal error: {error}"))
        else:
            self.post_message(HealthChecked(slot, True, line))

    @on(HealthChecked)
    def checked(self, message: HealthChecked) -> None:
        mark = "OK" if message.ok else "FAILING"
        # The platform's own words (an error body may hold "[/]" or ESC): plain, one line. The
        # column widens to show them (it was as wide as "checking…", and cut every error off).
        line = plain_text(f"{mark}: {message.line}", one_line=True)
        self.query_one(DataTable).update_cell(message.slot, "health", line, update_width=True)

    def action_leave(self) -> None:
        """Back."""
        self.dismiss(None)
