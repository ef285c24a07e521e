"""A simulator of PagerDuty's Events API v2: `POST /v2/enqueue`.

It follows ../shared/reference/provider_apis.md §6.2. There is no auth header: the body's
`routing_key` (a 32-character integration key) authenticates. A valid event answers 202
`{"status": "success", "message": "Event processed", "dedup_key": …}`; an invalid one 400
`{"status": "invalid event", "message": "Event object is invalid", "errors": [every problem]}`
and changes nothing. A well-formed key that is not one of `routing_keys` is refused with
`Invalid routing key`, as PagerDuty answers (recalled, not from the schema).

Alerts follow the dedup key: a trigger without one gets a generated key, returned in the 202; a
trigger for an open alert is deduplicated (counted on the alert, nothing new opens); a trigger
after a resolve opens the alert again. acknowledge and resolve need the key; for an unknown key
they still answer 202 (PagerDuty ingests asynchronously) and only the event log shows them.
`alerts` maps each key to its `Alert` (status triggered, acknowledged or resolved).

Faults: `fail("rate_limit")` answers 429 with PagerDuty's throttle body and no Retry-After (the
docs say "retry with backoff"); `fail("status", status=503)` a 5xx in the same envelope.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cockpit.simulators.base import JSON, Fault, Reply, Request, Simulator, SimulatorError

ROUTING_KEY = "R0SIMULATEDINTEGRATIONKEY0000001"
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
_STATUS = {"acknowledge": "acknowledged", "resolve": "resolved"}


@dataclass
class Alert:
    """One alert, the events that reached it and where it stands."""

    dedup_key: str
    summary: str
    severity: str
    source: str
    status: str = "triggered"
    opened: int = 1
    """How many times a trigger opened it (again after a resolve)."""
    actions: list[str] = field(default_factory=list)
    """Every event action that reached it, deduplicated triggers included."""


class PagerDutySimulator(Simulator):
    """The Events API v2 enqueue endpoint, with alerts kept by dedup key."""

    name = "pagerduty"

    def __init__(
        self, *, routing_key: str = ROUTING_KEY, clock: Callable[[], float] | None = None
    ) -> None:
        self.routing_keys = {routing_key}
        self.alerts: dict[str, Alert] = {}
        self.events: list[dict[str, Any]] = []
        """Every accepted event body, in order."""
        super().__init__(token=routing_key, clock=clock)

    @property
    def routing_key(self) -> str:
        """The integration key the simulator was made with."""
        return self.token

    # -- the platform's shape ---------------------------------------------------------------

    def routes(self) -> None:
        self.route("POST", "/v2/enqueue", self._enqueue)

    def authorized(self, request: Request) -> bool:
        return True  # the routing key in the body authenticates; `_enqueue` checks it

    def error_body(self, status: int, code: str, message: str, **extra: Any) -> JSON:
        if status == 400:
            word, message = "invalid event", "Event object is invalid"
        elif status == 429:
            word = "throttle event"
        else:
            word = code
        return {"status": word, "message": message, "errors": extra.get("errors", [message])}

    def rate_limit_reply(self, fault: Fault) -> Reply:
        message = "Requests for this service are arriving too quickly.  Please retry later."
        return Reply(429, self.error_body(429, "throttle event", message))

    # -- the handler ------------------------------------------------------------------------

    def _enqueue(self, request: Request) -> Reply:
        event = request.body
        if not isinstance(event, dict):
            raise SimulatorError(400, "invalid event", "invalid", errors=["Event is not an object"])
        errors = _problems(event)
        if not errors and event["routing_key"] not in self.routing_keys:
            errors = ["Invalid routing key"]
        if errors:
            raise SimulatorError(400, "invalid event", "invalid", errors=errors)
        action: str = event["event_action"]
        key: str = event.get("dedup_key") or uuid.uuid4().hex
        self.events.append({**event, "dedup_key": key})
        alert = self.alerts.get(key)
        if action == "trigger":
            payload = event["payload"]
            if alert is None:
                alert = self.alerts[key] = Alert(
                    key, payload["summary"], payload["severity"], payload["source"]
                )
            elif alert.status == "resolved":
                alert.status, alert.opened = "triggered", alert.opened + 1
                alert.summary, alert.severity = payload["summary"], payload["severity"]
        elif alert is not None and alert.status != "resolved":
            alert.status = _STATUS[action]
        if alert is not None:
            alert.actions.append(action)
        return Reply(202, {"status": "success", "message": "Event processed", "dedup_key": key})


def _problems(event: dict[str, Any]) -> list[str]:
    """Every reason the event is invalid, in PagerDuty's words where they are known."""
    errors: list[str] = []
    key = event.get("routing_key")
    if not isinstance(key, str) or not key:
        errors.append("'routing_key' is missing or blank")
    else:
        if len(key) != 32:
            errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
        if not key.isalnum():
            errors.append("'routing_key' cannot contain non-alphanumeric characters.")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append(
            "'event_action' is missing or blank"
            if not action
            else "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)"
        )
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is missing or blank")
    if action == "trigger":
        errors.extend(_payload_problems(event.get("payload")))
    return errors


def _payload_problems(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or blank"]
    errors = [
        f"'payload.{name}' is missing or blank"
        for name in ("summary", "source")
        if not isinstance(payload.get(name), str) or not payload[name].strip()
    ]
    if payload.get("severity") not in SEVERITIES:
        errors.append(
            "'payload.severity' is invalid (must be one of: critical, error, warning, info)"
        )
    return errors
