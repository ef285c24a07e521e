"""What the manual screen is made of apart from the screen: how it writes an option done by
hand to the timeline, and its rows of steps.

Every write goes to the App's one writer, in order, and nothing waits for it: the intent is
queued once, and a step or the result queued before the intent has come back takes the
action's id from the intent's write, which the writer has made by then (its jobs run one after
the other). A failed intent fails what follows it, and the App says so (never silently).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets.option_list import Option

from cockpit.core import manual
from cockpit.core.errors import CockpitError
from cockpit.core.manual import CHOICES, Choice, Steps, StepStatus
from widgets.plain import plain

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future

    from cockpit.core.procedure import RollbackOption
    from cockpit.core.timeline import Event
    from cockpit.core.writer import WriterTimeline
    from cockpit.incident_app import IncidentApp

_BOX = {"done": "[x]", "skipped": "[-]"}


class ManualRecorder:
    """The option's action in the timeline: begun once, then its steps and its result."""

    def __init__(self, app: IncidentApp, option: RollbackOption) -> None:
        self.app = app
        self.option = option
        self.action_id: str | None = None
        """The action's id once its intent is read back (this cockpit's or another's)."""
        self.begun: Future[Event] | None = None
        """This cockpit's own intent, on its way to the timeline."""

    @property
    def started(self) -> bool:
        """Whether the action's start is recorded, or on its way."""
        return self.action_id is not None or self.begun is not None

    def begin(self) -> None:
        """Record the intent, once (the first step, skip or mark does it when b was not)."""
        if self.started:
            return
        action, summary, payload, command = manual.intent(self.option)
        try:
            self.begun = self.app.begin_action_later(action, summary, payload, command)
        except CockpitError as error:  # read-only: the screen checks first, but never silent
            self.app.notify(str(error), severity="error")

    def step(self, steps: Steps, index: int, status: StepStatus, reason: str = "") -> None:
        """A step done or skipped, within the action."""
        summary, payload = steps.event(index, status, reason)
        incident, at = self.app.session.incident.id, self.app.session.clock.now()
        self._within(
            lambda timeline, action_id: timeline.step_action(
                incident, action_id, summary, payload, at=at
            ),
            manual.STEP,
        )

    def finish(self, choice: Choice, note: str) -> str:
        """The option's result, as a provider's action records one; returns its summary."""
        outcome, summary, payload = manual.result(self.option, choice, note)
        incident, at = self.app.session.incident.id, self.app.session.clock.now()
        self._within(
            lambda timeline, action_id: timeline.finish_action(
                incident,
                action_id,
                outcome,  # type: ignore[arg-type]
                summary,
                payload,
                at=at,
            ),
            "action.result",
        )
        return summary

    def follows(self, intent: Event) -> bool:
        """Whether this intent is the action to follow: this cockpit's own, or (before this
        one began) one another responder began for the same option."""
        payload = intent.payload
        if payload.get("option") != self.option.id:
            return False
        if payload.get("action") != manual.action_name(self.option):
            return False
        begun = self.begun
        if begun is None:
            return True
        return begun.done() and begun.exception() is None and begun.result().id == intent.id

    def _within(self, write: Callable[[WriterTimeline, str], Event], what: str) -> None:
        self.begin()
        known, begun = self.action_id, self.begun

        def run(timeline: WriterTimeline) -> Event:
            action_id = known
            if action_id is None:
                if begun is None:
                    raise CockpitError("the action's start could not be recorded")
                # Made before this job by the same writer: its result (or its error) is there.
                action_id = str(begun.result(timeout=0).payload["action_id"])
            return write(timeline, action_id)

        self.app.write(run, what)


def step_rows(steps: Steps) -> list[Option | None]:
    """One row per step (box, number, text, who and when), then the three endings."""
    rows: list[Option | None] = []
    upcoming = steps.next_open
    for index, text in enumerate(steps.texts):
        mark = steps.marks.get(index)
        line = f"{_BOX[mark.status] if mark else '[ ]'} {index + 1}. {text}"
        if mark is not None and mark.pending:
            line += "  — recording…"
        elif mark is not None:
            line += f"  — {mark.status} by {mark.actor}, {mark.at[11:19]}"
            line += f": {mark.reason}" if mark.reason else ""
        elif index == upcoming:
            line += "  ← next"
        rows.append(Option(plain(line), id=f"step-{index}"))
    rows.append(None)  # a line between the steps and the endings
    for choice, (words, _, _) in CHOICES.items():
        rows.append(Option(plain(f"Mark the option: {words}"), id=f"choice-{choice}"))
    return rows


def installed(provider: str) -> bool:
    """Whether a provider of this name is installed (`manual` is not a provider)."""
    from providers.registry import provider_names

    return provider in provider_names()
