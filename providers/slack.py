"""Slack through an incoming webhook: one POST per message, `ok` when Slack took it.

The webhook URL is the credential (anyone holding it can post), so it is a Secret read from the
environment or a file, and no error ever shows it: they say "the Slack webhook". Slack answers
a refusal with a status and one word (`no_service`, `channel_is_archived`, `invalid_payload`);
the word is kept in the error, with what it usually means, because it is what a responder can
search for. A 429 or a 5xx is retried by the outbox (see providers/webhook.py).

A message is `{"text": "*<subject>*\\n<body>"}`; with `blocks = true` it also carries a header
block and the body in section blocks (Slack caps a section at 3000 characters), the text being
the notification's fallback. Webhooks have no read endpoint, so health() checks the URL's shape
only: sending a message to check would be a message.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr, field_validator

from cockpit.core.actions import Delivered, Outgoing
from cockpit.core.errors import ProviderError
from providers.api import Secret
from providers.webhook import HttpNotifier, NotifierOptions, check_url

_PATH = re.compile(r"^/services/[^/]+/[^/]+/[^/]+/?$")
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
MEANINGS = {
    "no_service": "the webhook was removed, or its URL is wrong",
    "invalid_token": "the webhook's token is no longer valid",
    "channel_not_found": "the channel was deleted",
    "channel_is_archived": "the channel is archived",
    "action_prohibited": "an admin restricted posting to the channel",
    "no_text": "the message had no text",
    "invalid_payload": "Slack could not read the message",
    "invalid_blocks": "Slack refused the message's blocks",
}


class SlackOptions(NotifierOptions):
    """`webhook_url = { env = "SLACK_WEBHOOK_URL" }`: the URL is the secret."""

    webhook_url: Secret
    blocks: bool = False

    @field_validator("webhook_url")
    @classmethod
    def _webhook_shape(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        check_url(url)
        if not _PATH.match(urlsplit(url).path):
            raise ValueError(
                "is not a Slack incoming-webhook URL (https://hooks.slack.com/services/T…/B…/…)"
            )
        return value


class SlackNotifier(HttpNotifier):
    """Post incident updates to one Slack channel through its incoming webhook."""

    name = "slack"
    title = "Slack"
    Options = SlackOptions

    def __init__(
        self, options: SlackOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(options, transport=transport)
        self.opts = options

    def where(self) -> str:
        return "the Slack webhook"

    def secrets(self) -> list[str]:
        url = self.opts.webhook_url.get_secret_value()
        path = urlsplit(url).path
        return [url, path, path.rstrip("/").rsplit("/", 1)[-1]]

    def reason(self, response: httpx.Response) -> str:
        word = response.text.strip()[:100]
        meaning = MEANINGS.get(word)
        return f"{word}: {meaning}" if meaning else word

    def health(self) -> str:
        return (
            "the Slack webhook URL has a webhook's shape; not checked without sending "
            "(a webhook has no read endpoint)"
        )

    def send(self, message: Outgoing) -> Delivered:
        document = slack_message(message, blocks=self.opts.blocks)
        url = self.opts.webhook_url.get_secret_value()
        response = self.call("POST", url, what="post to Slack", json=document)
        if response.text.strip() != "ok":
            # Slack's webhooks answer exactly `ok`; anything else is not Slack (a proxy, a
            # captive portal), so the message may not be posted and the outbox tries again.
            raise ProviderError(
                f"post to Slack: the Slack webhook answered {response.status_code} but not "
                f"'ok' ({len(response.content)} bytes); the message may not be posted"
            )
        return Delivered("posted to Slack")


def slack_message(message: Outgoing, *, blocks: bool = False) -> dict[str, Any]:
    """The webhook body: the subject in bold over the body, and blocks when asked."""
    subject, body = message.subject.strip(), message.body.strip()
    text = "\n".join(part for part in (f"*{subject}*" if subject else "", body) if part)
    document: dict[str, Any] = {"text": text or message.key}
    if blocks:
        parts: list[dict[str, Any]] = []
        if subject:
            header = subject if len(subject) <= HEADER_LIMIT else subject[: HEADER_LIMIT - 1] + "…"
            parts.append({"type": "header", "text": {"type": "plain_text", "text": header}})
        for start in range(0, len(body), SECTION_LIMIT):
            chunk = body[start : start + SECTION_LIMIT]
            parts.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
        if parts:
            document["blocks"] = parts[:50]  # Slack's limit per message
    return document
