"""The post-mortem's written sections: which ones a procedure asks for, and what was written.

The cockpit computes the summary, durations, decisions, actions, checklists, communications,
metrics and timeline. What only people can write (impact, root cause, resolution, lessons
learned, action items, ...) is edited in the app and recorded in the timeline as
`postmortem.written` events, the last one per section winning; the export renders them.

The sections are the procedure's own (`postmortem_sections`, from the seed's template), minus
the ones the cockpit computes; root cause, lessons learned and action items are always there,
since every seed's template asks for them in some form.

Pure Python (no Textual, no Rich).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cockpit.core.errors import CockpitError

if TYPE_CHECKING:
    from cockpit.core.procedure import Procedure

WRITTEN = "postmortem.written"

#: Sections the cockpit fills from the timeline itself; a procedure naming them gets ours.
COMPUTED = frozenset({"summary", "timeline"})

#: When a procedure names no sections: the incident report template most seeds share.
DEFAULT_TITLES = ("Impact", "Root Cause", "Resolution", "Lessons Learned", "Action Items")

#: Always present (keyword searched in the procedure's titles, and the title added if absent).
REQUIRED = (("root cause", "Root Cause"), ("lesson", "Lessons Learned"), ("action", "Action Items"))


@dataclass(frozen=True)
class Section:
    """One written section: `key` is stored in the timeline, `title` heads it in the export."""

    key: str
    title: str
    hint: str
    starter: str
    """What the editor starts with before anything is written (the seed template's prompts)."""


# (keyword in the title, what it asks for, the editor's starting text), first match wins.
_GUIDES: tuple[tuple[str, str, str], ...] = (
    (
        "impact",
        "who and what was affected, for how long",
        "- Users affected: \n- Requests failed: \n- Data loss: none / minimal / significant\n"
        "- Revenue impact: ",
    ),
    ("root cause", "what actually caused the issue", ""),
    ("what happened", "what happened and why the rollback was needed", ""),
    ("resolution", "what was done to resolve it", ""),
    ("went well", "what went well", "- Detection: \n- Rollback: \n- Communication: "),
    ("went wrong", "what went wrong, in the process as well as the code", "- "),
    (
        "lesson",
        "the key takeaways",
        "1. What went well: \n2. What went wrong: \n3. Where we got lucky: ",
    ),
    (
        "action",
        "what will be done, by whom",
        "- [ ] [owner] - Fix the underlying bug\n- [ ] [owner] - Add test coverage for [X]\n"
        "- [ ] [owner] - Improve monitoring for [Y]\n- [ ] [owner] - Update the deployment "
        "checklist",
    ),
    ("prevent", "how to prevent a recurrence", "- "),
    ("improvement", "process improvements identified", "- "),
)


def section_key(title: str) -> str:
    """'Root Cause Analysis' → 'root-cause-analysis' (what the timeline stores)."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _section(title: str) -> Section:
    lowered = title.lower()
    for keyword, hint, starter in _GUIDES:
        if keyword in lowered:
            return Section(section_key(title), title, hint, starter)
    return Section(section_key(title), title, title.lower(), "")


def sections(procedure: Procedure | None) -> list[Section]:
    """The written sections of this procedure's post-mortem, in its template's order."""
    titles = list(procedure.postmortem_sections) if procedure else []
    titles = [t for t in titles if section_key(t) not in COMPUTED] or list(DEFAULT_TITLES)
    for keyword, title in REQUIRED:
        if not any(keyword in t.lower() for t in titles):
            titles.append(title)
    found: dict[str, Section] = {}
    for title in titles:
        found.setdefault(section_key(title), _section(title))
    return list(found.values())


def written(events: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, str]:
    """The text of each section, the last `postmortem.written` winning (from (kind, payload))."""
    texts: dict[str, str] = {}
    for kind, payload in events:
        if kind == WRITTEN:
            texts[str(payload.get("section", ""))] = str(payload.get("text", ""))
    return texts


# A list bullet, number or task box in front of a written line: not part of a one-line summary.
_LIST_MARK = re.compile(r"^(?:[-*+]|\d+[.)])?\s*(?:\[[ xX]\])?\s*")


def summary_line(text: str) -> str:
    """A written section's first line without its bullet, number or task box: the summary's
    one-line impact and root cause, as the seeds' summaries have them."""
    line = next((line for line in text.splitlines() if line.strip()), "").strip()
    return _LIST_MARK.sub("", line) or line


def resolution_starter(events: Iterable[tuple[str, str, Mapping[str, Any], str]]) -> str:
    """What the timeline says was done, from (kind, summary, payload, ts): each action's
    outcome and the closing, as a first draft of the Resolution section."""
    lines = []
    for kind, summary, payload, ts in events:
        if kind == "action.result":
            verified = "; verified" if payload.get("verified") else ""
            lines.append(f"- {ts[11:16]} UTC: {summary}{verified}")
        elif kind == "incident.closed":
            lines.append(f"- {ts[11:16]} UTC: {summary}")
    return "\n".join(lines)


def written_event(section: Section, text: str) -> tuple[str, str, dict[str, str]]:
    """The (kind, summary, payload) recording `text` as `section`'s content.

    Raises:
        CockpitError: The text is only the starter or blank: nothing was written.
    """
    cleaned = text.strip()
    if not cleaned or cleaned == section.starter.strip():
        raise CockpitError(f"{section.title}: nothing written (it still holds the prompt)")
    lines = len(cleaned.splitlines())
    summary = f"Post-mortem: {section.title} written ({lines} line{'s' if lines != 1 else ''})"
    return WRITTEN, summary, {"section": section.key, "title": section.title, "text": cleaned}
