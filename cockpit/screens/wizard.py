"""Provides the decision wizard: the procedure's tree one question at a time, evidence alongside.

Each answer is pressed with its own key; where the procedure links a question to a metric, the
live value suggests an answer and Enter accepts it. Every answer, step back and the decision is
recorded in the timeline first, so time-to-decide is measured and a reopened cockpit resumes at
the same step. The key line offers only what a key does at this step: Enter is "Accept
suggestion" while the evidence suggests an answer, "Record decision" at the recommendation, and
Enter on a question the evidence does not speak to says which keys answer it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.console import Group
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from cockpit.core.clock import parse_iso
from cockpit.core.state import WIZARD_KINDS
from cockpit.core.wizard import ANSWERED, BACK, DECIDED, Suggestion, Wizard, severity_label
from cockpit.screens.base import CockpitScreen
from cockpit.screens.incident_bar import IncidentBar
from widgets.footer import KeyFooter
from widgets.metric_pane import format_value
from widgets.plain import plain_text

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from cockpit.core.procedure import Monitor, RollbackOption
    from cockpit.core.timeline import Event


class WizardScreen(CockpitScreen[None]):
    """One question per step; the end is a recommended rollback option and why."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Two meanings of Enter, one at a time (check_action): Textual runs the first binding of
        # a key whose check passes, and the key line shows only that one.
        Binding("enter", "accept", "Accept suggestion", id="wizard.accept"),
        Binding("enter", "decide", "Record decision", id="wizard.decide"),
        Binding("backspace", "back", "Back", id="wizard.back"),
        Binding("r", "roll_back", "Decide and roll back", id="wizard.roll_back"),
        Binding("escape", "leave", "Leave", id="wizard.leave"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.wizard: Wizard | None = None
        self.suggestion: Suggestion | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer only the keys that do something at this step (False hides a key's hint)."""
        wizard = self.wizard
        if wizard is None:
            return True
        if action == "accept":
            return not wizard.done and self.suggestion is not None
        if action in ("decide", "roll_back"):
            return wizard.done
        if action == "back":
            return bool(wizard.path)
        return True

    def compose(self) -> ComposeResult:
        yield IncidentBar()
        with VerticalScroll(id="wizard-scroll"):
            yield Static(id="wizard-step")
        yield KeyFooter()

    def on_mount(self) -> None:
        app = self.cockpit
        procedure = app.session.procedure
        assert procedure is not None, "the App opens the wizard once the procedure is loaded"
        self.wizard = Wizard(procedure)
        kinds = (ANSWERED, BACK, DECIDED)
        self.wizard.replay((e.kind, e.payload) for e in app.events if e.kind in kinds)
        app.board_changed.subscribe(self, self.show_step)
        app.event_recorded.subscribe(self, self.someone_answered)
        self.show_step(None)

    def someone_answered(self, event: Event) -> None:
        """Another responder moved the walk (or answered the same question): follow the
        timeline's walk, the shared one (this screen's own answers show at once already)."""
        if event.kind not in WIZARD_KINDS or event.id in self.cockpit.mine:
            return
        shared = self.cockpit.state.wizard
        if shared is None or self.wizard is None:
            return
        self.wizard.path, self.wizard.closed = list(shared.path), shared.closed
        self.show_step(None)

    def latest(self) -> dict[str, float | None]:
        """Each metric's latest value, from the board."""
        board = self.cockpit.board
        if board is None:
            return {}
        return {
            name: window.latest.value if window.latest is not None else None
            for name, window in board.windows.items()
        }

    def show_step(self, _: None) -> None:
        """Paint the current question (or the recommendation) with its evidence."""
        wizard = self.wizard
        assert wizard is not None
        self.suggestion = wizard.suggest(self.latest())
        body: list[Text] = []
        answered = len(wizard.path)
        question = wizard.question
        if question is None:
            recommendation = wizard.recommendation()
            body.append(plain_text("Recommendation", "bold"))
            first = recommendation.options[0] if recommendation.options else None
            lead = f"Level {first.level} · {first.title}:" if first else None
            for line in recommendation.explanation.splitlines():
                # The option to take first stands out; the rest is the why and the fallback.
                style = "bold reverse" if lead and line.startswith(lead) else ""
                body.append(plain_text(line, style))
            for option in recommendation.options[:1]:
                for instruction in option.steps:
                    body.append(plain_text(f"  · {instruction}"))
            body.append(
                plain_text(
                    "\nEnter records the decision and opens its checklist · r records it and "
                    "opens the first option's plan · Backspace changes the last answer"
                )
            )
        else:
            body.append(plain_text(f"Step {answered + 1} · {question.question}", "bold"))
            if question.help:
                body.append(plain_text(question.help, "italic"))
            for answer in question.answers:
                mark = (
                    "   ← the evidence says this"
                    if self.suggestion and answer.key == self.suggestion.key
                    else ""
                )
                body.append(plain_text(f"  [{answer.key}] {answer.label}{mark}"))
            if question.monitor is not None:
                body.append(plain_text(self.watch_text(question.monitor), "bold"))
            if self.suggestion is not None:
                body.append(plain_text(f"Evidence: {self.suggestion.reason} (Enter accepts)"))
        body.extend(self.evidence())
        walked = {step.node for step in wizard.path}
        for conflict in self.cockpit.state.conflicts:
            if conflict.node in walked:
                earlier, later = conflict.earlier, conflict.later
                body.append(
                    plain_text(
                        f"Conflict at {conflict.node}: {earlier.actor or 'someone'} answered "
                        f"{earlier.label!r}, then {later.actor or 'someone'} {later.label!r}: "
                        "the later answer stands",
                        "bold",
                    )
                )
        if wizard.path:
            body.append(plain_text("\nSo far:", "bold"))
            for step in wizard.path:
                body.append(plain_text(f"  {step.label}  ({step.node})"))
        # Questions, answers, explanations and metric titles are the procedure's words: Rich
        # Text (never markup: "[y]" is the answer's key), control characters made visible.
        self.query_one("#wizard-step", Static).update(Group(*body))
        self.refresh_bindings()  # the suggestion (Enter's meaning) may have come or gone

    def watched(self) -> float:
        """Seconds since the walk reached the question it is at (now, before that move has
        come back from the timeline)."""
        app = self.cockpit
        now = app.session.clock.now()
        shared, wizard = app.state.wizard, self.wizard
        moved = app.state.walk_moved_at
        if moved is None:  # the first question: watched since the incident opened
            moved = parse_iso(app.state.incident.opened_at)
        if shared is None or wizard is None or shared.current != wizard.current:
            return 0.0
        # On a drill's clock when it runs faster (IncidentState.drill_time).
        return max(0.0, (now - moved).total_seconds() * app.state.time_scale)

    def watch_text(self, monitor: Monitor) -> str:
        """'Monitor for 10 minutes: 07:32 left · Error rate 6.20 %', or that it is done."""
        left = monitor.minutes * 60 - self.watched()
        minutes = f"{monitor.minutes:g} minute{'s' if monitor.minutes != 1 else ''}"
        if left > 0:
            whole = int(left + 0.999)
            text = f"Monitor for {minutes}: {whole // 60:02d}:{whole % 60:02d} left"
        else:
            text = f"Monitored for {minutes}: answer now"
        board = self.cockpit.board
        if monitor.metric is not None and board is not None:
            for view in board.views(self.cockpit.session.clock.now()):
                if view.metric == monitor.metric:
                    text += f" · {view.title} {format_value(view.value, view.unit)}"
        return text

    def evidence(self) -> list[Text]:
        """Fired triggers with their explanations, and the metrics' latest values."""
        board = self.cockpit.board
        if board is None:
            return []
        lines = [plain_text("\nLive evidence:", "bold")]
        for rule, verdict in board.firing():
            lines.append(plain_text(f"  FIRING {rule.title}: {verdict.explanation}"))
        for view in board.views(self.cockpit.session.clock.now()):
            value = format_value(view.value, view.unit)
            lines.append(plain_text(f"  {view.title}: {value} {view.state.value.upper()}"))
        return lines

    def on_key(self, event: events.Key) -> None:
        """An answer key answers the question (before the App's own keys see it); Enter where
        the evidence suggests nothing says which keys answer, rather than doing nothing."""
        wizard = self.wizard
        question = wizard.question if wizard is not None else None
        if question is None:
            return
        keys = [a.key for a in question.answers]
        if event.key == "enter" and self.suggestion is None:
            event.stop()
            event.prevent_default()
            self.notify(f"No suggestion here: press an answer's key ({'/'.join(keys)})")
            return
        if event.key not in keys:
            return
        event.stop()
        event.prevent_default()
        self.choose(event.key)

    def refused(self) -> bool:
        """A read-only cockpit (a watcher, an observer by its role) answers nothing: says so."""
        if self.cockpit.read_only:
            self.notify(self.cockpit.read_only_reason, title="Not recorded", severity="warning")
        return self.cockpit.read_only

    def choose(self, key: str) -> None:
        """Record the answer, then move on."""
        wizard = self.wizard
        assert wizard is not None
        if self.refused():
            return
        monitor = wizard.question.monitor if wizard.question is not None else None
        watched = self.watched()
        step = wizard.answer(key, self.suggestion)
        note = " (overriding the evidence)" if step.overrode_evidence else ""
        payload = Wizard.payload(step)
        if monitor is not None:  # how long the runbook's watch really was
            payload["watched_seconds"] = round(watched)
            if watched < monitor.minutes * 60:
                note += f" (after {watched / 60:.0f} of {monitor.minutes:g} minutes' watch)"
        self.cockpit.record(ANSWERED, f"Decision: {step.label}{note}", payload)
        self.show_step(None)

    def action_accept(self) -> None:
        """Enter on a question the evidence speaks to: accept its answer."""
        wizard = self.wizard
        assert wizard is not None
        if not wizard.done and self.suggestion is not None:
            self.choose(self.suggestion.key)

    def action_decide(self) -> None:
        """Enter at the recommendation: record the decision and open its checklist."""
        wizard = self.wizard
        assert wizard is not None
        if wizard.done and not self.refused():
            self.record_decision()
            self.open_checklist()

    def action_roll_back(self) -> None:
        """r at the recommendation: record the decision and open its first option's plan."""
        wizard = self.wizard
        assert wizard is not None
        if not wizard.done or self.refused():
            return
        from cockpit.screens.action import ActionScreen

        options = self.record_decision()
        if options:
            first = options[0]
            self.app.switch_screen(
                ActionScreen(
                    first.provider,
                    first.action,
                    dict(first.params),
                    option=first.id,
                    decided=wizard.current,  # recorded just now, maybe not read back yet
                )
            )
        else:
            self.open_checklist()

    def record_decision(self) -> list[RollbackOption]:
        """Record where the answers led; returns the recommended options, best first."""
        wizard = self.wizard
        assert wizard is not None
        recommendation = wizard.recommendation()
        level = recommendation.severity
        summary = f"Decided: {recommendation.outcome.outcome}"
        self.cockpit.record(
            DECIDED,
            summary,
            {
                "node": wizard.current,
                "options": [option.id for option in recommendation.options],
                "answers": [Wizard.payload(s) for s in wizard.path],
                "severity": level.id if level is not None else None,
            },
        )
        if level is not None:  # the outcome's severity is the incident's from now on
            self.cockpit.set_severity(severity_label(level))
        self.notify(summary, title="Decision recorded")
        return recommendation.options

    def open_checklist(self) -> None:
        """Replace the wizard with the checklist that follows the decision."""
        from cockpit.core.checklist_state import list_after_decision
        from cockpit.screens.checklists import ChecklistsScreen

        procedure = self.cockpit.session.procedure
        assert procedure is not None
        self.app.switch_screen(ChecklistsScreen(list_after_decision(list(procedure.checklists))))

    def action_back(self) -> None:
        """Backspace: change the last answer."""
        wizard = self.wizard
        assert wizard is not None
        if self.refused():
            return
        step = wizard.back()
        if step is not None:
            self.cockpit.record(BACK, f"Changed the answer to: {step.node}", {"node": step.node})
            self.show_step(None)

    def action_leave(self) -> None:
        """Escape: leave; the answers so far are in the timeline and resume next time."""
        self.dismiss(None)
