"""How a rollback option's recovery time reads, without saying the same thing twice.

A procedure's recovery time is a range in minutes plus the runbook's own words, and those
words often hold the range twice already: the seeds give it in a heading and again in the body,
and the procedure files keep both ("Medium - 2-3 minutes (~2-3 minutes)", "Estimated Time: 2-3
minutes (Rollback Time: ~2-3 minutes)"). Every place that shows a recovery time (the rollback
list, the wizard's recommendation, the drafts' ETA, the procedure's Markdown) reads it from
here: a bracketed part that only repeats the rest is left out, and the minutes are added only
when the words do not already give them.

Pure Python (no Textual, no Rich).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.core.procedure import RecoveryTime

_BRACKETED = re.compile(r"\s*\(([^()]*)\)")
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+")

# Words that only label a duration: "(Rollback Time: ~2-3 minutes)" says no more than "2-3
# minutes" beside it.
_LABELS = frozenset(
    {"about", "approx", "approximately", "around", "roughly", "estimated", "expected"}
    | {"eta", "recovery", "rollback", "time"}
)
_UNITS = {"min": "minutes", "mins": "minutes", "minute": "minutes", "sec": "seconds"}
_UNITS |= {"secs": "seconds", "second": "seconds", "hr": "hours", "hrs": "hours", "hour": "hours"}


def _tokens(text: str) -> set[str]:
    found = (token.lower() for token in _TOKEN.findall(text))
    return {_UNITS.get(token, token) for token in found}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def recovery_words(recovery: RecoveryTime) -> str:
    """The runbook's words for the recovery time, each bracketed part that repeats the rest
    left out: 'Medium - 2-3 minutes (~2-3 minutes)' → 'Medium - 2-3 minutes'."""
    text = recovery.text.strip()
    start = 0
    while (found := _BRACKETED.search(text, start)) is not None:
        rest = text[: found.start()] + text[found.end() :]
        said = _tokens(found.group(1)) - _LABELS
        if said <= _tokens(rest):
            text = rest
            start = found.start()
        else:
            start = found.end()
    return text.strip()


def recovery_summary(recovery: RecoveryTime) -> str:
    """The minutes and the words, the minutes only when the words do not give them already:
    'Medium - 2-3 minutes', but '0.5 min (Fastest - 30 seconds)'."""
    words = recovery_words(recovery)
    low, high = _number(recovery.min_minutes), _number(recovery.max_minutes)
    minutes = f"{high} min" if low == high else f"{low}-{high} min"
    bounds = {bound for bound in (low, high) if bound != "0"}
    if not words:
        return minutes
    if bounds <= _tokens(words):
        return words
    return f"{minutes} ({words})"
