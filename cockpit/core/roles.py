"""Roles in an incident: incident lead, responder, communications, observer.

Who holds which role is an event, like everything else the cockpit knows. Whoever opened the
incident (the actor of ``incident.opened``) is its lead until the lead hands it over; after
that, ``role.assigned`` events ({role, person, by, previous}) say who holds what, and a
hand-over of lead is simply the lead assigning ``lead`` to someone else (the former lead then
holds no role until the new lead gives them one).

The rules, checked when writing, inside the timeline's transaction (`Timeline.assign_role`
and `PgTimeline.assign_role` fold the incident's role events and call `plan_assignment` under
the append lock), so two cockpits cannot both hand over lead:

- only the current lead may assign or hand over a role; a refusal names who holds lead;
- a person holds at most one role: assigning one replaces the one they held;
- the lead keeps lead until handing it over (they cannot take another role first);
- the four role names are fixed; any other is an error that lists them;
- a person is named by a non-empty line of printable text (their user name: an actor
  "alice via ssh 203.0.113.7 on pts/3" is the person "alice", see `person_of`).

`Roles` is the fold: who holds which role after any prefix of the incident's events, with
every change and its time (the post-mortem lists them). An observer's cockpit is read-only by
its role (cockpit.timeline_app). Pure Python, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cockpit.core.errors import IncidentError

if TYPE_CHECKING:
    from cockpit.core.event_log import Event

LEAD = "lead"
RESPONDER = "responder"
COMMUNICATIONS = "communications"
OBSERVER = "observer"
ROLES: tuple[str, ...] = (LEAD, RESPONDER, COMMUNICATIONS, OBSERVER)
"""The four roles, fixed."""

ASSIGNED = "role.assigned"
"""A role given to a person by the lead (payload: role, person, by, previous)."""
OPENED = "incident.opened"
ROLE_KINDS: tuple[str, ...] = (OPENED, ASSIGNED)
"""The kinds the fold reads: the opening names the first lead."""

MAX_NAME = 100
"""The longest person name accepted (characters)."""


class RoleError(IncidentError):
    """A role cannot be assigned: an unknown role or a bad name."""

    title = "Role not assigned"


class RoleRefused(RoleError):
    """The rules refuse the assignment: the caller is not the lead, or the lead would give
    themselves another role without handing lead over first."""

    title = "Role refused"


def person_of(actor: str) -> str:
    """The person an actor is: its user name ("alice via ssh 203.0.113.7 on pts/3" → "alice")."""
    return actor.split(" via ssh ", 1)[0].split(" on ", 1)[0].strip()


def check_role(role: str) -> str:
    """The role, when it is one of the four.

    Raises:
        RoleError: Any other name (the four are listed).
    """
    if role not in ROLES:
        raise RoleError(f"unknown role {role!r}: a role is one of {', '.join(ROLES)}")
    return role


def check_person(person: str) -> str:
    """A person's name as stored: stripped, one line of printable text.

    Raises:
        RoleError: Empty, too long, or holding a control character.
    """
    name = person.strip()
    if not name:
        raise RoleError("a person's name cannot be empty")
    if not name.isprintable():
        raise RoleError(f"a person's name is printable text, not {name!r}")
    if len(name) > MAX_NAME:
        raise RoleError(f"a person's name is at most {MAX_NAME} characters")
    return name


@dataclass(frozen=True)
class RoleChange:
    """One change of who holds a role: the opening (the first lead) or an assignment."""

    at: str
    role: str
    person: str
    by: str | None
    """Who assigned it (None: the person opened the incident)."""
    previous: str | None = None
    """The role the person held before, if any."""
    handed_from: str | None = None
    """For lead: who held it before (a hand-over)."""


@dataclass
class Roles:
    """Who holds which role in one incident, folded from its events (see the module)."""

    held: dict[str, str] = field(default_factory=dict)
    """Person → the one role they hold."""
    lead: str | None = None
    changes: list[RoleChange] = field(default_factory=list)
    """Every change, in order, with its time."""

    @classmethod
    def replay(cls, events: Iterable[Event]) -> Roles:
        """The roles after these events (of one incident, in id order)."""
        roles = cls()
        for event in events:
            roles.apply(event)
        return roles

    def apply(self, event: Event) -> bool:
        """Fold one event in; True when it changed who holds what."""
        return self.fold(event.kind, event.actor, event.ts, event.payload)

    def fold(self, kind: str, actor: str, ts: str, payload: Mapping[str, Any]) -> bool:
        """`apply` on an event's parts."""
        if kind == OPENED:
            if self.lead is not None:
                return False
            opener = person_of(actor)
            self.lead, self.held[opener] = opener, LEAD
            self.changes.append(RoleChange(ts, LEAD, opener, None))
            return True
        if kind != ASSIGNED:
            return False
        role, person = payload.get("role"), payload.get("person")
        if role not in ROLES or not isinstance(person, str) or not person:
            return False  # not written by `plan_assignment`: nothing to fold
        by = payload.get("by")
        previous = self.held.get(person)
        handed_from = None
        if role == LEAD:
            handed_from = self.lead
            if self.lead is not None:
                self.held.pop(self.lead, None)
            self.lead = person
        self.held[person] = str(role)
        self.changes.append(
            RoleChange(ts, str(role), person, str(by) if by else None, previous, handed_from)
        )
        return True

    def role_of(self, person: str) -> str | None:
        """The role a person holds, None when none."""
        return self.held.get(person)

    def holders(self, role: str) -> list[str]:
        """Who holds a role, in the order they were given it."""
        return [person for person, held in self.held.items() if held == role]

    def listing(self) -> list[tuple[str, str]]:
        """(role, person) for everyone holding a role, in the roles' order."""
        return [(role, person) for role in ROLES for person in self.holders(role)]


def plan_assignment(
    incident_id: int, roles: Roles, by: str, role: str, person: str
) -> tuple[str, dict[str, Any]] | None:
    """The ``role.assigned`` event (summary, payload) for `by` giving `role` to `person`, or
    None when the person holds that role already (nothing to record).

    Raises:
        RoleError: Unknown role, or a bad name.
        RoleRefused: `by` is not the lead (the refusal names the lead), or the lead would give
            themselves another role before handing lead over.
    """
    check_role(role)
    name = check_person(person)
    lead = roles.lead or "nobody"
    if by != roles.lead:
        raise RoleRefused(
            f"only the lead assigns roles in incident {incident_id} (lead: {lead}, not {by})"
        )
    previous = roles.role_of(name)
    if previous == role:
        return None
    if name == roles.lead:
        raise RoleRefused(
            f"{name} is the lead of incident {incident_id}: hand lead over first, then the "
            "new lead can give them another role"
        )
    payload: dict[str, Any] = {"role": role, "person": name, "by": by, "previous": previous}
    if role == LEAD:
        summary = f"Lead handed over: {by} → {name}"
    elif previous:
        summary = f"{name} is now {role} (was {previous}), assigned by {by}"
    else:
        summary = f"{name} is now {role}, assigned by {by}"
    return summary, payload
