"""Provides Automation: what the driving cockpit does by itself, without Textual or I/O.

Readings feed the trigger board (in every cockpit: each shows the board), and the driving
cockpit records what fired or cleared and pages; escalation steps and missed status updates
come due on the clock; checklist items tick themselves when their metric rule holds after the
decision, or when the rollback they wait for was verified; acknowledging and closing page the
paging service, whoever wrote them. Each call returns `Steps`, what to write and say; the App
performs them (cockpit/incident_app.py) and the state folds the writes back in when they are
read back, as it folds anyone's. A write is asked for once: the pending sets remember what is
on its way until it arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from cockpit.core import auto_rollback
from cockpit.core.actions import Outgoing
from cockpit.core.auto_rollback import AUTOMATIC
from cockpit.core.checklist_state import AUTO_TICKED
from cockpit.core.clock import iso_ms, parse_iso
from cockpit.core.escalation import DUE as ESCALATION_DUE
from cockpit.core.escalation import MISSED as ESCALATION_MISSED
from cockpit.core.escalation import EscalationClock
from cockpit.core.metrics import Sample
from cockpit.core.outbox import Outbox
from cockpit.core.reminders import OVERDUE, overdue

if TYPE_CHECKING:
    from cockpit.core.board import Board, TriggerChange
    from cockpit.core.event_log import Event
    from cockpit.core.procedure import AutomaticRollback
    from cockpit.core.state import IncidentState


@dataclass(frozen=True)
class Write:
    """An event to record."""

    kind: str
    summary: str
    payload: dict[str, Any]
    actor: str | None = None
    """Who it is recorded as, when not this cockpit's responder (the cockpit by itself)."""


@dataclass(frozen=True)
class Notice:
    """Something to tell the responder on screen."""

    message: str
    title: str
    severity: Literal["warning", "error"] = "warning"


@dataclass
class Steps:
    """What one call asks of the App: events to record, notices, a bell, stopping sources."""

    writes: list[Write] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    bell: bool = False
    stop_sources: bool = False
    start_automatic: AutomaticRollback | None = None
    """The automatic rollback whose countdown ended: the App plans and runs it."""

    def __iadd__(self, other: Steps) -> Steps:
        self.writes += other.writes
        self.notices += other.notices
        self.bell = self.bell or other.bell
        self.stop_sources = self.stop_sources or other.stop_sources
        self.start_automatic = self.start_automatic or other.start_automatic
        return self


