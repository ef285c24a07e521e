"""Provides GuardedApp: an App that holds on whatever goes wrong, and says so plainly.

Whatever goes wrong goes here: a worker that raises (shown, recorded, its traceback kept), a bug
in a step of the live data path (`survive`: told once, the cockpit carries on), a crash (kept
for commands/run.py, which records it and exits 1), and the last session's crash told at the
next start. Every notification, whoever raises it, is plain text (never markup), its control
characters shown, and scrubbed of every configured secret. TimelineApp adds the timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from textual.app import App

from cockpit.core.redact import scrub
from widgets.plain import visible

if TYPE_CHECKING:
    from concurrent.futures import Future

    from textual.notifications import SeverityLevel
    from textual.worker import Worker

    from cockpit.core.state import IncidentState
    from cockpit.core.timeline import Event
    from cockpit.session import Session


class GuardedApp(App[int]):
    """The cockpit's App base: failures shown and recorded, notifications plain."""

    session: Session
    state: IncidentState

    def __init__(self) -> None:
        super().__init__()
        self.survived: set[str] = set()
        """Steps of the data path that raised and were told (once each)."""
        self.crashed: BaseException | None = None
        """The exception that ended the App, if one did (commands/run.py saves it)."""

    def record(
        self,
        kind: str,
        summary: str,
        payload: Mapping[str, object] | None = None,
        *,
        command: str | None = None,
        then: Callable[[Event], None] | None = None,
        actor: str | None = None,
    ) -> Future[Event] | None:
        """Queue an event for the timeline (TimelineApp)."""
        raise NotImplementedError

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification, whoever raised it: plain text (a platform's message or a typed
        note is never markup), its control characters shown, scrubbed of every configured
        secret."""
        super().notify(
            visible(scrub(str(message))),
            title=visible(scrub(title), one_line=True),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        from textual.worker import WorkerState

        if event.state is WorkerState.ERROR:
            self.worker_failed(event.worker)

    def worker_failed(self, worker: Worker[Any]) -> None:
        """The one route of a worker that raised: shown, recorded, its traceback kept."""
        from cockpit.crash import save_traceback

        error = worker.error
        name = worker.name or worker.group or "a background task"
        reason = f"{type(error).__name__}: {error}" if error is not None else "failed"
        where = save_traceback(self.session.files, error, f"worker-{name}")
        payload = {"worker": name, "error": reason, "traceback_file": str(where) if where else None}
        self.record("worker.failed", f"{name} failed: {reason}", payload)
        self.notify(
            f"{name} failed: {reason}" + (f" (traceback: {where})" if where else ""),
            title="Something failed",
            severity="error",
            timeout=60,
        )

    def _handle_exception(self, error: Exception) -> None:
        # Textual ends the App on an exception nothing handled; keep it for commands/run.py,
        # which records session.crashed, saves the traceback and exits non-zero.
        if self.crashed is None:
            self.crashed = error
        super()._handle_exception(error)

    def tell_last_crash(self) -> None:
        """If the last session of this incident crashed, say so, and where its traceback is."""
        last = self.state.last_session
        if last is None or last.kind != "session.crashed":
            return
        where = last.payload.get("traceback_file")
        self.notify(
            f"The last session crashed at {last.ts[11:19]} UTC: {last.summary}."
            + (f" Traceback: {where}" if where else "")
            + " Check any action it was running before acting again.",
            title="Last session crashed",
            severity="warning",
            timeout=60,
        )

    def survive(self, what: str, step: Callable[[], None]) -> None:
        """Run one step of the live data path; a bug in it is shown and recorded (traceback
        kept) and the cockpit carries on. Readings and events flow in all the time: one bad
        one must not end the session that is running a rollback."""
        try:
            step()
        except Exception as error:
            from cockpit.crash import save_traceback

            if what in self.survived:
                return  # told once per kind of step; the traceback of the first is kept
            self.survived.add(what)
            reason = f"{type(error).__name__}: {error}"
            where = save_traceback(self.session.files, error, "error")
            self.record(
                "cockpit.error",
                f"error in {what}: {reason}",
                {"step": what, "error": reason, "traceback_file": str(where) if where else None},
            )
            self.notify(
                f"Error in {what}: {reason}. The cockpit goes on; check what it shows."
                + (f" Traceback: {where}" if where else ""),
                title="Internal error",
                severity="error",
                timeout=60,
            )
