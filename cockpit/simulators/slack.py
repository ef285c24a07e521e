"""A simulator of a Slack incoming webhook: `POST /services/T…/B…/<token>`.

It follows ../shared/reference/provider_apis.md §6.1. The webhook's URL is its only credential,
so there is no auth header: a path other than the webhook's answers 404 `no_service`, as a
revoked webhook does. Every answer is plain text, as Slack's are: 200 `ok` on success, else a
status and one word (`invalid_payload`, `no_text`, `invalid_blocks`, `channel_is_archived`,
`action_prohibited`, `rate_limited`, `rollup_error`). Clients branch on that word.

A message needs `text` or `blocks` (text is the notification fallback when there are blocks).
Accepted messages are kept in `messages` for tests. Switches: `archived` answers 410
`channel_is_archived`, `prohibited` 403 `action_prohibited`; `fail("rate_limit")` answers 429
with Retry-After, `fail("status", status=500)` 500 `rollup_error`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cockpit.simulators.base import JSON, Fault, Reply, Request, Simulator, SimulatorError

# The base's own error codes, in Slack's words.
_WORDS = {
    "not_found": "no_service",
    "bad_request": "invalid_payload",
    "method_unknown": "invalid_method",
    "simulated": "rollup_error",
    "timeout": "rollup_error",
    "forbidden": "invalid_token",
}


class SlackSimulator(Simulator):
    """One incoming webhook; its secret is the path, as on hooks.slack.com."""

    name = "slack"
    content_type = "text/plain; charset=utf-8"

    def __init__(
        self,
        *,
        team: str = "T0SIMTEAM",
        bot: str = "B0SIMHOOK",
        token: str = "sim-webhook-secret-0123456789",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.team, self.bot = team, bot
        self.messages: list[dict[str, Any]] = []
        """Every accepted message body, in order."""
        self.archived = False
        self.prohibited = False
        super().__init__(token=token, clock=clock)

    @property
    def path(self) -> str:
        """The webhook's path, `/services/<team>/<bot>/<token>`."""
        return f"/services/{self.team}/{self.bot}/{self.token}"

    @property
    def webhook_url(self) -> str:
        """The full webhook URL (a secret, like the real one) once started."""
        return f"{self.url}{self.path}"

    # -- the platform's shape ---------------------------------------------------------------

    def routes(self) -> None:
        self.route("POST", "/services/{team}/{bot}/{token}", self._post)

    def authorized(self, request: Request) -> bool:
        return True  # the path is the credential; `_post` checks it

    def error_body(self, status: int, code: str, message: str, **extra: Any) -> JSON:
        return _WORDS.get(code, code)

    def rate_limit_reply(self, fault: Fault) -> Reply:
        return Reply(429, "rate_limited", {"Retry-After": f"{fault.retry_after:g}"})

    # -- the handler ------------------------------------------------------------------------

    def _post(self, request: Request) -> Reply:
        if request.path.rstrip("/") != self.path:
            raise SimulatorError(404, "no_service", "no such webhook")
        if self.prohibited:
            raise SimulatorError(403, "action_prohibited", "posting is restricted")
        if self.archived:
            raise SimulatorError(410, "channel_is_archived", "the channel is archived")
        body = request.body
        if not isinstance(body, dict):
            raise SimulatorError(400, "invalid_payload", "not a JSON object")
        text, blocks = body.get("text"), body.get("blocks")
        if text is not None and not isinstance(text, str):
            raise SimulatorError(400, "invalid_payload", "text is not a string")
        if blocks is not None and not _valid_blocks(blocks):
            raise SimulatorError(400, "invalid_blocks", "blocks are malformed")
        if not (text or "").strip() and not blocks:
            raise SimulatorError(400, "no_text", "neither text nor blocks")
        self.messages.append(body)
        return Reply(200, "ok")


def _valid_blocks(blocks: Any) -> bool:
    """A non-empty list of objects that each name their `type` (Slack checks far more)."""
    return (
        isinstance(blocks, list)
        and bool(blocks)
        and all(isinstance(block, dict) and isinstance(block.get("type"), str) for block in blocks)
    )
