"""The post-mortem export: one incident's timeline as a Markdown (or JSON) document.

Sections follow the seeds' incident report and post-mortem templates: a summary, the durations
against the procedure's targets (the seeds' "Time to Detection / Decision / Rollback"), who
held which role (when the lead assigned any: hand-overs with their times), the decision path,
the actions with their CLI lines, the checklists, the communications, the metrics at the
trigger, the decision and after the rollback, the sections people write in the app (the
procedure's own: root cause, lessons learned, action items, ...), every event in UTC and a
footer with the chain head hash to check with `cockpit timeline verify`.

Pure and deterministic: the same events give the same bytes (no wall clock: an incident still
open says so). The content comes from `cockpit.core.export_report.build_report`, already
redacted string by string; the Markdown around it is only our own words.

Pure Python (no Textual, no Rich).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from cockpit.core.clock import parse_iso
from cockpit.core.export_metrics import number, peak_text, span_text
from cockpit.core.export_report import build_report, ts_text
from cockpit.core.export_rows import Row, as_rows, timeline_rows
from cockpit.core.markdown_text import escape_html
from cockpit.core.redact import scrub

if TYPE_CHECKING:
    from cockpit.core.event_log import Event
    from cockpit.core.incidents import Incident
    from cockpit.core.procedure import Procedure
    from cockpit.core.sample_store import StoredSample

__all__ = ["Raw", "build_report", "cell", "code", "render_json", "render_markdown"]

_NOT_WRITTEN = "to be written"


def cell(text: object) -> str:
    """Text safe inside a GitHub table cell: pipes escaped, newlines as `<br>`, no raw HTML
    (and no entity: a typed "&lt;" reads "&lt;", not "<")."""
    value = "" if text is None else str(text)
    value = value.replace("\\", "\\\\").replace("|", "\\|")
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


class Raw(str):
    """Text already made safe for a table cell (a code span): `_table` keeps it as it is."""

    __slots__ = ()


def code(text: str) -> Raw:
    """An inline code span for a table cell: one line, survives backticks inside the text.

    Only ``|`` is escaped: GitHub splits cells before parsing spans, and inside a span neither
    entities nor backslash escapes are decoded, so ``<`` and ``\\`` stay as they are.
    """
    value = " ".join(text.split())
    fence = "`"
    while fence in value:
        fence += "`"
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return Raw(f"{fence}{pad}{value}{pad}{fence}".replace("|", "\\|"))


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        shown = (value if isinstance(value, Raw) else cell(value) for value in row)
        lines.append("| " + " | ".join(shown) + " |")
    return lines


def _summary(data: dict[str, Any], note: str | None) -> list[str]:
    about = data["incident"]
    kind = "Drill" if about["drill"] else "Incident"
    procedure = about["procedure"] or "-"
    if about["procedure_title"]:
        procedure = f"{procedure} ({about['procedure_title']})"
    status = about["status"]
    if about["resolution"]:
        status = f"{status}: {about['resolution']}"
    rows = [
        ("Date", about["date"]),
        ("Opened", ts_text(about["opened_at"])),
        ("Acknowledged", ts_text(about["acknowledged_at"])),
        ("Closed", ts_text(about["closed_at"]) if about["closed_at"] else "still open"),
        ("Duration", about["duration"]),
        ("Severity", about["severity"]),
        ("Impact", about["impact"] or _NOT_WRITTEN),
        ("Root cause", about["root_cause"] or _NOT_WRITTEN),
        ("Status", status),
        ("Procedure", procedure),
        ("Drill", "yes, an exercise" if about["drill"] else "no, a real incident"),
    ]
    return [
        f"# {kind} Report: {about['date']} {cell(about['title'])}",
        "",
        f"Incident {about['id']}, exported from the cockpit's timeline. All times are UTC.",
        "",
        *([f"> Note: {cell(scrub(note))}.", ""] if note else []),
        "## Summary",
        "",
        *_table(("Field", "Value"), rows),
    ]


def _durations(data: dict[str, Any]) -> list[str]:
    rows = [
        (
            row["label"],
            row["from"],
            ts_text(row["at"]) if row["at"] else "-",
            row["duration"],
            row["target"] or "no target",
            row["verdict"],
        )
        for row in data["durations"]
    ]
    return [
        "## Durations",
        "",
        *_gantt(data),
        "Each phase from the one before it (the first from when the impact began: the first"
        " breaching sample of the trigger that fired), against the procedure's targets.",
        "",
        *_scale_note(data),
        *_table(("Phase", "From", "Ended at", "Duration", "Target", "Result"), rows),
    ]


def _scale_note(data: dict[str, Any]) -> list[str]:
    """What a drill's faster clock means for the durations (nothing for wall time)."""
    scale = data["incident"].get("clock_scale", 1.0)
    if scale == 1.0:
        return []
    return [
        f"This drill ran on a ×{scale:g} clock: each wall second stood for {scale:g} seconds of"
        " incident time. Durations and the chart are in drill time; the times are the wall's.",
        "",
    ]


