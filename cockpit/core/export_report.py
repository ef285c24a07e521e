"""The post-mortem's content as plain data, computed from one incident's timeline events only.

`build_report` is pure and deterministic: the same events give the same document, every time
is the event's own UTC time, and no duration ever uses the wall clock (an incident still open
says so). Everything in the document has been through `cockpit.core.redact.redact`, even though
the timeline already redacts on the way in: a rule added since an event was recorded still
applies to its export. `cockpit.core.export` renders the document as Markdown; the JSON export
is the document itself.

Pure Python (no Textual, no Rich).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from cockpit.core.clock import parse_iso
from cockpit.core.drafts import SAVED as DRAFT_SAVED
from cockpit.core.export_metrics import metric_snapshots
from cockpit.core.export_rows import Row, as_rows, scrub_records, timeline_rows
from cockpit.core.incidents import LIFECYCLE_KINDS
from cockpit.core.phases import MILESTONE_LABELS, phases
from cockpit.core.postmortem import sections, summary_line
from cockpit.core.redact import redact
from cockpit.core.roles import ASSIGNED, Roles
from cockpit.core.state import MILESTONE_KINDS, IncidentState

if TYPE_CHECKING:
    from cockpit.core.event_log import Event
    from cockpit.core.incidents import Incident
    from cockpit.core.procedure import Procedure
    from cockpit.core.sample_store import StoredSample

#: The event kinds the sections read (everything but the full timeline): `cockpit export` reads
#: only these as events, and every event as a light row (`Timeline.rows`). Written out so one
#: list says what the export reads; tests/test_export.py checks the reducer needs no other.
REPORT_KINDS: tuple[str, ...] = (
    *MILESTONE_KINDS,
    "checklist.ticked",
    "checklist.unticked",
    "checklist.skipped",
    "checklist.auto_ticked",
    "outbox.queued",
    "outbox.sent",
    "outbox.failed",
    "outbox.refused",
    "postmortem.written",
    DRAFT_SAVED,
    # The roles' fold reads the opening (its actor is the first lead): the whole lifecycle
    # then, or the reducer's incident would restart from the opening without what followed.
    *LIFECYCLE_KINDS,
    ASSIGNED,
)

#: Bumped when the JSON document's shape changes incompatibly.
REPORT_VERSION = 3


def ts_text(ts: str | None) -> str:
    """`2026-01-15T03:12:00.000Z` → `2026-01-15 03:12:00 UTC` (empty: `-`)."""
    if not ts:
        return "-"
    return ts.replace("T", " ")[:19] + " UTC"


def duration_text(seconds: float | None) -> str:
    """`272.5` → `4m 32s`; `3725` → `1h 02m 05s`; None → `n/a`."""
    if seconds is None:
        return "n/a"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _seconds(start: str, end: str | None) -> float | None:
    if end is None:
        return None
    return max(0.0, (parse_iso(end) - parse_iso(start)).total_seconds())


def _durations(
    reached: dict[str, str | None],
    incident: Incident,
    procedure: Procedure | None,
    scale: float = 1.0,
) -> list[dict[str, Any]]:
    """The phases (cockpit.core.phases), each from the milestone before it, as rows; on a
    drill's clock, durations in drill time (`scale` drill seconds a wall second)."""
    targets: dict[str, tuple[float, str]] = {
        target.metric: (target.under_minutes, target.title)
        for target in (procedure.targets if procedure else [])
    }
    still_open = incident.status == "open"
    rows = []
    for phase in phases(
        reached, incident.opened_at, still_open=still_open, targets=targets, scale=scale
    ):
        if phase.seconds is not None:
            shown = duration_text(phase.seconds)
        elif phase.key == "total" and still_open:
            shown = "still open"
        else:
            shown = "n/a"
        rows.append(
            {
                "key": phase.key,
                "label": phase.label,
                "from": MILESTONE_LABELS[phase.start],
                "started": phase.started,
                "at": phase.at,
                "seconds": phase.seconds,
                "duration": shown,
                "target": (
                    f"< {phase.target_minutes:g} min" if phase.target_minutes is not None else None
                ),
                "target_title": phase.target_title,
                "verdict": phase.verdict,
            }
        )
    return rows


