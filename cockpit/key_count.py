"""Provides KeyCount: the keys a responder presses in a drill's session, for the drill's score.

Counted where the App first sees a key, before it forwards it to the focused widget (a key
that bubbles back up to the App is forwarded, and not counted again), and recorded as one
`drill.keys` event as the session ends or hangs up: one addition a key, one event a session.
Only a drill's keys are counted, and only by a cockpit that writes (a watcher records none).
"""

from __future__ import annotations

from textual import events

from cockpit.core.drill_score import KEYS


class KeyCount:
    """Keys pressed since the last `take` (see the module)."""

    def __init__(self, counting: bool) -> None:
        self.counting = counting
        self.pressed = 0

    def seen(self, event: events.Event) -> None:
        """An input event reached the App."""
        if self.counting and isinstance(event, events.Key) and not event.is_forwarded:
            self.pressed += 1

    def take(self) -> tuple[str, str, dict[str, int]] | None:
        """The event to record for the keys counted so far (and the count starts again), or
        None when there is nothing to record."""
        if not self.counting or not self.pressed:
            return None
        count, self.pressed = self.pressed, 0
        return KEYS, f"{count} key(s) pressed in this session of the drill", {"count": count}
