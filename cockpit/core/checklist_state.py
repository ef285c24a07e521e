"""Checklist state of an incident, rebuilt from its timeline events; automatic items' conditions.

Every tick, untick and skip is a timeline event (`checklist.*`) with its actor and time, so the
state after a restart or an SSH drop is exactly what was recorded. Automatic items tick
themselves when their metric rule holds over the last N samples; the App records that too, as
`checklist.auto_ticked` with the values that met it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cockpit.core.metrics import compare

if TYPE_CHECKING:
    from cockpit.core.procedure import ChecklistItem, Procedure

TICKED = "checklist.ticked"
UNTICKED = "checklist.unticked"
SKIPPED = "checklist.skipped"
AUTO_TICKED = "checklist.auto_ticked"

ANY_OPTION = "any"
"""`option_verified: any`: the item ticks when any rollback option is verified."""
KINDS = (TICKED, UNTICKED, SKIPPED, AUTO_TICKED)

_FIRST_AFTER_DECISION = ("quick", "pre", "during")
"""What a responder works through once the decision is made, in the seeds' order."""


def list_after_decision(kinds: list[str]) -> str:
    """The checklist to open when a rollback option has been decided on."""
    for kind in _FIRST_AFTER_DECISION:
        if kind in kinds:
            return kind
    return kinds[0]


Status = Literal["open", "done", "skipped"]


@dataclass(frozen=True)
class ItemState:
    """Where one item stands, who put it there and when."""

    status: Status = "open"
    actor: str = ""
    at: str = ""
    reason: str = ""
    automatic: bool = False


@dataclass(frozen=True)
class Progress:
    """How far a list is: done and skipped out of all."""

    done: int
    skipped: int
    total: int

    @property
    def complete(self) -> bool:
        """Every item is done or skipped."""
        return self.done + self.skipped == self.total


@dataclass(frozen=True)
class Recorded:
    """The part of a timeline event the state needs."""

    kind: str
    payload: Mapping[str, Any]
    actor: str
    at: str


class ChecklistState:
    """Every checklist of a procedure for one incident."""

    def __init__(self, procedure: Procedure) -> None:
        self.procedure = procedure
        self.items: dict[tuple[str, str], ItemState] = {}

    def replay(self, events: Iterable[Recorded]) -> None:
        """Apply `checklist.*` events in order; unknown lists or items are skipped, not fatal."""
        for event in events:
            if event.kind not in KINDS:
                continue
            key = (str(event.payload.get("list", "")), str(event.payload.get("item", "")))
            if not self._exists(*key):
                continue  # the procedure changed under the incident
            if event.kind == UNTICKED:
                self.items.pop(key, None)
                continue
            status: Status = "skipped" if event.kind == SKIPPED else "done"
            self.items[key] = ItemState(
                status,
                event.actor,
                event.at,
                str(event.payload.get("reason", "")),
                event.kind == AUTO_TICKED,
            )

    def _exists(self, kind: str, item_id: str) -> bool:
        checklist = self.procedure.checklists.get(kind)  # type: ignore[call-overload]
        return checklist is not None and any(item.id == item_id for item in checklist.items)

    def state(self, kind: str, item_id: str) -> ItemState:
        """One item's state (open when nothing was recorded)."""
        return self.items.get((kind, item_id), ItemState())

    def progress(self, kind: str) -> Progress:
        """Done, skipped and total of one list."""
        checklist = self.procedure.checklists[kind]  # type: ignore[index]
        states = [self.state(kind, item.id).status for item in checklist.items]
        return Progress(states.count("done"), states.count("skipped"), len(states))

    def event_for(
        self, kind: str, item_id: str, action: Literal["tick", "untick", "skip"], reason: str = ""
    ) -> tuple[str, str, dict[str, str]]:
        """The (kind, summary, payload) to record for a responder's action; refuses nonsense.

        Raises:
            ValueError: unknown item, a skip without a reason, or an action that changes nothing.
        """
        if not self._exists(kind, item_id):
            raise ValueError(f"no item {item_id!r} in checklist {kind!r}")
        item = self._item(kind, item_id)
        current = self.state(kind, item_id).status
        payload = {"list": kind, "item": item_id}
        if action == "tick":
            if current == "done":
                raise ValueError(f"{item_id!r} is already ticked")
            return TICKED, f"Ticked: {item.text}", payload
        if action == "untick":
            if current == "open":
                raise ValueError(f"{item_id!r} is not ticked")
            return UNTICKED, f"Unticked: {item.text}", payload
        if not reason.strip():
            raise ValueError("a skipped item needs a reason")
        return (
            SKIPPED,
            f"Skipped: {item.text} ({reason.strip()})",
            {**payload, "reason": reason.strip()},
        )

    def text(self, kind: str, item_id: str) -> str:
        """The item's text, as the procedure words it."""
        return self._item(kind, item_id).text

    def _item(self, kind: str, item_id: str) -> ChecklistItem:
        checklist = self.procedure.checklists[kind]  # type: ignore[index]
        return next(item for item in checklist.items if item.id == item_id)

    def automatic_due(
        self, values: Mapping[str, Sequence[float | None]]
    ) -> list[tuple[str, str, str]]:
        """Open automatic items whose metric rule now holds: (list, item, why).

        `values` holds each metric's recent readings, oldest first. A rule holds when its last
        `samples` readings all exist and all satisfy it; a missing reading never ticks an item.
        """
        due: list[tuple[str, str, str]] = []
        for kind, checklist in self.procedure.checklists.items():
            for item in checklist.items:
                auto = item.auto
                if (
                    auto is None
                    or auto.metric is None
                    or self.state(kind, item.id).status != "open"
                ):
                    continue
                assert auto.comparison is not None and auto.threshold is not None
                recent = list(values.get(auto.metric, ()))[-auto.samples :]
                if len(recent) < auto.samples or any(v is None for v in recent):
                    continue
                readings = [v for v in recent if v is not None]
                if all(compare(v, auto.comparison, auto.threshold) for v in readings):
                    shown = ", ".join(f"{v:g}" for v in readings)
                    why = (
                        f"{auto.metric} {auto.comparison} {auto.threshold:g} for the last "
                        f"{auto.samples} samples ({shown})"
                    )
                    due.append((kind, item.id, why))
        return due

    def verified_due(self, option_id: str) -> list[tuple[str, str]]:
        """Open items that tick themselves when this rollback option's action is verified."""
        return [
            (kind, item.id)
            for kind, checklist in self.procedure.checklists.items()
            for item in checklist.items
            if item.auto is not None
            and item.auto.option_verified in (option_id, ANY_OPTION)
            and self.state(kind, item.id).status == "open"
        ]
