"""Runs one planned action: confirm, record the intent, execute, verify, record the result.

The provider made the plan; this module is the part every provider shares, so the rules hold
for all of them: a destructive action runs only when the target's name was typed back; one
action at a time per target; the intent is in the timeline before anything changes and the
result after, whatever happened (succeeded, failed with the reason, cancelled, timed out, or an
error nobody expected), so nothing half-done goes unrecorded. A dry run stops after the plan.

Headless: no Textual. The App calls `run` from a thread worker with a `Recorder` that hands the
writes to the App (the timeline's only writer); tests pass one that writes to a Timeline.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cockpit.core.actions import (
    ActionCancelled,
    ActionTimedOut,
    Executed,
    Plan,
    Report,
    short_code,
)
from cockpit.core.errors import CockpitError, LockHeld, LockLost, ProviderError

if TYPE_CHECKING:
    from cockpit.core.locks import Lock, Locks
    from cockpit.core.timeline import Timeline
    from providers.base import ActionProvider


class Recorder(Protocol):
    """Where the runner writes: the incident's timeline."""

    def begin(self, action: str, summary: str, payload: dict[str, Any], command: str) -> str:
        """Record the intent; return the action id."""

    def finish(self, action_id: str, outcome: str, summary: str, payload: dict[str, Any]) -> None:
        """Record the result of the action with this id."""

    def note(self, kind: str, summary: str, payload: dict[str, Any]) -> None:
        """Record anything else (a refused confirmation, a dry run)."""


class ConfirmationRefused(CockpitError):
    """The typed confirmation did not match the target."""

    title = "Not confirmed"


class TargetBusy(CockpitError):
    """Another action is running on the same target."""

    title = "Target busy"


@dataclass(frozen=True)
class Result:
    """How an action ended."""

    outcome: str  # succeeded | failed | cancelled
    summary: str
    verified: bool
    transcript: list[str]


_busy: set[str] = set()
_busy_lock = threading.Lock()


def stricter(plan: Plan, destructive: bool) -> Plan:
    """The procedure may make an action stricter than its provider's plan, never looser: a plan
    is destructive (its target typed back to run it) when either of them says so."""
    if destructive and not plan.destructive:
        plan.destructive = True
        plan.warnings.append(
            "the procedure marks this option destructive: type the target's name to run it"
        )
    return plan


def confirm(plan: Plan, typed: str | None) -> str:
    """Refuse a destructive plan unless its target was typed exactly, or its short code when the
    plan has one (others need Enter); returns how it was confirmed, for the timeline."""
    if not plan.destructive:
        return "enter"
    text = (typed or "").strip()
    if text == plan.target:
        return "target name"
    if plan.short_code is not None and text.lower() == plan.short_code.lower():
        return "short code"
    code = f" or its code {plan.short_code!r}" if plan.short_code else ""
    raise ConfirmationRefused(
        f"type the target's name exactly to confirm: {plan.target!r}{code}"
        + (f" (you typed {text!r})" if text else "")
    )


def allow_short_code(plan: Plan, allowed: bool) -> Plan:
    """Give a destructive plan its short code when the procedure allows one."""
    if allowed and plan.destructive:
        plan.short_code = short_code(plan.target)
    return plan


def dry_run(plan: Plan, recorder: Recorder) -> None:
    """Record the plan and stop: nothing runs."""
    recorder.note(
        "plan.dry_run",
        f"Dry run: {plan.title} (nothing was changed)",
        {"plan": plan.as_payload(), "command": plan.cli},
    )


def run(
    provider: ActionProvider,
    plan: Plan,
    typed: str | None,
    recorder: Recorder,
    report: Report,
    *,
    locks: Locks | None = None,
) -> Result:
    """Confirm, record the intent, execute, verify and record the result; never raises after
    the intent is recorded (the result says what went wrong).

    `locks`: the per-target locks the timeline's cockpits share (one action at a time per
    target across processes, or across hosts on a team database); without it, only within
    this process.
    """
    try:
        confirmed = confirm(plan, typed)
    except ConfirmationRefused as error:
        recorder.note(
            "plan.refused",
            f"Not run: {plan.title}: {error}",
            {"plan": plan.as_payload(), "reason": str(error)},
        )
        raise
    with _claimed(f"{plan.provider}:{plan.target}", plan.target, locks) as lock:
        action_id = recorder.begin(
            f"{plan.provider}.{plan.action}",
            plan.title,
            {"plan": plan.as_payload(), "target": plan.target, "confirmed_by": confirmed},
            plan.cli,
        )
        result = _execute_and_verify(provider, plan, report, lock)
        recorder.finish(
            action_id,
            result.outcome,
            result.summary,
            {"verified": result.verified, "transcript": result.transcript, "undo": plan.undo},
        )
        return result


