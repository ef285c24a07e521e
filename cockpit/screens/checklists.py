"""Provides the checklists screen: every checklist of the procedure as checkboxes, one tab each.

Space ticks or unticks the highlighted item, `s` skips it with a reason; each is recorded in
the timeline with who and when before the screen changes. Automatic items are marked and tick
themselves when their metric rule holds (the App records that).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import OptionList, TabbedContent, TabPane
from textual.widgets.option_list import Option

from cockpit.core.clock import parse_iso
from cockpit.core.reminders import deadline_text, due_at
from cockpit.core.timeline import Event
from cockpit.screens.base import CockpitScreen
from cockpit.screens.incident_bar import IncidentBar
from widgets.footer import KeyFooter
from widgets.plain import plain

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.content import Content

    from cockpit.core.checklist_state import ChecklistState

_BOX = {"open": "[ ]", "done": "[x]", "skipped": "[-]"}


class ChecklistsScreen(CockpitScreen[None]):
    """The procedure's checklists for this incident."""

    def __init__(self, start: str | None = None) -> None:
        super().__init__()
        self.start = start
        """The list to show first (the one that follows a decision), else the first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "tick", "Tick/untick", id="checklists.tick"),
        Binding("s", "skip", "Skip…", id="checklists.skip"),
        Binding("escape", "leave", "Back", id="checklists.leave"),
        Binding("right", "next_tab", "Next list", show=False, id="checklists.next"),
        Binding("left", "previous_tab", "Previous list", show=False, id="checklists.previous"),
    ]

    @property
    def state(self) -> ChecklistState:
        """The incident's checklist state (the App keeps it)."""
        state = self.cockpit.checklists
        assert state is not None, "the App opens this screen once the procedure is loaded"
        return state

    def compose(self) -> ComposeResult:
        yield IncidentBar()
        procedure = self.state.procedure
        # The list to show first is the tabs' initial one: choosing it after they mount raced
        # with their own selection of the first tab (and lost under load).
        initial = f"list-{self.start}" if self.start in procedure.checklists else ""
        with TabbedContent(id="checklist-tabs", initial=initial):
            for kind in procedure.checklists:
                with TabPane(self.tab_title(kind), id=f"list-{kind}"):
                    yield OptionList(*self.options(kind), id=f"items-{kind}")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.cockpit.event_recorded.subscribe(self, self.event_recorded)
        self.focus_list()

    def tab_title(self, kind: str) -> Content:
        """'Quick Rollback Checklist 2/6'."""
        progress = self.state.progress(kind)
        title = self.state.procedure.checklists[kind].title  # type: ignore[index]
        return plain(f"{title} {progress.done + progress.skipped}/{progress.total}", one_line=True)

    def options(self, kind: str) -> list[Option]:
        """One line per item: box, text, and how it was settled."""
        lines = []
        opened = parse_iso(self.cockpit.state.incident.opened_at)  # deadlines count from it
        for item in self.state.procedure.checklists[kind].items:  # type: ignore[index]
            state = self.state.state(kind, item.id)
            text = f"{_BOX[state.status]} {item.text}"
            if item.auto is not None and item.auto.metric is not None:
                auto = item.auto
                text += (
                    f"  (auto: {auto.metric} {auto.comparison} {auto.threshold:g} x{auto.samples})"
                )
            if item.run is not None and state.status == "open":
                text += f"  (Enter runs {item.run.provider}.{item.run.action})"
            due = due_at(item, opened)
            if due is not None and state.status == "open":
                text += f"  ({deadline_text(due, self.cockpit.session.clock.now())})"
            if state.status != "open":
                how = "by itself" if state.automatic else f"by {state.actor}"
                text += f"  — {how}, {state.at[11:19]}"
                if state.reason:
                    text += f": {state.reason}"
            lines.append(Option(plain(text), id=item.id))  # plain: "[x]" is not markup
        return lines

    def active(self) -> tuple[str, OptionList] | None:
        """The visible list's kind and widget (None until the tabs are mounted)."""
        kind = self.query_one(TabbedContent).active.removeprefix("list-")
        return (kind, self.query_one(f"#items-{kind}", OptionList)) if kind else None

    def focus_list(self) -> None:
        """Give the visible list the focus, so arrows move through its items."""
        active = self.active()
        if active is not None:
            active[1].focus()

    def on_tabbed_content_tab_activated(self, message: TabbedContent.TabActivated) -> None:
        self.focus_list()

    def highlighted(self) -> tuple[str, str] | None:
        """The list and item under the cursor."""
        active = self.active()
        if active is None:
            return None
        kind, items = active
        if items.highlighted is None:
            return None
        option = items.get_option_at_index(items.highlighted)
        return (kind, option.id) if option.id else None

    def act(self, action: str, reason: str = "") -> None:
        """Record a responder's action on the highlighted item, or say why it cannot be done."""
        target = self.highlighted()
        if target is None:
            return
        try:
            kind, summary, payload = self.state.event_for(*target, action, reason)  # type: ignore[arg-type]
        except ValueError as error:
            self.notify(str(error), severity="warning")
            return
        if self.cockpit.record(kind, summary, payload) is None:
            self.notify(self.cockpit.read_only_reason, title="Not recorded", severity="warning")

    def action_tick(self) -> None:
        """Space: tick an open or skipped item, untick a ticked one."""
        target = self.highlighted()
        if target is not None:
            done = self.state.state(*target).status == "done"
            self.act("untick" if done else "tick")

    def action_skip(self) -> None:
        """Ask why, then skip the highlighted item."""
        from cockpit.screens.modals import NoteScreen

        def skip(reason: str | None) -> None:
            if reason:
                self.act("skip", reason)

        self.app.push_screen(
            NoteScreen("Why skip this item? (Enter to record, Esc to cancel)"), skip
        )

    def event_recorded(self, event: Event) -> None:
        """Repaint the list an event touched, keeping the cursor where it was."""
        kind = str(event.payload.get("list", "")) if event.kind.startswith("checklist.") else ""
        if not kind:
            return
        items = self.query_one(f"#items-{kind}", OptionList)
        cursor = items.highlighted
        items.clear_options()
        items.add_options(self.options(kind))
        items.highlighted = cursor
        self.query_one(TabbedContent).get_tab(f"list-{kind}").label = self.tab_title(kind)

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        """Enter on an item the procedure can run: open its action; its verified result ticks
        the item."""
        target = self.highlighted()
        if target is None:
            return
        kind, item_id = target
        item = next(i for i in self.state.procedure.checklists[kind].items if i.id == item_id)  # type: ignore[index]
        if item.run is None:
            self.notify("Space ticks it; only items with a check to run open one.")
            return
        from cockpit.screens.action import ActionScreen

        params = {**item.run.params, "incident": str(self.cockpit.session.incident.id)}
        self.app.push_screen(
            ActionScreen(item.run.provider, item.run.action, params, checklist=(kind, item_id))
        )

    def action_leave(self) -> None:
        """Back to where the checklists were opened from."""
        self.dismiss(None)

    def _step(self, offset: int) -> None:
        tabs = self.query_one(TabbedContent)
        ids = [f"list-{kind}" for kind in self.state.procedure.checklists]
        tabs.active = ids[(ids.index(tabs.active) + offset) % len(ids)]

    def action_next_tab(self) -> None:
        """Show the next list."""
        self._step(1)

    def action_previous_tab(self) -> None:
        """Show the previous list."""
        self._step(-1)
