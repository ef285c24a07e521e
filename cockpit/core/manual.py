"""Rollback options done by hand: what the cockpit records when it cannot perform one.

An option whose provider is `manual` (the runbook's steps are for a person: a disaster-recovery
script, a workflow dispatched from GitHub), or whose provider is not configured here, is still a
rollback. The responder does it by hand and the cockpit records it as the same `action.intent`
and `action.result` a provider's action writes (action `manual.<action>`, the option, the
target, the outcome, verified only when the responder says so), so every duration, checklist
and stat counts it with no special case. Its steps are `action.step` events of that action, in
the runbook's order: a step is ticked only once every earlier one is done or skipped with a
reason, and the option is marked done only when no step is left open.

Pure Python: the screen (cockpit/screens/manual.py) asks, this module says what is allowed and
what is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cockpit.core.actions import Plan
from cockpit.core.errors import CockpitError

if TYPE_CHECKING:
    from cockpit.core.procedure import RollbackOption

MANUAL = "manual"
"""The provider name a procedure uses for steps a person runs."""

PREFIX = f"{MANUAL}."
"""What starts the action name of everything done by hand: `manual.dispatch_workflow`."""

STEP = "action.step"
"""A step of an action, done or skipped (payload: action_id, step, of, text, status, reason)."""

StepStatus = Literal["done", "skipped"]

Choice = Literal["verified", "unverified", "failed"]
"""How the responder says it ended: done and verified, done but not verified, or failed."""

CHOICES: dict[Choice, tuple[str, str, bool]] = {
    "verified": ("Done and verified", "succeeded", True),
    "unverified": ("Done, not verified", "succeeded", False),
    "failed": ("Failed", "failed", False),
}
"""Each choice: its words, the action's outcome, whether it counts as verified."""


@dataclass(frozen=True)
class StepMark:
    """A step done or skipped: by whom and when (both empty while it is on its way)."""

    index: int
    """Its position in the option's steps, from 0."""
    status: StepStatus
    actor: str = ""
    at: str = ""
    reason: str = ""

    @property
    def pending(self) -> bool:
        """Asked for here and not yet read back from the timeline."""
        return not self.at

    @classmethod
    def from_payload(cls, payload: dict[str, Any], actor: str, at: str) -> StepMark | None:
        """The mark an `action.step` event records; None if the payload is not one."""
        index, status = payload.get("step"), payload.get("status")
        if not isinstance(index, int) or status not in ("done", "skipped"):
            return None
        return cls(index, status, actor, at, str(payload.get("reason") or ""))


class StepOpen(CockpitError):
    """An earlier step is still open: it is done, or skipped with a reason, first."""

    title = "Step still open"

    def __init__(self, index: int, text: str) -> None:
        self.index = index
        super().__init__(
            f"Step {index + 1} is still open: {text}. Tick it once it is done, or skip it "
            "with s and a reason (no step is skipped silently)."
        )


def is_manual(action: str) -> bool:
    """Whether an action's name says it was done by hand."""
    return action.startswith(PREFIX)


def action_name(option: RollbackOption) -> str:
    """`manual.<action>`: the name the timeline records for the option done by hand."""
    return f"{PREFIX}{option.action}"


_CONTINUED = re.compile(r"\s*\\\n\s*")


def command_line(commands: Sequence[str]) -> str:
    """The runbook's commands as one line for the timeline's command (continuation lines
    joined), in their order."""
    return " ; ".join(_CONTINUED.sub(" ", command).strip() for command in commands)


def plan_for(option: RollbackOption) -> Plan:
    """The option as a plan no provider will run: its steps are what will change, the
    runbook's commands the CLI line, and its target (typed back when the option is
    destructive) the option's id."""
    return Plan(
        provider=MANUAL,
        action=option.action,
        target=option.id,
        title=option.title,
        calls=[],
        changes=list(option.steps),
        cli=command_line(option.commands),
        destructive=option.destructive,
        verify="the responder says whether it was verified",
        data={"provider": option.provider, "params": dict(option.params)},
        warnings=[option.warning] if option.warning else [],
    )


def intent(option: RollbackOption) -> tuple[str, str, dict[str, Any], str]:
    """What `Timeline.begin_action` records when the responder starts: action, summary,
    payload and command."""
    plan = plan_for(option)
    payload = {
        "plan": plan.as_payload(),
        "target": plan.target,
        "option": option.id,
        "provider": option.provider,
        "by_hand": True,
    }
    return action_name(option), f"By hand: {option.title}", payload, plan.cli


