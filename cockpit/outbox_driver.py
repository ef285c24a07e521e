"""Sends what the outbox holds, in background threads, and records how each attempt ended.

The App calls `pump()` once a second and right after a queued message is read back. Each due
message is sent by its channel's notifier in a thread worker (one attempt in flight per
message); the outcome is recorded by the App: sent, refused for good, or failed with the time
of the next attempt. A channel with no configured notifier is a failed attempt
too, retried with backoff, so fixing cockpit.toml and restarting delivers it.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from cockpit.core.actions import Undeliverable
from cockpit.core.errors import CockpitError
from cockpit.core.outbox import Outbox, Pending

if TYPE_CHECKING:
    from cockpit.incident_app import IncidentApp
    from providers.base import Notifier


class OutboxDriver:
    """The sending side of one incident's outbox."""

    @property
    def outbox(self) -> Outbox:
        """What waits to be sent: the incident state's outbox, folded from the timeline."""
        return self.app.state.outbox

    def __init__(self, app: IncidentApp) -> None:
        self.app = app
        self.in_flight: set[str] = set()
        self._lock = threading.Lock()

    def pump(self) -> None:
        """Start an attempt for every due message that has none in flight."""
        if not self.app.driving:
            return  # the driving cockpit sends what anyone queued
        now = self.app.session.clock.now()
        for pending in self.outbox.due(now):
            with self._lock:
                if pending.id in self.in_flight:
                    continue
                self.in_flight.add(pending.id)
            notifier = self.app.session.notifiers.get(pending.message.channel)
            if notifier is None:
                configured = ", ".join(sorted(self.app.session.notifiers)) or "none"
                reason = (
                    f"no notifier named {pending.message.channel!r} is configured "
                    f"(configured: {configured}); add [providers.{pending.message.channel}]"
                )
                self.finish(Outbox.failed(pending, reason, now), pending.id)
                continue
            self.app.run_worker(
                lambda pending=pending, notifier=notifier: self.attempt(pending, notifier),
                name=f"send-{pending.id}",
                group="outbox",
                thread=True,
                exit_on_error=False,
            )

    def attempt(self, pending: Pending, notifier: Notifier) -> None:
        """Worker: one delivery attempt; the outcome is handed to the App to record."""
        message = pending.message
        # A later message about the same incident updates what the first one created there
        # (a Statuspage incident): pass the platform's id back.
        reference = self.outbox.references.get((message.channel, message.key))
        if reference and "incident_id" not in message.extra:
            message = replace(message, extra={**message.extra, "incident_id": reference})
        try:
            delivered = notifier.send(message)
        except Undeliverable as error:
            event = Outbox.refused(pending, str(error))
        except CockpitError as error:
            retry_after = getattr(error, "retry_after", None)
            now = self.app.session.clock.now()
            event = Outbox.failed(pending, str(error), now, retry_after)
        except Exception as error:  # a notifier bug must not lose the message: retry later
            now = self.app.session.clock.now()
            event = Outbox.failed(pending, f"internal error: {type(error).__name__}: {error}", now)
        else:
            event = Outbox.sent(pending, delivered)
        self.app.call_from_thread(self.finish, event, pending.id)

    def finish(self, event: tuple[str, str, dict[str, object]], message_id: str) -> None:
        """Record an attempt's outcome (App thread)."""
        kind, summary, payload = event
        # In flight until the outcome is read back: released earlier, the next pump would see
        # the message still pending and send it again.
        future = self.app.record(kind, summary, payload, then=lambda _: self.release(message_id))
        if future is None:
            self.release(message_id)
        else:
            future.add_done_callback(
                lambda done: self.release(message_id) if done.exception() is not None else None
            )

    def release(self, message_id: str) -> None:
        """The message's attempt is over and recorded (or could not be): it may go again."""
        with self._lock:
            self.in_flight.discard(message_id)
