"""What a rollback action is made of, provider-independent: plan, progress, result, verdict.

Every action goes preflight → plan → confirm → execute → verify → record. A provider does the
first, second, fourth and fifth; `cockpit.action_runner` does confirm and record, and the action
screen shows the plan (the exact API calls, what will change, the equivalent CLI line) before
anything runs. These types are plain data so the timeline can hold them as JSON.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from cockpit.core.errors import ProviderError


class ActionCancelled(ProviderError):
    """The responder cancelled the action while it ran."""

    title = "Action cancelled"


class ActionTimedOut(ProviderError):
    """The action (or its verification) did not finish within its time limit."""

    title = "Action timed out"


@dataclass(frozen=True)
class Call:
    """One request the action will make, as the plan shows it (no secrets)."""

    method: str
    url: str
    body: Any = None

    def line(self) -> str:
        """'PATCH https://…/admin/feature-flags {"a": {"enabled": false}}'."""
        import json

        text = f"{self.method} {self.url}"
        return text if self.body is None else f"{text} {json.dumps(self.body, sort_keys=True)}"


@dataclass
class Plan:
    """Exactly what an action will do, shown before it runs and recorded with it."""

    provider: str
    action: str
    target: str
    """What is acted on; typed back to confirm a destructive action."""
    title: str
    calls: list[Call]
    changes: list[str]
    """What will be different afterwards, in words ('production: dpl_b → dpl_a')."""
    cli: str
    """The equivalent command line a responder could run by hand."""
    destructive: bool = True
    cancellable: bool = False
    timeout_seconds: float = 120.0
    verify: str = ""
    """How the result will be checked."""
    undo: dict[str, Any] | None = None
    """Parameters that put things back as they were (captured in preflight), if known."""
    data: dict[str, Any] = field(default_factory=dict)
    """What execute needs from preflight (ids, previous state); recorded, never secret."""
    warnings: list[str] = field(default_factory=list)
    short_code: str | None = None
    """A short code that confirms this destructive plan as well as its target's name does,
    when the procedure allows it (`short_confirmation`); shown beside the full target."""

    def as_payload(self) -> dict[str, Any]:
        """The plan as the timeline records it."""
        payload = asdict(self)
        payload["calls"] = [call.line() for call in self.calls]
        return payload


SHORT_CODE_LENGTH = 4


def short_code(target: str) -> str | None:
    """The last four letters or digits of a target's name (`dpl_8f3a9c` → `3a9c`); None when
    the name is hardly longer than that, and typing it whole costs nothing more."""
    letters = [c for c in target if c.isalnum()]
    if len(letters) < SHORT_CODE_LENGTH + 3:
        return None
    return "".join(letters[-SHORT_CODE_LENGTH:])


@dataclass
class Executed:
    """What execute did."""

    summary: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verified:
    """Whether the change took: the provider's own state, and health where configured."""

    ok: bool
    summary: str


class Report:
    """The running action's voice and brakes: progress, a log, cancel, deadline, sleep.

    Providers call `progress()` and `log()` from the worker thread; the listener (the action
    screen, via messages) must be thread-safe. `sleep()` returns early and raises on cancel or
    when the deadline passes, so a provider that polls never outlives its action. Tests inject
    `sleeper` and `monotonic` so no test waits on the wall clock.
    """

    def __init__(
        self,
        listener: Callable[[str, float | None], object] | None = None,
        *,
        deadline_seconds: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleeper: Callable[[float], None] | None = None,
    ) -> None:
        self.listener = listener
        self.cancel_event = threading.Event()
        self.monotonic = monotonic
        self.sleeper = sleeper
        self.started = monotonic()
        self.deadline = None if deadline_seconds is None else self.started + deadline_seconds
        self.transcript: list[str] = []

    def log(self, line: str) -> None:
        """Add a line to the live log and the recorded transcript."""
        self.transcript.append(line)
        if self.listener is not None:
            self.listener(line, None)

    def progress(self, fraction: float, message: str) -> None:
        """Move the progress bar (0..1) with a line for the log."""
        self.transcript.append(message)
        if self.listener is not None:
            self.listener(message, max(0.0, min(1.0, fraction)))

    def cancel(self) -> None:
        """Ask the action to stop at its next check (from any thread)."""
        self.cancel_event.set()

    @property
    def remaining(self) -> float | None:
        """Seconds left before the deadline, or None without one."""
        return None if self.deadline is None else self.deadline - self.monotonic()

    def check(self) -> None:
        """Raise if the action was cancelled or ran out of time."""
        if self.cancel_event.is_set():
            raise ActionCancelled("cancelled by the responder")
        remaining = self.remaining
        if remaining is not None and remaining <= 0:
            raise ActionTimedOut(f"gave up after {self.monotonic() - self.started:.0f} s")

    def sleep(self, seconds: float) -> None:
        """Wait between polls; wakes at once on cancel, never past the deadline."""
        self.check()
        remaining = self.remaining
        wait = seconds if remaining is None else max(0.0, min(seconds, remaining))
        if self.sleeper is not None:
            self.sleeper(wait)
        else:
            self.cancel_event.wait(wait)
        self.check()


@dataclass(frozen=True)
class Outgoing:
    """One message to send: a saved draft (or a generated update) for one channel.

    `key` is stable for the incident (PagerDuty's dedup_key, a Statuspage incident), `stage`
    the step in a lifecycle (trigger, acknowledge, resolve; investigating … resolved).
    """

    channel: str
    """The configured notifier's name, e.g. `slack`, `pagerduty`, `statuspage`."""
    subject: str
    body: str
    key: str
    stage: str = ""
    severity: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivered:
    """What the platform said when it accepted a message."""

    summary: str
    reference: str = ""
    """The platform's id for it (dedup key, incident id), when it gives one."""


class Undeliverable(ProviderError):
    """The platform refused the message for good (bad payload, revoked webhook): no retry."""

    title = "Message refused"
