"""Provides RolesScreen: who holds which role in the incident, and the lead assigning one.

`l` opens it over any screen. Everyone sees who holds lead, responder, communications and
observer (live: a role assigned elsewhere shows at once) and their own role. The lead picks a
role (↑/↓, the name field keeps the focus), types a person's name (their user name, as the
timeline's actor names them) and presses Enter; handing lead over asks for the name to be typed
again, so a slip of the keyboard cannot give the incident away. Everyone else is told who leads.

What is chosen is written by `assign` through the App's writer: the rules are checked again
inside the timeline's transaction (cockpit.core.roles), so a refusal there (another cockpit
handed lead over meanwhile) is shown as any failed write is. `role_changed` is what a cockpit
does when a role arrives through the feed: it tells its responder when the role is theirs, and
an observer's cockpit turns read-only, giving up driving the incident's automation.

Names come from the keyboard and the timeline: shown with `plain`, never as markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Static

from cockpit.core.roles import (
    ASSIGNED,
    LEAD,
    OBSERVER,
    RESPONDER,
    ROLES,
    RoleError,
    person_of,
    plan_assignment,
)
from cockpit.screens.base import CockpitModal
from widgets.editors import PlainInput
from widgets.plain import assemble, plain

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.content import Content

    from cockpit.core.timeline import Event
    from cockpit.incident_app import IncidentApp

Chosen = tuple[str, str]
"""(role, person) as the lead chose them."""


def me(app: IncidentApp) -> str:
    """The person this cockpit is (its actor's user name)."""
    return person_of(app.session.timeline.actor)


class RolesScreen(CockpitModal[Chosen | None]):
    """Who holds which role; the lead assigns one (a hand-over of lead typed twice)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close", id="roles.cancel"),
        Binding("up", "choose(-1)", "Previous role", show=False, id="roles.choose_up"),
        Binding("down", "choose(1)", "Next role", show=False, id="roles.choose_down"),
    ]
    DEFAULT_CSS = """
    RolesScreen { align: center middle; }
    RolesScreen > Vertical {
        width: 72; height: auto; max-height: 100%; border: round $primary;
        background: $surface; padding: 0 1;
    }
    RolesScreen #roles-title { text-style: bold; }
    RolesScreen #roles-scroll { height: auto; max-height: 8; margin: 1 0; }
    RolesScreen #roles-list { height: auto; }
    RolesScreen #role-choice { height: 1; margin-top: 1; }
    RolesScreen #role-confirm { display: none; }
    RolesScreen #role-confirm.asked { display: block; }
    RolesScreen #roles-say { height: auto; color: $warning; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.pending: str | None = None
        """The person lead is to be handed to, while the typed confirmation is asked."""
        self.choice = ROLES.index(RESPONDER)
        """The role to assign (↑/↓), an index in `ROLES`."""

    @property
    def leading(self) -> bool:
        """Whether this cockpit's person leads the incident (and may assign roles)."""
        return self.cockpit.state.roles.lead == me(self.cockpit)

    @property
    def taking_text(self) -> bool:
        """The App's letter keys stay quiet while a name is typed (cockpit.app)."""
        return self.leading

    def compose(self) -> ComposeResult:
        incident = self.cockpit.session.incident.id
        leading = self.leading
        with Vertical(id="roles-box"):
            yield Static(plain(f"Roles in incident {incident}"), id="roles-title")
            with VerticalScroll(id="roles-scroll"):
                yield Static(self.listing(), id="roles-list")
            if not leading:
                lead = self.cockpit.state.roles.lead or "nobody"
                yield Static(
                    plain(f"Only the lead assigns roles (lead: {lead}). Esc closes.", one_line=True)
                )
                return
            yield Static(
                plain(
                    "Assign a role: ↑/↓ picks it, type the person's name (their user name), "
                    "Enter. Handing lead over asks for the name again. Esc closes."
                )
            )
            yield Static(self.choice_text(), id="role-choice")
            yield PlainInput(placeholder="the person's name", id="role-person")
            yield PlainInput(placeholder="type the name again to hand lead over", id="role-confirm")
            yield Static("", id="roles-say")

    def on_mount(self) -> None:
        self.cockpit.event_recorded.subscribe(self, self.event_recorded)
        if self.leading:
            self.query_one("#role-person", Input).focus()  # ↑/↓ move the choice meanwhile

    def listing(self) -> Content:
        """Who holds which role, one per line, this cockpit's person marked."""
        roles, mine = self.cockpit.state.roles, me(self.cockpit)
        lines = [
            f"{role:<15} {person}{' (you)' if person == mine else ''}"
            for role, person in roles.listing()
        ]
        if roles.role_of(mine) is None:
            lines.append(f"you ({mine}) hold no role")
        return plain("\n".join(lines))

    def choice_text(self) -> Content:
        """'Role:  lead  [responder]  communications  observer', the chosen one stands out."""
        parts: list[tuple[str, str]] = [("Role (↑/↓):", "dim")]
        for index, role in enumerate(ROLES):
            parts += [(" ", ""), (f" {role} ", "reverse bold" if index == self.choice else "")]
        return assemble(*parts, one_line=True)

    def event_recorded(self, event: Event) -> None:
        """A role assigned anywhere shows at once."""
        if event.kind == ASSIGNED:
            self.query_one("#roles-list", Static).update(self.listing())

    def say(self, text: str) -> None:
        self.query_one("#roles-say", Static).update(plain(text))

    def action_choose(self, step: int) -> None:
        """↑/↓: the role to assign."""
        if not self.leading or self.pending is not None:
            return
        self.choice = (self.choice + step) % len(ROLES)
        self.query_one("#role-choice", Static).update(self.choice_text())

    @on(Input.Submitted, "#role-person")
    def person_typed(self, message: Input.Submitted) -> None:
        if self.pending is not None:
            return
        role = ROLES[self.choice]
        app = self.cockpit
        try:
            made = plan_assignment(
                app.session.incident.id, app.state.roles, me(app), role, message.value
            )
        except RoleError as error:
            self.say(str(error))
            return
        name = message.value.strip()
        if made is None:
            self.say(f"{name} holds {role} already.")
            return
        if role != LEAD:
            self.dismiss((role, name))
            return
        self.pending = name
        confirm = self.query_one("#role-confirm", Input)
        confirm.add_class("asked")
        confirm.focus()
        self.say(
            f"Hand lead of incident {app.session.incident.id} to {name}? You will no longer "
            f"assign roles. Type {name} again and press Enter; Esc cancels."
        )

    @on(Input.Submitted, "#role-confirm")
    def confirmation_typed(self, message: Input.Submitted) -> None:
        if self.pending is None:
            return
        if message.value.strip() != self.pending:
            message.input.value = ""
            self.say(f"Not handed over: the name typed is not {self.pending}. Type it again.")
            return
        self.dismiss((LEAD, self.pending))

    def action_cancel(self) -> None:
        """Close without assigning."""
        self.dismiss(None)


def assign(app: IncidentApp, chosen: Chosen | None) -> None:
    """Write what the lead chose (checked again in the timeline's transaction)."""
    if chosen is None:
        return
    if app.read_only:
        app.notify(app.read_only_reason, title="Not recorded", severity="warning")
        return
    role, person = chosen
    incident, at = app.session.incident.id, app.session.clock.now()

    def done(event: Event | None) -> None:  # once read back: the bar and lists show it too
        if event is None:
            app.notify(f"{person} holds {role} already: nothing recorded.")
        else:
            app.notify(event.summary, title="Roles", timeout=10)

    app.write(
        lambda timeline: timeline.assign_role(incident, role, person, at=at),
        "Role not assigned",
        then=done,
    )


def role_changed(app: IncidentApp, event: Event) -> None:
    """A role arrived through the feed (the state holds it): the keys that depend on being
    read-only are checked again; the person it names is told when that is this cockpit's; an
    observer's cockpit stops driving the automation (it writes nothing, so another does)."""
    app.refresh_bindings()
    person, role = event.payload.get("person"), event.payload.get("role")
    incident = app.session.incident.id
    if person == me(app) and not app.session.watching:
        if role == OBSERVER:
            app.notify(
                f"{app.read_only_reason}: this cockpit records nothing from now on.",
                title="You are an observer",
                severity="warning",
                timeout=30,
            )
        elif role == LEAD:
            app.notify(f"You lead incident {incident} now: l assigns roles.", timeout=15)
        else:
            app.notify(f"You are {role} in incident {incident} now.", timeout=15)
    if app.read_only:
        app.driver.give_up()
