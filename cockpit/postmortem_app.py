"""Provides PostmortemApp: the post-mortem screen alone, for an incident already closed.

A post-mortem is often written the day after; the cockpit does not reopen a closed incident
(no sources, no triggers, no actions), so `cockpit postmortem ID` opens only this screen: the
export's preview and the written sections, recorded in the same timeline. Leaving the screen
ends the program.
"""

from __future__ import annotations

from cockpit.incident_app import IncidentApp
from widgets.plain import visible


class PostmortemApp(IncidentApp):
    """Write a closed incident's post-mortem."""

    TITLE = "Rollback Cockpit: post-mortem"
    CSS_PATH = "cockpit.tcss"

    def on_mount(self) -> None:
        from cockpit.screens.postmortem import PostmortemScreen

        incident = self.session.incident
        # A typed title: no Header parses it here, but screenshots are named after it.
        self.title = visible(
            f"Post-mortem of incident {incident.id}: {incident.title}", one_line=True
        )
        holder = self.session.held_by
        if holder is not None:
            self.notify(
                f"{holder.actor} (pid {holder.pid} on {holder.host}) has it open too: what either "
                "of you writes shows in both.",
                title="Not alone",
                timeout=15,
            )
        self.record_copy()
        self.record("session.started", "post-mortem editor attached")
        if self.session.procedure_copy is not None:  # tells when the file on disk differs
            self.run_worker(
                self.load_procedure, name="load-procedure", thread=True, exit_on_error=False
            )
        self.push_screen(PostmortemScreen(), self.left)

    def left(self, _: None) -> None:
        """The screen was left: record it and end."""
        self.record("session.ended", "post-mortem editor detached")
        self.exit(0)
