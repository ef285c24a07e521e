"""PagerDuty through the Events API v2: one event per message, followed by its dedup key.

A message's `key` is the event's `dedup_key`, so the incident's trigger, acknowledge and resolve
reach the same alert; a trigger without a key gets PagerDuty's own, which comes back as
`Delivered.reference`. The stage picks the event action (`trigger`, `acknowledge`, `resolve`;
empty means trigger). The routing key (the 32-character integration key) travels in the body
and is a Secret: no error shows it.

Severity, from the incident's priority: P0 and P1 → `critical`, P2 → `error`, P3 → `warning`;
the procedures' words: High → `error`, Medium → `warning`, Low → `info`; one of PagerDuty's own
four words (Critical, Warning) is used as it is; anything else → `info`.

PagerDuty's 400 lists every problem (`errors`): kept in the Undeliverable, since the same event
would be refused again. Its 429 carries no Retry-After ("retry with backoff"), so RateLimited
comes with `retry_after` None. There is no endpoint to check an integration key without sending
an event, so health() checks nothing over the network.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from pydantic import SecretStr, field_validator

from cockpit.core.actions import Delivered, Outgoing, Undeliverable
from providers.api import Secret
from providers.webhook import HttpNotifier, NotifierOptions, check_url

SEVERITIES = ("critical", "error", "warning", "info")
PRIORITY_SEVERITY = {
    "P0": "critical",
    "P1": "critical",
    "P2": "error",
    "P3": "warning",
    "HIGH": "error",
    "MEDIUM": "warning",
    "LOW": "info",
}
ACTIONS = {
    "": "trigger",
    "trigger": "trigger",
    "triggered": "trigger",
    "acknowledge": "acknowledge",
    "acknowledged": "acknowledge",
    "resolve": "resolve",
    "resolved": "resolve",
}
SUMMARY_LIMIT = 1024  # PagerDuty truncates longer summaries
_KEY = re.compile(r"^[A-Za-z0-9]{32}$")


def pagerduty_severity(severity: str) -> str:
    """The event severity for an incident's priority (see the module docstring)."""
    word = severity.strip()
    if word.lower() in SEVERITIES:
        return word.lower()
    return PRIORITY_SEVERITY.get(word.upper(), "info")


class PagerDutyOptions(NotifierOptions):
    """`routing_key = { env = "PAGERDUTY_ROUTING_KEY" }`, the service's Events v2 key."""

    base_url: str = "https://events.pagerduty.com"
    routing_key: Secret
    source: str = "rollback-cockpit"

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        check_url(value)
        return value.rstrip("/")

    @field_validator("routing_key")
    @classmethod
    def _integration_key(cls, value: SecretStr) -> SecretStr:
        if not _KEY.match(value.get_secret_value()):
            raise ValueError(
                "must be an Events API v2 integration key: 32 letters and digits "
                "(not a REST API token)"
            )
        return value


class PagerDutyNotifier(HttpNotifier):
    """Trigger, acknowledge and resolve one PagerDuty alert per incident."""

    name = "pagerduty"
    title = "PagerDuty"
    Options = PagerDutyOptions

    def __init__(
        self, options: PagerDutyOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(options, transport=transport)
        self.opts = options

    def where(self) -> str:
        return f"PagerDuty ({self.opts.base_url})"

    def secrets(self) -> list[str]:
        return [self.opts.routing_key.get_secret_value()]

    def reason(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.text.strip()[:200]
        if not isinstance(body, dict):
            return str(body)[:200]
        errors = body.get("errors")
        said = str(body.get("message") or body.get("status") or "")
        if isinstance(errors, list) and errors:
            said = f"{said}: {'; '.join(str(error) for error in errors)}"
        return said[:500]

    def health(self) -> str:
        return f"{self.where()}: integration key set; not checked without sending an event"

    def event(self, message: Outgoing) -> dict[str, Any]:
        """The Events v2 body for a message (the routing key included)."""
        action = ACTIONS.get(message.stage.strip().lower())
        if action is None:
            raise Undeliverable(
                f"PagerDuty has no event for stage {message.stage!r}; "
                "use trigger, acknowledge or resolve"
            )
        event: dict[str, Any] = {
            "routing_key": self.opts.routing_key.get_secret_value(),
            "event_action": action,
        }
        if message.key:
            event["dedup_key"] = message.key
        elif action != "trigger":
            raise Undeliverable(f"PagerDuty cannot {action} without the incident's key")
        if action == "trigger":
            summary = message.subject.strip() or message.body.strip() or message.key
            event["payload"] = {
                "summary": summary[:SUMMARY_LIMIT],
                "source": self.opts.source,
                "severity": pagerduty_severity(message.severity),
                "custom_details": {"body": message.body, "priority": message.severity},
            }
            event["client"] = "Rollback Cockpit"
        return event

    def send(self, message: Outgoing) -> Delivered:
        event = self.event(message)
        action = event["event_action"]
        url = f"{self.opts.base_url}/v2/enqueue"
        response = self.call("POST", url, what=f"PagerDuty {action}", json=event)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        key = answer.get("dedup_key") if isinstance(answer, dict) else None
        key = str(key or message.key)
        return Delivered(f"PagerDuty {action} accepted ({key or 'no dedup key'})", key)