def result(option: RollbackOption, choice: Choice, note: str) -> tuple[str, str, dict[str, Any]]:
    """What `Timeline.finish_action` records: outcome, summary and payload (with `verified`
    exactly as the responder said)."""
    words, outcome, verified = CHOICES[choice]
    summary = f"{words} by hand: {option.title}" + (f": {note}" if note else "")
    payload = {"verified": verified, "option": option.id, "by_hand": True, "note": note}
    return outcome, summary, payload


class Steps:
    """An option's steps and how far the responder got, in the runbook's order."""

    def __init__(self, texts: Sequence[str], marks: Iterable[StepMark] = ()) -> None:
        self.texts = list(texts)
        self.marks: dict[int, StepMark] = {}
        for mark in marks:
            self.mark(mark)

    def mark(self, mark: StepMark) -> None:
        """Take a mark; the first recorded one of a step stands (two responders ticking the
        same step record it twice), and a recorded mark replaces one on its way."""
        if not 0 <= mark.index < len(self.texts):
            return
        known = self.marks.get(mark.index)
        if known is None or (known.pending and not mark.pending):
            self.marks[mark.index] = mark

    @property
    def next_open(self) -> int | None:
        """The first step neither done nor skipped."""
        return next((i for i in range(len(self.texts)) if i not in self.marks), None)

    def check_tick(self, index: int) -> None:
        """Refuse to tick a step out of order (StepOpen names the earlier one still open), or
        one already settled (ValueError)."""
        if index in self.marks:
            raise ValueError(f"Step {index + 1} is already {self.marks[index].status}.")
        first = self.next_open
        if first is not None and first < index:
            raise StepOpen(first, self.texts[first])

    def check_done(self) -> None:
        """Refuse to mark the option done while a step is open (StepOpen names it)."""
        first = self.next_open
        if first is not None:
            raise StepOpen(first, self.texts[first])

    def event(self, index: int, status: StepStatus, reason: str = "") -> tuple[str, dict[str, Any]]:
        """The summary and payload of an `action.step` event (the action_id is added when the
        action's intent is known)."""
        text = self.texts[index]
        where = f"Step {index + 1}/{len(self.texts)}"
        summary = (
            f"{where} done by hand: {text}"
            if status == "done"
            else f"{where} skipped: {text} (why: {reason})"
        )
        payload: dict[str, Any] = {
            "step": index,
            "of": len(self.texts),
            "text": text,
            "status": status,
        }
        if reason:
            payload["reason"] = reason
        return summary, payload


BEFORE = "plan.step"
"""A step the runbook puts before a provider's action (stop the app), done or skipped with why
on the action screen before it can be confirmed (payload: option, before, step, of, text,
status, reason). Not `action.step`: no action has begun yet (and `action.` is the
Timeline's own)."""

SKIP = "skip "
"""How a step before an action is skipped on the action screen: `skip <why>`."""


def before_answer(steps: Steps, typed: str) -> tuple[int, StepStatus, str]:
    """What the responder's Enter says of the first open step before an action: Enter alone
    is done, `skip <why>` is skipped with that reason. Anything else (a target name typed too
    soon) is refused, so a step is never passed over by mistake.

    Raises:
        StepOpen: The answer is neither; the message names the step and how to answer.
    """
    index = steps.next_open
    if index is None:
        raise ValueError("no step is open")
    text = typed.strip()
    if not text:
        return index, "done", ""
    if text.lower().startswith(SKIP) and text[len(SKIP) :].strip():
        return index, "skipped", text[len(SKIP) :].strip()
    raise StepOpen(index, steps.texts[index])


def why_by_hand(provider: str, configured: Sequence[str], *, installed: bool) -> str:
    """Why the cockpit cannot perform this option, in plain words."""
    if provider == MANUAL:
        reason = "The procedure does this by hand: the cockpit cannot perform it."
    elif not installed:
        reason = f"No provider named {provider!r} is installed: the cockpit cannot perform this."
    else:
        shown = ", ".join(sorted(configured)) or "none"
        reason = (
            f"The {provider!r} provider is not configured in this session (configured: "
            f"{shown}): the cockpit cannot perform this ([providers.{provider}] in "
            "cockpit.toml lets it)."
        )
    return f"{reason} You do it; tick each step here as it is done, then mark the option."
