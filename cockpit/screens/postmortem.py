"""Provides the post-mortem screen: the export's preview and the sections people write.

The first tab is the Markdown `cockpit export` gives for this incident (rendered in a worker: a
long incident takes a moment), shown as its reader reads it: the escapes that keep GitHub from
taking text for HTML or table syntax are decoded ("&lt; 5 min" reads "< 5 min", a section as
it was typed; cockpit.core.markdown_text.readable), the file keeps them. Each following tab is
one of the procedure's written sections (impact, root cause, lessons learned, action items,
...), starting from the seed template's prompts. ctrl+s records each edited section in the
timeline (`postmortem.written`); ctrl+o writes the post-mortem file beside the timeline; ctrl+t
closes the incident with its resolution. Leaving keeps what was typed, as the drafts screen
does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Static, TabbedContent, TabPane, TextArea

from cockpit.core.errors import CockpitError
from cockpit.core.export import render_markdown
from cockpit.core.markdown_text import readable
from cockpit.core.paths import ensure_private_dir, write_atomically
from cockpit.core.postmortem import Section, resolution_starter, sections, written, written_event
from cockpit.screens.base import CockpitScreen
from cockpit.screens.incident_bar import IncidentBar
from widgets.editors import PlainTextArea
from widgets.footer import KeyFooter
from widgets.plain import plain, visible

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.worker import Worker

    from cockpit.core.procedure import Procedure
    from cockpit.core.procedure_copy import ProcedureCopy
    from cockpit.core.timeline import Event
    from cockpit.core.timeline_open import AnyTimeline

EXPORTED = "postmortem.exported"


class CloseEnded(Message):
    """The close of the incident was committed or refused."""

    def __init__(self, resolution: str, closed: bool) -> None:
        super().__init__()
        self.resolution = resolution
        self.closed = closed


class FileWritten(Message):
    """The post-mortem file was written (or `error` says why not)."""

    def __init__(self, path: Path, text: str, error: str = "", shown: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.text = text
        self.error = error
        self.shown = shown
        """The text as the preview shows it (decoded in the worker)."""


def _render(
    connect: Callable[[], AnyTimeline],
    incident_id: int,
    procedure: Procedure | None,
    saving: list[Future[Any]],
    copy: ProcedureCopy | None = None,
    fallback: str | None = None,
) -> str:
    """`cockpit export`'s Markdown, from the timeline as committed (after the sections being
    saved and the readings taken so far), up to its head, exactly as the command reads it
    (with its note when the procedure file on disk is not the incident's `copy`)."""
    from cockpit.core.incidents import project
    from cockpit.core.locks import db_of
    from cockpit.core.paths import verify_command
    from cockpit.core.procedure_copy import note

    for future in saving:
        with contextlib.suppress(Exception):  # a refused save is announced by the App
            future.result()
    with connect() as timeline:
        head = timeline.head()
        events = [event for event in timeline.events(incident_id) if event.id <= head[0]]
        rows = [(incident_id, e.kind, e.ts, e.payload) for e in events]
        incident = project(rows)[incident_id]
        return render_markdown(
            events,
            incident,
            procedure,
            head=head,
            samples=timeline.samples(incident_id),
            note=note(copy, fallback) if copy is not None else None,
            verify=verify_command(db_of(timeline)),  # the command checks this timeline
        )


class PostmortemScreen(CockpitScreen[None]):
    """Preview the post-mortem, write its sections, write the file, close the incident."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save sections", priority=True, id="postmortem.save"),
        Binding("ctrl+o", "write_file", "Write file", priority=True, id="postmortem.write"),
        Binding("ctrl+t", "close_incident", "Close incident", priority=True, id="postmortem.close"),
        # Before the focused widget: Esc in a section editor is the screen's, the first time
        # (a widget that takes Esc, as an indenting TextArea does, must not swallow it).
        Binding("escape", "leave", "Back", priority=True, id="postmortem.leave"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[Section] = []
        """The procedure's written sections (known once composed)."""
        self.shown: dict[str, str] = {}
        """What each editor held when shown (an edit is a difference from it)."""
        self.preview: str = ""
        """The Markdown last rendered into the preview."""
        self.saving: list[Future[Event]] = []
        """Sections recorded from here (the preview and the file wait for them)."""

    def compose(self) -> ComposeResult:
        yield IncidentBar()
        self.sections = sections(self.cockpit.session.procedure)
        texts = written((event.kind, event.payload) for event in self.cockpit.events)
        with TabbedContent(id="postmortem-tabs"):
            with TabPane("Preview", id="tab-preview"):
                yield TextArea(
                    "Rendering the post-mortem…", id="preview", read_only=True, soft_wrap=False
                )
            for section in self.sections:
                # The editor shows control characters as they are: make them visible first.
                text = visible(texts.get(section.key) or self.starter(section))
                self.shown[section.key] = text
                with TabPane(plain(section.title, one_line=True), id=f"tab-{section.key}"):
                    yield Static(plain(f"{section.title}: {section.hint}."), classes="section-hint")
                    yield PlainTextArea(text, id=f"text-{section.key}", soft_wrap=True)
        yield Static(id="postmortem-status")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.refresh_preview()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No "Close incident" key once it is closed (the next day's post-mortem)."""
        closed = self.cockpit.session.incident.status == "closed"
        return not (action == "close_incident" and closed)

    def starter(self, section: Section) -> str:
        """The editor's first text: what the timeline says was done, else the prompts."""
        if "resolution" in section.key:
            done = resolution_starter(
                (event.kind, event.summary, event.payload, event.ts)
                for event in self.cockpit.events
            )
            if done:
                return done
        return section.starter

    def status(self, text: str) -> None:
        """One line under the tabs: where things were saved or written."""
        self.query_one("#postmortem-status", Static).update(plain(text, one_line=True))

    def on_tabbed_content_tab_activated(self, message: TabbedContent.TabActivated) -> None:
        if message.pane.id == "tab-preview":
            self.save_if_edited()
            self.refresh_preview()

    def export_call(self) -> Callable[[], str]:
        """What `cockpit export` does, to be done in a worker: wait for the sections being
        saved, then read the timeline there (its own connection: nothing on this thread waits
        on SQLite) up to its head, and render."""
        app = self.cockpit
        saving: list[Future[Any]] = [*self.saving, app.writer.flush()]
        return partial(
            _render,
            app.session.timeline.sibling,
            app.session.incident.id,
            app.session.procedure,
            saving,
            app.session.procedure_copy,
            app.session.procedure_fallback,
        )

    def refresh_preview(self) -> None:
        """Render the post-mortem again from the timeline (in a worker)."""
        self.render_preview(self.export_call())

    @work(thread=True, exclusive=True, group="postmortem-preview", exit_on_error=False)
    def render_preview(self, export: Callable[[], str]) -> None:
        """Worker: render the preview (decoded here too: a long timeline takes a moment)."""
        text = export()
        self.app.call_from_thread(self.show_preview, text, visible(readable(text)))

    def show_failure(self, worker: Worker[Any]) -> None:
        """The preview could not be rendered (the App showed and recorded why): say so there."""
        if worker.group == "postmortem-preview":
            reason = f"{type(worker.error).__name__}: {worker.error}"
            self.query_one("#preview", TextArea).load_text(
                visible(f"The preview could not be rendered: {reason}")
            )

    def show_preview(self, text: str, shown: str | None = None) -> None:
        """Put the rendered Markdown in the preview, its escapes decoded (`shown`, when the
        worker decoded it already), keeping the reader's place; `preview` keeps the export's
        own text."""
        self.preview = text
        area = self.query_one("#preview", TextArea)
        place = area.scroll_offset
        area.load_text(visible(readable(text)) if shown is None else shown)
        area.scroll_to(place.x, place.y, animate=False)

    def edited(self) -> dict[str, str]:
        """The sections whose editor differs from what was shown, by key."""
        found = {}
        for section in self.sections:
            text = self.query_one(f"#text-{section.key}", TextArea).text
            if text != self.shown[section.key]:
                found[section.key] = text
        return found

    def accepted(self) -> dict[str, str]:
        """The visible section when it was never written but its editor holds more than the
        prompts (the resolution drafted from the timeline): ctrl+s there means "keep this"."""
        active = self.query_one(TabbedContent).active.removeprefix("tab-")
        section = next((s for s in self.sections if s.key == active), None)
        if section is None:
            return {}
        if section.key in written((e.kind, e.payload) for e in self.cockpit.events):
            return {}
        text = self.query_one(f"#text-{section.key}", TextArea).text
        return {section.key: text} if text.strip() != visible(section.starter).strip() else {}

    def save_if_edited(self) -> None:
        """Keep what was typed before the preview or another screen takes over."""
        if self.edited():
            self.action_save()

    def action_save(self) -> None:
        """Record each edited section in the timeline."""
        if self.cockpit.read_only:
            self.notify(self.cockpit.read_only_reason, title="Not saved", severity="warning")
            return
        saved, problems = [], []
        by_key = {section.key: section for section in self.sections}
        for key, text in {**self.accepted(), **self.edited()}.items():
            try:
                kind, summary, payload = written_event(by_key[key], text)
            except CockpitError as error:
                problems.append(str(error))
                continue
            future = self.cockpit.record(kind, summary, payload)
            if future is not None:
                self.saving.append(future)
            self.shown[key] = text
            saved.append(by_key[key].title)
        if saved:
            self.status(f"Saved to the timeline: {', '.join(saved)}")
            self.refresh_preview()
        if problems:
            self.notify("; ".join(problems), title="Not saved", severity="warning")
        elif not saved:
            self.status("Nothing edited since the last save.")

    def export_path(self) -> Path:
        """`<data dir>/exports/incident-N-postmortem.md`, beside the timeline."""
        folder = self.cockpit.session.files / "exports"
        return folder / f"incident-{self.cockpit.session.incident.id}-postmortem.md"

    def action_write_file(self) -> None:
        """Save the sections, then write the post-mortem file (rendered afresh, in a worker:
        a long incident takes a moment)."""
        self.save_if_edited()
        self.status("Writing the post-mortem…")
        self.write_file(self.export_call(), self.export_path())

    @work(thread=True, exit_on_error=False, group="postmortem-write")
    def write_file(self, export: Callable[[], str], path: Path) -> None:
        """Worker: render and write the file; the App records it."""
        text = export()
        try:
            ensure_private_dir(path.parent)
            write_atomically(path, text)
        except OSError as error:
            self.post_message(FileWritten(path, text, f"{path}: {error.strerror or error}"))
            return
        self.post_message(FileWritten(path, text, shown=visible(readable(text))))

    @on(FileWritten)
    def file_written(self, message: FileWritten) -> None:
        """Record the file written (its hash), or say why it was not."""
        if message.error:
            self.notify(message.error, title="Not written", severity="error")
            self.status("Not written.")
            return
        app, path, text = self.cockpit, message.path, message.text
        data = text.encode("utf-8")
        app.record(
            EXPORTED,
            f"Post-mortem written to {path.name}",
            {"file": str(path), "sha256": sha256(data).hexdigest(), "bytes": len(data)},
        )
        self.show_preview(text, message.shown)
        self.status(f"Written: {path} (cockpit export {app.session.incident.id} gives the same)")

    def action_close_incident(self) -> None:
        """Ask for the resolution, then close the incident."""
        from cockpit.screens.modals import NoteScreen

        app = self.cockpit
        if app.session.incident.status == "closed":
            self.notify(f"Incident {app.session.incident.id} is already closed.")
            return

        def close(resolution: str | None) -> None:
            if resolution is None:
                return
            try:
                future = app.close_incident(resolution)
            except CockpitError as error:
                self.notify(str(error), title="Not closed", severity="error")
                return
            self.status("Closing the incident…")
            # On the writer's thread: post, never touch the screen from there.
            future.add_done_callback(
                lambda done: self.post_message(
                    CloseEnded(resolution, not done.cancelled() and done.exception() is None)
                )
            )

        self.app.push_screen(
            NoteScreen(
                "Resolution, e.g. 'rolled back to v41' (Enter closes the incident, Esc cancels):"
            ),
            close,
        )

    @on(CloseEnded)
    def closed(self, message: CloseEnded) -> None:
        """The close was committed, or refused (the App says why)."""
        resolution = message.resolution
        if not message.closed:
            self.status("Not closed.")
            return
        self.status(f"Incident closed: {resolution}. The sections can still be written.")
        self.refresh_bindings()
        self.refresh_preview()

    def action_leave(self) -> None:
        """Leave, keeping edited sections."""
        self.save_if_edited()
        self.dismiss(None)
