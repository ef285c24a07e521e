"""Provides the drafts screen: the procedure's communication templates, filled and editable.

Each template is filled from the incident's recorded facts (what fired, the decision, times);
gaps stay visible as `[name]`. The responder edits the subject and body; ctrl+s saves the draft
to the timeline (a `draft.saved` event) and to a file beside it; ctrl+o queues it in the
outbox for the template's channel (Slack, status page, ...). Switching to another template
or leaving saves an edited draft too, so nothing typed is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from cockpit.core.actions import Outgoing
from cockpit.core.drafts import (
    SAVED,
    as_text,
    incident_facts,
    missing,
    render,
    saved_drafts,
    write_draft,
)
from cockpit.core.redact import scrub
from cockpit.screens.base import CockpitScreen
from cockpit.screens.incident_bar import IncidentBar
from widgets.editors import PlainInput, PlainTextArea
from widgets.footer import KeyFooter
from widgets.plain import assemble, plain, visible

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from cockpit.core.procedure import Procedure


NOTIFIERS_FOR: dict[str, tuple[str, ...]] = {
    "slack": ("slack", "webhook"),
    "chat": ("slack", "webhook"),
    "status_page": ("statuspage", "webhook"),
    "email": ("email", "webhook"),
    "in_app": ("webhook",),
    "document": ("webhook",),
}
"""Which configured notifier, by name, carries a template's channel (the first one present)."""

STAGES = ("investigating", "identified", "monitoring", "resolved")


def stage_of(template_id: str) -> str:
    """'status-identified' → 'identified'; a template naming no stage opens at investigating."""
    return next((stage for stage in STAGES if stage in template_id), "investigating")