class Automation:
    """One incident's automation over its state (see the module)."""

    def __init__(self, state: IncidentState, *, driving: bool) -> None:
        self.state = state
        self.driving = driving
        """Whether this cockpit drives: only the driver records and pages."""
        self.paging = False
        """Whether a paging service (a `pagerduty` notifier) is configured."""
        self.board: Board | None = None
        """Windows and trigger evaluators; built once the procedure is validated."""
        self.escalation: EscalationClock | None = None
        self.escalating: set[str] = set()
        """Escalation steps and missed updates asked for and not read back yet."""
        self.ticking: set[tuple[str, str]] = set()
        """Checklist items that ticked themselves, asked for and not read back yet."""
        self.failing: set[str] = set()
        """Sources whose last read failed."""
        self.chat: str | None = None
        """The configured chat notifier (`slack`, else `webhook`) an automatic rollback is
        announced on, if any."""
        self.announcing = False
        """An automatic rollback announced and not read back yet."""
        self.starting = False
        """An automatic rollback handed to the App to run (never twice)."""

    def use(self, board: Board) -> None:
        """The procedure is known: its board, and its escalation from the incident's opening."""
        assert self.state.procedure is not None, "the state knows the procedure first"
        self.board = board
        opened = parse_iso(self.state.incident.opened_at)
        self.escalation = EscalationClock(self.state.procedure.escalation, opened)

    # --- what arrives -------------------------------------------------------------------------

    def event(self, event: Event) -> Steps:
        """An event arrived (the state already holds it), from this cockpit or any other."""
        steps = Steps()
        kind, payload = event.kind, event.payload
        if kind == "action.result" and payload.get("outcome") == "succeeded":
            if payload.get("verified"):
                if payload.get("option"):
                    steps += self._verified_items(str(payload["option"]))
                if payload.get("checklist"):
                    steps += self._item_run(*payload["checklist"])
        elif kind.startswith("checklist."):
            self.ticking.discard((str(payload.get("list")), str(payload.get("item"))))
        elif kind == auto_rollback.ANNOUNCED:
            self.announcing = False  # read back: the state holds it, and it is never twice
        elif kind == "action.intent" and payload.get("option") and event.actor != AUTOMATIC:
            steps += self._stand_down()
        elif kind in (ESCALATION_DUE, ESCALATION_MISSED, OVERDUE):
            self.escalating.discard(str(payload.get("key")))
        elif kind == "incident.acknowledged" and self.state.incident.acknowledged_at == event.ts:
            steps += self.page(
                "acknowledge", "acknowledged", "Acknowledged in the rollback cockpit"
            )
        elif kind == "incident.closed":
            # Whoever closed it (this cockpit, another, `cockpit incident close`): nothing more
            # is sampled or fires for a closed incident; the post-mortem can still be written.
            resolution = str(payload.get("resolution") or "Closed in the rollback cockpit")
            steps += self.page("resolve", "resolved", resolution)
            steps.stop_sources = True
        return steps

    def source_answered(self, source: str) -> Steps:
        """A source answered: if it had failed, its recovery is said once."""
        if source not in self.failing:
            return Steps()
        self.failing.discard(source)
        return self._write("source.recovered", f"{source} answers again", {})

    def source_failed(self, source: str, reason: str) -> Steps:
        """A source could not be read: said once (its metrics then get a reading with no
        value, given to `readings`, so the panes say why and the no-data policy applies)."""
        if source in self.failing:
            return Steps()
        self.failing.add(source)
        return self._write("source.failed", f"{source}: {reason}", {})

    def readings(self, samples: Sequence[Sample]) -> Steps:
        """Feed the board (every cockpit shows it); the driver records what fired or cleared,
        pages, and ticks the items whose rule now holds."""
        steps = Steps()
        if self.board is not None:
            now = max((sample.at for sample in samples), default=None)
            steps += self._trigger_changes(self.board.ingest(list(samples)), now)
            steps += self._automatic_items()
        return steps

    def due(self, now: datetime) -> Steps:
        """Escalation steps, status updates and checklist deadlines come due, each recorded
        once, with one notice however many came due at once (catching up after a restart).
        `now` is the wall's: a drill's clock runs at its own scale (IncidentState.drill_time)."""
        steps = self.automatic_due(now)
        now = self.state.drill_time(now)
        steps += self._overdue(now)
        if self.escalation is None or not self.driving or self.state.incident.status == "closed":
            return steps
        known = self.state.escalation_keys | self.escalating
        now_due = self.escalation.due(now, known)
        for step in now_due:
            self.escalating.add(step.key)
            steps += self._write(
                ESCALATION_DUE, step.summary, {"key": step.key, "due_at": iso_ms(step.at)}
            )
        given = [self.state.drill_time(at) for at in self.state.updates_given]
        missed = self.escalation.missed_updates(now, given, known | self.escalating)
        for late in missed:
            self.escalating.add(late.key)
            steps += self._write(
                ESCALATION_MISSED, late.summary, {"key": late.key, "at": iso_ms(late.at)}
            )
        if now_due or missed:
            # The latest step, the latest update and the latest miss; the rest are recorded.
            latest = {step.key.split(":")[0]: step.summary for step in [*now_due, *missed]}
            earlier = len(now_due) + len(missed) - len(latest)
            message = " · ".join(latest.values())
            if earlier:
                message += f" (+{earlier} earlier, in the timeline)"
            steps.notices.append(Notice(message, "Escalation", "error" if missed else "warning"))
        return steps

    def _overdue(self, now: datetime) -> Steps:
        """Checklist items past their deadline still open ("post-mortem within 24h"): each
        recorded once, one notice."""
        steps = Steps()
        checklists = self.state.checklists
        if checklists is None or not self.driving or self.state.incident.status == "closed":
            return steps
        opened = parse_iso(self.state.incident.opened_at)
        late = overdue(checklists, opened, now, self.state.escalation_keys | self.escalating)
        for deadline in late:
            self.escalating.add(deadline.key)
            hours = f"{deadline.item.within_hours:g} h after the incident opened"
            steps += self._write(
                OVERDUE,
                f"Overdue: {deadline.item.text} (due {iso_ms(deadline.at)[11:16]} UTC, {hours})",
                {
                    "key": deadline.key,
                    "list": deadline.kind,
                    "item": deadline.item.id,
                    "due_at": iso_ms(deadline.at),
                },
            )
        if late:
            items = "; ".join(deadline.item.text for deadline in late)
            steps.notices.append(Notice(f"Past its deadline: {items}", "Overdue", "error"))
        return steps

    def next_escalation(self, now: datetime) -> str:
        """'→ CTO in 04:12' for the top bar, or '' when nothing timed is ahead."""
        now = self.state.drill_time(now)
        upcoming = self.escalation.next_step(now) if self.escalation is not None else None
        if upcoming is None:
            return ""
        left = int((upcoming.at - now).total_seconds())
        return f"→ {upcoming.role} in {left // 60:02d}:{left % 60:02d}"

    def page(self, stage: str, subject: str, body: str) -> Steps:
        """Tell the paging service through the outbox: trigger when a rule fires, acknowledge,
        resolve on closing. One dedup key per incident, so every trigger lands on one alert."""
        if not self.paging:
            return Steps()
        incident = self.state.incident
        kind, summary, payload = Outbox.queue(
            Outgoing(
                channel="pagerduty",
                subject=f"{incident.title}: {subject}",
                body=body,
                key=f"cockpit-incident-{incident.id}",
                stage=stage,
                severity=incident.severity,
            )
        )
        return self._write(kind, summary, payload)

    # --- inside -------------------------------------------------------------------------------

    def _write(self, kind: str, summary: str, payload: dict[str, Any]) -> Steps:
        return Steps([Write(kind, summary, payload)]) if self.driving else Steps()

    def _trigger_changes(
        self, changes: Iterable[TriggerChange], now: datetime | None = None
    ) -> Steps:
        steps = Steps()
        for change in changes:
            rule, verdict = change.rule, change.verdict
            text = f"{rule.title}: {verdict.explanation}"
            if not verdict.firing:
                steps += self._write("trigger.cleared", text, {"rule": rule.id})
                continue
            payload = {
                "rule": rule.id,
                "metric": rule.metric,
                "value": verdict.value,
                "threshold": rule.threshold,
                "counter": verdict.counter,
                "action": rule.action,
            }
            if change.began is not None:
                payload["breach_began"] = iso_ms(change.began)
            steps += self._write("trigger.fired", text, payload)
            steps += self.page("trigger", rule.title, verdict.explanation)
            steps.bell = steps.bell or self.driving
            if now is not None:
                steps += self._announce(rule.id, now)
        return steps

    def _announce(self, rule_id: str, now: datetime) -> Steps:
        """A trigger the procedure names for an automatic rollback fired: announce it, with its
        countdown, on screen, to the paging service and in chat (once per incident)."""
        if not self.driving or self.announcing:
            return Steps()
        said = auto_rollback.announcement(self.state, rule_id, now)
        if said is None:
            return Steps()
        summary, payload = said
        self.announcing = True
        steps = Steps([Write(auto_rollback.ANNOUNCED, summary, payload, auto_rollback.AUTOMATIC)])
        steps += self.page("trigger", "automatic rollback announced", summary)
        if self.chat is not None:
            incident = self.state.incident
            kind, queued, body = Outbox.queue(
                Outgoing(
                    channel=self.chat,
                    subject=f"{incident.title}: automatic rollback",
                    body=summary,
                    key=f"cockpit-incident-{incident.id}-auto",
                    severity=incident.severity,
                )
            )
            steps += Steps([Write(kind, queued, body, AUTOMATIC)])
        steps.notices.append(Notice(summary, "Automatic rollback", "error"))
        steps.bell = True
        return steps

    def _stand_down(self) -> Steps:
        """A responder started a rollback during the countdown: the cockpit stands down (the
        human acts; the same rollback twice would be worse than none)."""
        run = self.state.auto
        if run is None or not run.counting_down or not self.driving or self.starting:
            return Steps()
        self.starting = True  # never started after this
        summary = f"Automatic rollback of {run.option} stood down: a responder is rolling back"
        payload = {"option": run.option, "reason": "a responder is rolling back"}
        return Steps([Write(auto_rollback.CANCELLED, summary, payload, AUTOMATIC)])

    def automatic_ended(self, kind: str, reason: str, now: datetime) -> Steps:
        """The automatic rollback ended (verified, failed or refused): recorded as the cockpit's;
        anything but verified stops there, escalates to the next level and pages."""
        run = self.state.auto
        option = run.option if run is not None else ""
        words = {
            auto_rollback.VERIFIED: "verified",
            auto_rollback.FAILED: "failed",
            auto_rollback.REFUSED: "refused",
        }.get(kind, kind)
        summary = f"Automatic rollback {words}: {option}: {reason}"
        payload = {"option": option, "reason": reason}
        steps = Steps([Write(kind, summary, payload, auto_rollback.AUTOMATIC)])
        if kind == auto_rollback.VERIFIED:
            steps.notices.append(Notice(summary, "Automatic rollback", "warning"))
            return steps
        ahead = self.escalation.next_step(self.state.drill_time(now)) if self.escalation else None
        if ahead is not None:
            self.escalating.add(f"auto:{ahead.key}")
            steps += Steps(
                [
                    Write(
                        ESCALATION_DUE,
                        f"Escalate to {ahead.role} now: the automatic rollback {words}",
                        {"key": f"auto:{ahead.key}", "due_at": iso_ms(self.state.drill_time(now))},
                        AUTOMATIC,
                    )
                ]
            )
        steps += self.page("trigger", f"automatic rollback {words}", summary)
        steps.notices.append(Notice(summary, "Automatic rollback", "error"))
        steps.bell = True
        return steps

    def automatic_due(self, now: datetime) -> Steps:
        """The automatic rollback whose countdown ended, for the App to run (once)."""
        if not self.driving or self.starting:
            return Steps()
        entry = auto_rollback.due(self.state, now)
        if entry is None:
            return Steps()
        self.starting = True
        return Steps(start_automatic=entry)

    def _automatic_items(self) -> Steps:
        """Items whose metric rule holds on readings after the rollback succeeded (a metric
        healthy before anything was rolled back verifies nothing)."""
        steps = Steps()
        since, checklists, board = self.state.rolled_back_at, self.state.checklists, self.board
        if since is None or checklists is None or board is None or not self.driving:
            return steps
        values = {
            name: [s.value for s in window.samples if s.at > since]
            for name, window in board.windows.items()
        }
        for kind, item, why in checklists.automatic_due(values):
            steps += self._tick(kind, item, why)
        return steps

    def _tick(self, kind: str, item: str, why: str) -> Steps:
        checklists = self.state.checklists
        if checklists is None or not self.driving or (kind, item) in self.ticking:
            return Steps()
        self.ticking.add((kind, item))
        text = checklists.text(kind, item)
        return self._write(
            AUTO_TICKED, f"Ticked by itself: {text} ({why})", {"list": kind, "item": item}
        )

    def _item_run(self, kind: str, item: str) -> Steps:
        """An item whose own check (health check, smoke test) was run and verified."""
        checklists = self.state.checklists
        if checklists is None or checklists.state(kind, item).status != "open":
            return Steps()
        return self._tick(kind, item, "its check passed")

    def _verified_items(self, option: str) -> Steps:
        """Items that tick themselves when this rollback option's action was verified."""
        steps = Steps()
        if self.state.checklists is not None:
            for kind, item in self.state.checklists.verified_due(option):
                steps += self._tick(kind, item, f"{option} verified")
        return steps


def chat_notifier(notifiers: Iterable[str]) -> str | None:
    """The notifier an automatic rollback is announced on: `slack`, else `webhook`."""
    names = set(notifiers)
    return next((name for name in ("slack", "webhook") if name in names), None)
