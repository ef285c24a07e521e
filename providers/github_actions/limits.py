"""GitHub's rate limits, read from its answers: how long to wait before asking again.

GitHub limits with a 403 as often as with a 429 (provider_apis_2.md §10.1): a secondary limit
may say `retry-after` (seconds); a spent primary budget says `x-ratelimit-remaining: 0` and
`x-ratelimit-reset` (epoch seconds); a secondary limit without either says so only in its
message, and then the rule is to wait a minute. Any other 403 is refused credentials or
permissions, not a reason to wait.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx

from providers.http_read import retry_after_seconds

SECONDARY_WAIT = 60.0
"""GitHub's advice when a secondary limit names no time."""
MESSAGES = ("api rate limit exceeded", "you have exceeded a secondary rate limit")
ENDINGS = (
    "please wait a few minutes before you try again.",
    "please retry your request again later.",
)


def rate_wait(response: httpx.Response, now: float) -> float | None:
    """Seconds a 403 or 429 asks us to wait (`now`: epoch seconds), or None if no limit."""
    if response.status_code not in (403, 429):
        return None
    wait = retry_after_seconds(response.headers.get("retry-after"))
    if wait is not None:
        return wait
    spent = budget_wait(response.headers, now)
    if spent is not None:
        return spent
    if response.status_code == 429 or _says_limited(response):
        return SECONDARY_WAIT
    return None


def budget_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the budget resets when it is spent (remaining 0), else None."""
    if headers.get("x-ratelimit-remaining", "").strip() != "0":
        return None
    try:
        reset = float(headers.get("x-ratelimit-reset", ""))
    except ValueError:
        return SECONDARY_WAIT
    return max(1.0, reset - now)


def _says_limited(response: httpx.Response) -> bool:
    try:
        message = str(json.loads(response.content).get("message", "")).lower()
    except (ValueError, AttributeError, RecursionError):
        return False
    return message.startswith(MESSAGES) or message.endswith(ENDINGS)