def _gantt(data: dict[str, Any]) -> list[str]:
    """The phases as a Mermaid gantt chart (GitHub renders it; elsewhere it reads as text),
    the table below it gives the same numbers; empty when no phase has both ends."""
    tasks = []
    for row in data["durations"]:
        if row["key"] == "total" or row["seconds"] is None or not row["started"]:
            continue
        tag = {"met": "done, ", "missed": "crit, "}.get(row["verdict"], "")
        name = row["label"].split(" (")[0]
        start, end = (_drill_time(data, row["started"]), _drill_time(data, row["at"]))
        tasks.append(f"    {name} : {tag}{row['key']}, {start}, {end}")
    if not tasks:
        return []
    about = data["incident"]
    return [
        "```mermaid",
        "gantt",
        f"    title Incident {about['id']}: phases (UTC)",
        "    dateFormat YYYY-MM-DDTHH:mm:ss",
        "    axisFormat %H:%M",
        "    section Phases",
        *tasks,
        "```",
        "",
    ]


def _drill_time(data: dict[str, Any], ts: str) -> str:
    """A time as Mermaid's dateFormat above reads it (`2026-01-15T03:12:00`), on the drill's
    clock when it ran faster (from the opening, scaled)."""
    scale = float(data["incident"].get("clock_scale", 1.0))
    if scale == 1.0:
        return ts[:19]
    opened = parse_iso(data["incident"]["opened_at"])
    return (opened + (parse_iso(ts) - opened) * scale).strftime("%Y-%m-%dT%H:%M:%S")


def _roles(data: dict[str, Any]) -> list[str]:
    """Who held which role, with the hand-overs and their times; nothing when nobody was
    given a role (the one who opened the incident led it alone: the summary's story)."""
    changes = data["roles"]["changes"]
    if not any(change["by"] for change in changes):
        return []
    holders = [
        (holder["role"], holder["person"], ts_text(holder["since"]))
        for holder in data["roles"]["holders"]
    ]
    rows = []
    for change in changes:
        person, role = change["person"], change["role"]
        if change["by"] is None:
            what = f"{person}: lead (opened the incident)"
        elif role == "lead":
            what = f"lead handed over: {change['handed_from'] or 'nobody'} → {person}"
        else:
            was = f" (was {change['previous']})" if change["previous"] else ""
            what = f"{person}: {role}{was}"
        rows.append((ts_text(change["at"]), what, change["by"] or "-"))
    return [
        "## Roles",
        "",
        *_table(("Role", "Person", "Since"), holders),
        "",
        "Who held which role, as the lead assigned them; a hand-over of lead is the lead "
        "assigning it to someone else.",
        "",
        *_table(("Time (UTC)", "Change", "By"), rows),
    ]


def _decisions(data: dict[str, Any]) -> list[str]:
    lines = ["## Decision path", ""]
    if not data["decisions"]:
        return [*lines, "No decision was recorded."]
    for index, decision in enumerate(data["decisions"], start=1):
        if len(data["decisions"]) > 1:
            lines += [f"### Decision {index}", ""]
        for step in decision["steps"]:
            line = f"- {step['question']} → **{step['answer']}**"
            if step["overrode_evidence"]:
                line += f" (overriding the evidence, which said {step['evidence']}"
                line += f": {step['reason']})" if step["reason"] else ")"
            elif step["evidence"] is not None:
                line += f" (as the evidence says: {step['reason']})"
            lines.append(line)
        options = ", ".join(decision["options"]) or "none"
        lines += [
            "",
            f"Recommendation: **{decision['outcome']}** (options: {options}), "
            f"decided by {decision['actor']} at {ts_text(decision['at'])}.",
            "",
        ]
    return lines[:-1]


def _actions(data: dict[str, Any]) -> list[str]:
    if not data["actions"]:
        return ["## Actions", "", "No action was run."]
    rows = []
    for action in data["actions"]:
        outcome = action["outcome"]
        if outcome == "succeeded":
            outcome += ", verified" if action["verified"] else ", not verified"
        rows.append(
            (
                action["title"],
                code(action["command"]) if action["command"] else "-",
                f"{outcome}: {action['result']}",
                action["actor"],
                ts_text(action["started_at"]),
                ts_text(action["ended_at"]) if action["ended_at"] else "-",
            )
        )
    return [
        "## Actions",
        "",
        *_table(("Action", "CLI", "Outcome", "Who", "Started", "Ended"), rows),
    ]