@contextlib.contextmanager
def _claimed(key: str, target: str, locks: Locks | None) -> Iterator[Lock | None]:
    """Hold the target for the action: in this process, and across processes when `locks`
    are the timeline's (an flock, or PostgreSQL's advisory lock: released even if this
    process dies)."""
    with _busy_lock:
        if key in _busy:
            raise TargetBusy(f"another action is running on {target}; wait for it to end")
        _busy.add(key)
    lock = locks.target(key, target) if locks is not None else None
    try:
        if lock is not None:
            try:
                lock.acquire()
            except LockHeld as error:
                raise TargetBusy(f"{error}; wait for it to end") from None
        yield lock
    finally:
        if lock is not None:
            lock.release()
        with _busy_lock:
            _busy.discard(key)


def _execute_and_verify(
    provider: ActionProvider, plan: Plan, report: Report, lock: Lock | None = None
) -> Result:
    executed: Executed | None = None
    try:
        report.progress(0.05, f"running: {plan.title}")
        # A team database's lock dies with its connection: proven held before the change,
        # or another responder may be acting on the target already.
        check = getattr(lock, "check", None)
        if check is not None:
            check()
        executed = provider.execute(plan, report)
        report.progress(0.5, executed.summary)
        verified = provider.verify(plan, executed, report)
        report.progress(1.0, verified.summary)
    except ActionCancelled as error:
        return _ended(report, "cancelled", f"Cancelled: {plan.title}", error, executed)
    except ActionTimedOut as error:
        return _ended(report, "failed", f"Timed out: {plan.title}", error, executed)
    except (ProviderError, LockLost) as error:
        return _ended(report, "failed", f"Failed: {plan.title}", error, executed)
    except Exception as error:  # a bug must still leave a result, not an open intent
        return _ended(report, "failed", f"Failed (internal error): {plan.title}", error, executed)
    outcome = "succeeded" if verified.ok else "failed"
    summary = f"{'Done' if verified.ok else 'Not verified'}: {plan.title}: {verified.summary}"
    return Result(outcome, summary, verified.ok, list(report.transcript))


def _ended(
    report: Report, outcome: str, head: str, error: BaseException, executed: Executed | None
) -> Result:
    # Execute may fail after part of its calls went through: say which phase, not "nothing".
    stage = "while verifying; the change was made" if executed is not None else "while executing"
    reason = str(error) or type(error).__name__
    report.log(f"{head}: {reason} ({stage})")
    return Result(outcome, f"{head}: {reason} ({stage})", False, list(report.transcript))


class TimelineRecorder:
    """A Recorder that writes straight to a Timeline (headless runs and tests)."""

    def __init__(self, timeline: Timeline, incident: int, actor: str | None = None) -> None:
        self.timeline = timeline
        self.incident = incident
        self.actor = actor
        """Who the writes are recorded as, when not the timeline's actor (the cockpit)."""

    def begin(self, action: str, summary: str, payload: dict[str, Any], command: str) -> str:
        event = self.timeline.begin_action(
            self.incident, action, summary, payload, command=command, actor=self.actor
        )
        return str(event.payload["action_id"])

    def finish(self, action_id: str, outcome: str, summary: str, payload: dict[str, Any]) -> None:
        self.timeline.finish_action(
            self.incident,
            action_id,
            outcome,  # type: ignore[arg-type]
            summary,
            payload,
            actor=self.actor,
        )

    def note(self, kind: str, summary: str, payload: dict[str, Any]) -> None:
        self.timeline.record(self.incident, kind, summary, payload, actor=self.actor)