def _decisions(events: Sequence[Event], procedure: Procedure | None) -> list[dict[str, Any]]:
    from cockpit.core.procedure import OutcomeNode, QuestionNode

    nodes = procedure.tree.nodes if procedure else {}
    decisions = []
    for event in events:
        if event.kind != "wizard.decided":
            continue
        steps = []
        for answer in event.payload.get("answers", []):
            node = nodes.get(str(answer.get("node", "")))
            suggested = answer.get("suggested")
            steps.append(
                {
                    "question": node.question
                    if isinstance(node, QuestionNode)
                    else str(answer.get("node", "")),
                    "answer": str(answer.get("label") or answer.get("key", "")),
                    "evidence": suggested,
                    "overrode_evidence": suggested is not None and suggested != answer.get("key"),
                    "reason": str(answer.get("reason", "")),
                }
            )
        outcome = nodes.get(str(event.payload.get("node", "")))
        decisions.append(
            {
                "at": event.ts,
                "actor": event.actor,
                "summary": event.summary,
                "outcome": outcome.outcome if isinstance(outcome, OutcomeNode) else event.summary,
                "options": [str(option) for option in event.payload.get("options", [])],
                "steps": steps,
            }
        )
    return decisions


def _actions(state: IncidentState) -> list[dict[str, Any]]:
    return [
        {
            "title": action.summary,
            "action": action.action,
            "command": action.command,
            "outcome": action.outcome or "unknown",
            "verified": action.verified,
            "result": action.result or "no result recorded: outcome unknown",
            "actor": action.actor,
            "started_at": action.started,
            "ended_at": action.ended,
        }
        for action in state.actions.values()
    ]


def _roles(roles: Roles) -> dict[str, Any]:
    """Who held which role at the end, since when, and every change with its time (the
    opening names the first lead; a hand-over of lead names who held it before)."""
    since = {change.person: change.at for change in roles.changes}
    return {
        "holders": [
            {"role": role, "person": person, "since": since.get(person)}
            for role, person in roles.listing()
        ],
        "changes": [
            {
                "at": change.at,
                "role": change.role,
                "person": change.person,
                "by": change.by,
                "previous": change.previous,
                "handed_from": change.handed_from,
            }
            for change in roles.changes
        ],
    }


def _checklists(state: IncidentState) -> list[dict[str, Any]]:
    procedure, checklists = state.procedure, state.checklists
    if procedure is None or checklists is None:
        return []
    lists = []
    for kind, checklist in procedure.checklists.items():
        items = []
        for item in checklist.items:
            found = checklists.state(kind, item.id)
            shown: str = found.status
            if found.status == "done" and found.automatic:
                shown = "done (automatic)"
            elif found.status == "skipped" and found.reason:
                shown = f"skipped: {found.reason}"
            items.append({"item": item.text, "state": shown, "actor": found.actor, "at": found.at})
        progress = checklists.progress(kind)
        lists.append(
            {
                "list": kind,
                "title": checklist.title,
                "done": progress.done,
                "skipped": progress.skipped,
                "total": progress.total,
                "items": items,
            }
        )
    return lists


def _communications(events: Sequence[Event]) -> list[dict[str, Any]]:
    messages: dict[str, dict[str, Any]] = {}
    for event in events:
        if not event.kind.startswith("outbox."):
            continue
        message_id = str(event.payload.get("id", ""))
        if event.kind == "outbox.queued":
            message = event.payload.get("message", {})
            messages[message_id] = {
                "channel": str(message.get("channel", "")),
                "subject": str(message.get("subject", "")),
                "status": "queued",
                "attempts": 0,
                "queued_at": event.ts,
                "last_at": event.ts,
            }
            continue
        known = messages.get(message_id)
        if known is None:
            continue
        known["attempts"] = int(event.payload.get("attempt", known["attempts"] + 1))
        known["last_at"] = event.ts
        if event.kind == "outbox.sent":
            known["status"] = "sent"
        elif event.kind == "outbox.refused":
            known["status"] = f"refused: {event.payload.get('reason', '')}"
        elif event.kind == "outbox.failed":
            known["status"] = f"failed, retrying: {event.payload.get('reason', '')}"
    return list(messages.values())


def _drafts(events: Sequence[Event]) -> list[dict[str, Any]]:
    """Each template's saved draft: how often it was saved, when last, and whether it was
    queued in the outbox since (then the Communications table has it), in first-saved order."""
    drafts: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.kind == DRAFT_SAVED:
            template = str(event.payload.get("template", ""))
            draft = drafts.setdefault(template, {"template": template, "saves": 0})
            draft["saves"] += 1
            draft["saved_at"] = event.ts
            draft["queued"] = False
        elif event.kind == "outbox.queued":
            message = event.payload.get("message")
            extra = message.get("extra") if isinstance(message, dict) else None
            template = str(extra.get("template", "")) if isinstance(extra, dict) else ""
            if template in drafts:
                drafts[template]["queued"] = True
    return list(drafts.values())