def _checklists(data: dict[str, Any]) -> list[str]:
    lines = ["## Checklists", ""]
    if not data["checklists"]:
        return [*lines, "No procedure was available, so no checklists."]
    untouched = [c for c in data["checklists"] if c["done"] + c["skipped"] == 0]
    for checklist in data["checklists"]:
        if checklist in untouched:
            continue
        progress = f"{checklist['done']} done, {checklist['skipped']} skipped"
        lines += [f"### {checklist['title']} ({progress}, of {checklist['total']})", ""]
        rows = [
            (item["item"], item["state"], item["actor"] or "-", ts_text(item["at"]))
            for item in checklist["items"]
        ]
        lines += [*_table(("Item", "State", "Who", "When"), rows), ""]
    if untouched:
        names = ", ".join(f"{c['title']} ({c['total']} items)" for c in untouched)
        lines += [f"Not started: {cell(names)}.", ""]
    return lines[:-1]


def _drafts_line(drafts: list[dict[str, Any]], sent: bool) -> str:
    """'1 draft saved: status-page (03:14 UTC)': a message written and kept but never sent is
    still a communication the reader should know of (one sent since is in the table)."""
    kept = [draft for draft in drafts if not draft["queued"]]
    if not kept:
        return ""
    each = []
    for draft in kept:
        saves = f"saved {draft['saves']} times, last " if draft["saves"] > 1 else ""
        each.append(f"{cell(draft['template'])} ({saves}{draft['saved_at'][11:16]} UTC)")
    count = len(kept)
    unsent = " and not sent" if sent else ""
    return f"{count} draft{'s' if count != 1 else ''} saved{unsent}: {', '.join(each)}"


def _communications(data: dict[str, Any]) -> list[str]:
    drafts = _drafts_line(data["drafts"], sent=bool(data["communications"]))
    if not data["communications"]:
        said = "No message was sent through the outbox"
        return ["## Communications", "", f"{said}; {drafts}." if drafts else f"{said}."]
    rows = [
        (
            message["channel"],
            message["subject"],
            message["status"],
            message["attempts"],
            ts_text(message["queued_at"]),
        )
        for message in data["communications"]
    ]
    return [
        "## Communications",
        "",
        *_table(("Channel", "Subject", "Status", "Attempts", "Queued"), rows),
        *(["", f"{drafts}."] if drafts else []),
    ]


def timeline_section(rows: Iterable[Row]) -> str:
    """The "Timeline" section: every event in UTC (`rows` as `Timeline.rows` gives them).

    Public so that `cockpit export` can render it in a second process while the first builds
    the rest: it is half the work of a long incident's post-mortem.
    """
    return "\n".join(_timeline(rows))


def _timeline(rows: Iterable[Row]) -> list[str]:
    # Ids and canonical UTC times never need escaping; kinds and actors repeat: escaped once.
    once = functools.cache(cell)

    lines = ["## Timeline", "", *_table(("#", "Time (UTC)", "Kind", "Who", "What"), [])]
    for event_id, ts, kind, actor, summary, command in timeline_rows(rows):
        what = cell(summary) + ("<br>" + code(command) if command else "")
        lines.append(
            f"| {event_id} | {ts[:10]} {ts[11:19]} UTC | {once(kind)} | {once(actor)} | {what} |"
        )
    return lines


def _metrics(data: dict[str, Any]) -> list[str]:
    metrics = data["metrics"]
    lines = ["## Metrics", ""]
    if not metrics["series"]:
        return [*lines, "No metric samples were recorded for this incident."]
    headers = ["Metric"]
    for point in metrics["points"]:
        at = point["at"]
        headers.append(f"{point['label']} ({at[11:19]})" if at else point["label"])
    headers.append("Peak")
    rows = []
    for series in metrics["series"]:
        name = series["title"] + (f" ({series['unit']})" if series["unit"] else "")
        rows.append((name, *(number(value) for value in series["values"]), peak_text(series)))
    width = max(len(series["metric"]) for series in metrics["series"])
    chart = [
        f"{series['metric']:<{width}}  {series['sparkline']}  {span_text(series)}"
        for series in metrics["series"]
    ]
    chart.append(f"{'':<{width}}  {metrics['markers']}")
    span = f"{ts_text(metrics['from'])} to {ts_text(metrics['to'])}"
    return [
        *lines,
        f"{metrics['samples']} samples from {span}; each value is the last reading at that "
        "moment (a dash: none yet).",
        "",
        *_table(headers, rows),
        "",
        "```text",
        *chart,
        "```",
        "",
        "Each line spans the whole incident, scaled from its lowest to its highest reading "
        "(the highest in each column). T: trigger fired, D: decision, R: rollback ended.",
    ]


