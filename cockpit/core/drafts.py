"""Communication drafts: a procedure's templates filled with the incident's recorded facts.

Facts come from the timeline (title, severity, times, what fired, what was decided); a fact the
timeline does not hold yet stays visible as `[name]` for the responder to fill in, rather than
failing or being invented.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.core.clock import parse_iso
from cockpit.core.paths import ensure_private_dir, write_atomically
from cockpit.core.recovery_text import recovery_words
from cockpit.core.redact import scrub

if TYPE_CHECKING:
    from cockpit.core.incidents import Incident
    from cockpit.core.procedure import Procedure, Template


class _Facts(dict[str, str]):
    """Missing facts render as `[name]`, so a draft is never refused for a gap."""

    def __missing__(self, key: str) -> str:
        return f"[{key}]"


def _minutes(seconds: float) -> str:
    whole = max(0, int(seconds // 60))
    return f"{whole} minute{'s' if whole != 1 else ''}"


def incident_facts(
    procedure: Procedure,
    incident: Incident,
    events: Iterable[tuple[str, str, Mapping[str, Any], str]],
    now: datetime,
) -> dict[str, str]:
    """The facts a template may name, from (kind, summary, payload, ts) events in order."""
    opened = parse_iso(incident.opened_at)
    facts = {
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "date": opened.strftime("%Y-%m-%d"),
        "start_time": opened.strftime("%H:%M"),
        "time": now.strftime("%H:%M"),
        "duration": _minutes((now - opened).total_seconds()),
    }
    if incident.closed_at:
        closed = parse_iso(incident.closed_at)
        facts["end_time"] = closed.strftime("%H:%M")
        facts["duration"] = _minutes((closed - opened).total_seconds())
    status_updates: dict[str, bool] = {}  # messages queued for the status page: sent yet?
    for kind, summary, payload, _ in events:
        if kind == "outbox.queued" and _for_status_page(procedure, payload):
            status_updates[str(payload.get("id"))] = False
        elif kind == "outbox.sent" and str(payload.get("id")) in status_updates:
            status_updates[str(payload.get("id"))] = True
        elif kind == "trigger.fired" and "reason" not in facts:
            facts["reason"] = summary.split(":", 1)[0]  # the rule's title, in the team's words
        elif kind == "wizard.decided":
            options = [
                procedure.option(o) for o in payload.get("options", []) if _known(procedure, o)
            ]
            if options:
                facts["level"] = f"Level {options[0].level} · {options[0].title}"
                facts["eta"] = recovery_words(options[0].recovery_time)
                facts["action"] = f"Rolling back: {options[0].title}"
    # "Status Page: [Updated/Updating]" (pitchey): what the outbox did with the status page.
    if any(status_updates.values()):
        facts["status_page_state"] = "Updated"
    elif status_updates:
        facts["status_page_state"] = "Updating"
    else:
        facts["status_page_state"] = "Not updated yet"
    return facts


def _for_status_page(procedure: Procedure, payload: Mapping[str, Any]) -> bool:
    """Whether a queued message updates the status page: a status-page template's, or sent to
    the statuspage notifier."""
    message = payload.get("message")
    if not isinstance(message, Mapping):
        return False
    extra = message.get("extra")
    template = (
        procedure.templates.get(str(extra.get("template"))) if isinstance(extra, Mapping) else None
    )
    if template is not None:
        return template.audience == "status_page" or template.channel == "status_page"
    return message.get("channel") == "statuspage"


def _known(procedure: Procedure, option_id: str) -> bool:
    return any(option.id == option_id for option in procedure.options)


def render(template: Template, facts: Mapping[str, str]) -> tuple[str, str]:
    """(subject, body) with the facts filled in and gaps left as `[name]`."""
    filled = _Facts(facts)
    formatter = string.Formatter()
    return formatter.vformat(template.subject, (), filled), formatter.vformat(
        template.body, (), filled
    )


def missing(template: Template, facts: Mapping[str, str]) -> list[str]:
    """The placeholders this template needs that the facts do not hold yet."""
    return [name for name in template.placeholders() if name not in facts]


SAVED = "draft.saved"
"""The event kind of a saved draft: payload {template, subject, body, file}."""


def saved_drafts(events: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, tuple[str, str]]:
    """The latest saved (subject, body) of each template, from (kind, payload) events."""
    drafts: dict[str, tuple[str, str]] = {}
    for kind, payload in events:
        if kind == SAVED:
            drafts[str(payload["template"])] = (
                str(payload.get("subject", "")),
                str(payload.get("body", "")),
            )
    return drafts


def as_text(subject: str, body: str) -> str:
    """A draft as the file holds it: a Subject line when there is one, then the body."""
    text = f"Subject: {subject}\n\n{body}" if subject else body
    return text if text.endswith("\n") else text + "\n"


def write_draft(directory: Path, incident_id: int, template_id: str, text: str) -> Path:
    """Write a draft to `<directory>/incident-<id>/<template>.txt`, owner-only, atomically.

    Written to a temporary file and renamed, so a crash never leaves half a message; secrets
    are scrubbed first, as in the timeline.
    """
    folder = ensure_private_dir(directory / f"incident-{incident_id}")
    return write_atomically(folder / f"{template_id}.txt", scrub(text), private=True)