class DraftsScreen(CockpitScreen[None]):
    """One template at a time: pick it on the left, edit it on the right."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, id="drafts.save"),
        Binding("ctrl+r", "refill", "Refill from timeline", priority=True, id="drafts.refill"),
        Binding("ctrl+o", "send", "Send", priority=True, id="drafts.send"),
        Binding("escape", "leave", "Leave", id="drafts.leave"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current: str | None = None
        self.shown: tuple[str, str] = ("", "")
        """What the editor held when the current template was shown (to tell an edit)."""

    @property
    def procedure(self) -> Procedure:
        """The incident's procedure (the App opens this screen once it is loaded)."""
        procedure = self.cockpit.session.procedure
        assert procedure is not None
        return procedure

    def compose(self) -> ComposeResult:
        yield IncidentBar()
        options = [
            Option(
                assemble(
                    plain(template.title, one_line=True),
                    "\n  ",
                    plain(f"{template.audience} · {template.channel}", one_line=True),
                ),
                id=key,
            )
            for key, template in self.procedure.templates.items()
        ]
        with Horizontal():
            yield OptionList(*options, id="draft-list")
            with Vertical(id="draft-editor"):
                yield PlainInput(placeholder="subject", id="draft-subject")
                yield PlainTextArea(id="draft-body", soft_wrap=True)
                yield Static(id="draft-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        templates = list(self.procedure.templates)
        if not templates:
            self.query_one("#draft-status", Static).update("This procedure has no templates.")
            return
        self.show(templates[0])
        self.query_one("#draft-body", TextArea).focus()

    def facts(self) -> dict[str, str]:
        """The facts the timeline holds now."""
        app = self.cockpit
        events = ((e.kind, e.summary, e.payload, e.ts) for e in app.events)
        return incident_facts(self.procedure, app.state.incident, events, app.session.clock.now())

    def show(self, key: str, *, refill: bool = False) -> None:
        """Put a template in the editor: its last saved draft, else filled from the facts."""
        saved = saved_drafts((e.kind, e.payload) for e in self.cockpit.events)
        template = self.procedure.templates[key]
        facts = self.facts()
        subject, body = saved[key] if key in saved and not refill else render(template, facts)
        # The editors show text as it is, control characters included: make those visible.
        subject, body = visible(subject, one_line=True), visible(body)
        self.current = key
        self.shown = (subject, body)
        self.query_one("#draft-subject", Input).value = subject
        self.query_one("#draft-body", TextArea).load_text(body)
        gaps = missing(template, facts)
        origin = "last saved draft" if key in saved and not refill else "filled from the timeline"
        status = f"{template.title} · {origin}"
        if template.when:
            status += f" · send: {template.when}"
        if gaps:
            # Plain text: "[affected]" is the gap's name as the body shows it, not markup.
            status += " · to fill in: " + ", ".join(f"[{gap}]" for gap in gaps)
        self.query_one("#draft-status", Static).update(plain(status, one_line=True))

    def edited(self) -> tuple[str, str]:
        """The subject and body as the editor holds them now."""
        return (
            self.query_one("#draft-subject", Input).value,
            self.query_one("#draft-body", TextArea).text,
        )

    def on_option_list_option_highlighted(self, message: OptionList.OptionHighlighted) -> None:
        key = message.option.id
        if key is None or key == self.current:
            return
        self.save_if_edited()
        self.show(key)

    def save_if_edited(self) -> None:
        """Keep what was typed before the editor shows something else."""
        if self.current is not None and self.edited() != self.shown:
            self.action_save()

    def action_save(self) -> None:
        """Record the draft in the timeline and write it to its file."""
        if self.current is None:
            return
        if self.cockpit.read_only:
            self.notify(self.cockpit.read_only_reason, title="Not saved", severity="warning")
            return
        # What is kept (and later sent) is the scrubbed text: the editor shows it too, so a
        # token pasted into a draft leaves the screen as it leaves the file and the timeline.
        subject, body = (scrub(part) for part in self.edited())
        if (subject, body) != self.edited():
            self.query_one("#draft-subject", Input).value = subject
            self.query_one("#draft-body", TextArea).load_text(body)
        app = self.cockpit
        directory = app.session.files / "drafts"
        try:
            path = write_draft(
                directory, app.session.incident.id, self.current, as_text(subject, body)
            )
        except OSError as error:
            self.notify(f"Could not write the draft file: {error}", severity="error")
            path = None
        title = self.procedure.templates[self.current].title
        app.record(
            SAVED,
            f"Draft saved: {title}",
            {
                "template": self.current,
                "subject": subject,
                "body": body,
                "file": str(path) if path else None,
            },
        )
        self.shown = (subject, body)
        self.notify(f"Saved to the timeline and {path}" if path else "Saved to the timeline")

    def action_send(self) -> None:
        """Save the draft, then queue it in the outbox for the template's channel."""
        if self.current is None:
            return
        if self.cockpit.read_only:
            self.notify(self.cockpit.read_only_reason, title="Not sent", severity="warning")
            return
        self.save_if_edited()
        template = self.procedure.templates[self.current]
        configured = self.cockpit.session.notifiers
        name = next((n for n in NOTIFIERS_FOR.get(template.channel, ()) if n in configured), None)
        if name is None:
            wanted = " or ".join(NOTIFIERS_FOR.get(template.channel, ())) or template.channel
            self.notify(
                f"No notifier for {template.channel}: add [providers.{wanted.split()[0]}] to "
                "cockpit.toml. The draft is saved; send it by hand.",
                title="Not sent",
                severity="warning",
            )
            return
        subject, body = self.edited()
        incident = self.cockpit.session.incident
        self.cockpit.queue_message(
            Outgoing(
                channel=name,
                subject=subject or template.title,
                body=body,
                key=f"incident-{incident.id}",
                stage=stage_of(self.current),
                severity=incident.severity,
                extra={"template": self.current},
            )
        )
        self.notify(f"Queued for {name}; the outbox sends it and retries until it goes out.")

    def action_refill(self) -> None:
        """Fill the template again from the facts the timeline holds now (the edit is saved)."""
        if self.current is not None:
            self.save_if_edited()
            self.show(self.current, refill=True)

    def action_leave(self) -> None:
        """Leave, keeping an edited draft."""
        self.save_if_edited()
        self.dismiss(None)