def _written(data: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for section in data["written"]:
        # Markdown as typed, but its HTML as text (GitHub would drop "<behind>").
        text = escape_html(section["text"]) if section["text"] else ""
        text = text or f"_To be written: {escape_html(section['hint'])}._"
        lines += [f"## {escape_html(section['title'])}", "", text, ""]
    return lines[:-1]


def _footer(data: dict[str, Any], failure: str | None) -> list[str]:
    chain = data["chain"]
    if failure:
        # No head to check against: the chain up to it does not hold.
        return [
            "---",
            "",
            f"Timeline NOT verified: {cell(failure)}.",
            f"Exported with --unverified; `{chain['verify']}` names the failure.",
        ]
    return [
        "---",
        "",
        f"Timeline chain head: event {chain['head_id']}, hash `{chain['head_hash']}`.",
        f"Check it with `{chain['verify']}`: the head it prints must be this one, or later.",
    ]


def warning_line(failure: str) -> str:
    """The first line of a report whose timeline does not verify (`cockpit export
    --unverified`): that the chain failed, where and why."""
    return (
        f"> **WARNING: this timeline does not verify: {cell(failure)}. "
        "This report may not match what happened.**"
    )


def render_markdown(
    timeline_events: Sequence[Event],
    incident: Incident,
    procedure: Procedure | None,
    *,
    head: tuple[int, str] | None = None,
    samples: Sequence[StoredSample] = (),
    rows: Sequence[Row] | None = None,
    timeline: Callable[[], str] | None = None,
    failure: Callable[[], str | None] | None = None,
    note: str | None = None,
    verify: str = "cockpit timeline verify",
) -> str:
    """The post-mortem of one incident as GitHub-flavoured Markdown.

    Args:
        timeline_events: The incident's events (`Timeline.events(incident_id)`).
        incident: Its projection (`Timeline.incident(incident_id)`).
        procedure: The procedure it ran under, or None when unknown.
        head: The timeline's chain head ``(id, hash)`` (`Timeline.head()`); default: the
            incident's last event.
        samples: Its stored metric samples (`Timeline.samples`), for the metric snapshots.
        rows: Every event's row (`Timeline.rows`) when `timeline_events` holds only
            `REPORT_KINDS` (a long incident reads faster so); default: from the events.
        timeline: Gives the "Timeline" section as `timeline_section` renders it; called once
            everything else is built, so another process can render it meanwhile (`cockpit
            export`); default: rendered here from `rows`.
        failure: Says why the timeline does not verify (None or "": it does); called after
            `timeline`, so another process can verify meanwhile. A failure becomes the
            document's first line (`warning_line`) and its footer, instead of the head.
        note: How the procedure file on disk differs from the incident's copy of it (one
            line, under the title; `cockpit.core.procedure_copy.note`); None: it does not.

    Returns:
        The document, ending with one newline; identical for identical arguments.
    """
    ordered = sorted(timeline_events, key=lambda event: event.id)
    data = build_report(
        ordered,
        incident,
        procedure,
        head=head,
        samples=samples,
        with_timeline=False,
        verify=verify,
    )
    sections = [
        _summary(data, note),
        _durations(data),
        *([roles] if (roles := _roles(data)) else []),
        _decisions(data),
        _actions(data),
        _checklists(data),
        _communications(data),
        _metrics(data),
        _written(data),
        [timeline()]  # last but the footer: the wait for another process comes last
        if timeline is not None
        else _timeline(as_rows(ordered) if rows is None else rows),
    ]
    failed = failure() if failure is not None else None
    sections.append(_footer(data, failed))
    if failed:
        sections.insert(0, [warning_line(failed)])
    # Every string in `data` was scrubbed by build_report; the Markdown adds only our own words.
    # (Scrubbing the whole document again took 4 s of the 100,000-event benchmark's 8.)
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def render_json(
    timeline_events: Sequence[Event],
    incident: Incident,
    procedure: Procedure | None,
    *,
    head: tuple[int, str] | None = None,
    samples: Sequence[StoredSample] = (),
    rows: Sequence[Row] | None = None,
    failure: str | None = None,
    note: str | None = None,
    verify: str = "cockpit timeline verify",
) -> str:
    """The same content as `render_markdown`, as one JSON document (sorted keys, UTF-8).

    A `failure` (the timeline does not verify) is kept as ``chain.failure`` and
    ``chain.verified`` false, a `note` as ``procedure_note``; without them the document is as
    it always was.
    """
    data = build_report(
        timeline_events,
        incident,
        procedure,
        head=head,
        samples=samples,
        rows=rows,
        verify=verify,
    )
    if failure:
        data["chain"].update(verified=False, failure=failure)
    if note:
        data["procedure_note"] = scrub(note)
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