def _written(state: IncidentState) -> list[dict[str, Any]]:
    texts = state.sections
    return [
        {"key": s.key, "title": s.title, "hint": s.hint, "text": texts.get(s.key)}
        for s in sections(state.procedure)
    ]


def _first_line(sections_written: list[dict[str, Any]], keyword: str) -> str | None:
    """The summary line of the first written section whose title has `keyword`."""
    for section in sections_written:
        if keyword in section["title"].lower() and section["text"]:
            return summary_line(section["text"])
    return None


def _timeline(rows: Iterable[Row]) -> list[dict[str, Any]]:
    keys = ("id", "ts", "kind", "actor", "summary", "command")
    return [dict(zip(keys, row, strict=True)) for row in timeline_rows(rows)]


def build_report(
    events: Sequence[Event],
    incident: Incident,
    procedure: Procedure | None,
    *,
    head: tuple[int, str] | None = None,
    samples: Sequence[StoredSample] = (),
    rows: Sequence[Row] | None = None,
    with_timeline: bool = True,
    verify: str = "cockpit timeline verify",
) -> dict[str, Any]:
    """The post-mortem of one incident as a JSON-ready, redacted document.

    Args:
        events: The incident's events in id order (`Timeline.events(incident_id)`).
        incident: Its projection (`Timeline.incident(incident_id)`).
        procedure: The procedure it ran under, for targets, questions and checklists; None when
            unknown (the export then says "no target" and lists no checklists).
        head: The timeline's chain head ``(id, hash)`` at export time (`Timeline.head()`), for
            the footer; default: the incident's last event.
        samples: Its stored metric samples (`Timeline.samples`), for the metric snapshots.
        rows: Every event's row (`Timeline.rows`), when `events` holds only the kinds the
            sections read (`REPORT_KINDS`, as `cockpit export` reads them); default: from
            `events`.
        with_timeline: False leaves out the "timeline" rows (the Markdown renders them
            from `timeline_rows` directly).
        verify: The command that checks this timeline, for the footer
            (`cockpit.core.paths.verify_command`: with --db when not the default one).

    Returns:
        The document; the same arguments always give an equal document.
    """
    ordered = sorted(events, key=lambda event: event.id)
    if head is None:
        head = (ordered[-1].id, ordered[-1].hash) if ordered else (0, "0" * 64)
    closed_at = incident.closed_at
    # The one reducer every cockpit folds the timeline with: the report cannot disagree with
    # what the cockpits showed (actions, checklists, written sections).
    state = IncidentState.replay(incident, ordered, procedure)
    texts = _written(state)
    reached = state.milestones()
    document = {
        "version": REPORT_VERSION,
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "date": incident.opened_at[:10],
            "opened_at": incident.opened_at,
            "acknowledged_at": incident.acknowledged_at,
            "closed_at": closed_at,
            "duration": duration_text(_seconds(incident.opened_at, closed_at))
            if closed_at
            else "still open",
            "severity": incident.severity,
            "status": incident.status,
            "resolution": incident.resolution,
            "procedure": incident.procedure,
            "procedure_title": procedure.title if procedure else None,
            "drill": incident.drill,
            "clock_scale": state.time_scale,
            "impact": _first_line(texts, "impact"),
            "root_cause": _first_line(texts, "root cause"),
        },
        "durations": _durations(reached, incident, procedure, state.time_scale),
        "decisions": _decisions(ordered, procedure),
        "actions": _actions(state),
        "checklists": _checklists(state),
        "roles": _roles(state.roles),
        "drafts": _drafts(ordered),
        "metrics": metric_snapshots(samples, reached, procedure, closed_at),
        "written": texts,
        "chain": {
            "head_id": head[0],
            "head_hash": head[1],
            "verify": verify,
        },
    }
    redacted: dict[str, Any] = redact(document)
    # Messages can number thousands, with fixed, harmless keys: their texts are scrubbed
    # directly, each distinct one once, rather than walked by `redact` (as the timeline's).
    redacted["communications"] = scrub_records(_communications(ordered))
    if with_timeline:
        redacted["timeline"] = _timeline(as_rows(ordered) if rows is None else rows)
    return redacted
