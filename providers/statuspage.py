"""Atlassian Statuspage: one public incident per cockpit incident, updated as it goes.

The first message for an incident key creates the Statuspage incident (name = subject, body =
the first update, status from the stage: investigating, identified, monitoring or resolved;
empty means investigating); later ones PATCH it, which adds an update. The incident is found by,
in order: `message.extra["incident_id"]` (the outbox passes back the `Delivered.reference` it
recorded, so this survives a restart), the id this notifier created for the key, and an
unresolved incident whose `metadata.cockpit.key` is the key. That last look is one GET before a
create, and it is what keeps a retried create (the POST timed out after Statuspage made the
incident) from opening a second one.

With `component_ids` set, each message also sets those components: `operational` when resolved,
else by priority: P0/P1/Critical → `major_outage`, P2/High → `partial_outage`, anything else →
`degraded_performance`. The API key goes in `Authorization: OAuth <key>` and never in an error.
Statuspage rate limits with 420 or 429; both are retried by the outbox.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
from pydantic import field_validator

from cockpit.core.actions import Delivered, Outgoing, Undeliverable
from cockpit.core.errors import ProviderError
from providers.api import Secret
from providers.webhook import HttpNotifier, NotifierOptions, check_url

STATUSES = ("investigating", "identified", "monitoring", "resolved")
PRIORITY_COMPONENT = {
    "P0": "major_outage",
    "P1": "major_outage",
    "CRITICAL": "major_outage",
    "P2": "partial_outage",
    "HIGH": "partial_outage",
}


def component_status(stage: str, severity: str) -> str:
    """What the configured components show at this stage (see the module docstring)."""
    if stage == "resolved":
        return "operational"
    return PRIORITY_COMPONENT.get(severity.strip().upper(), "degraded_performance")


class StatuspageOptions(NotifierOptions):
    """`api_key = { env = "STATUSPAGE_API_KEY" }`, the page and the components it concerns."""

    base_url: str = "https://api.statuspage.io/v1"
    api_key: Secret
    page_id: str
    component_ids: tuple[str, ...] = ()

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        check_url(value)
        return value.rstrip("/")


class StatuspageNotifier(HttpNotifier):
    """Open, update and resolve the public incident on one Statuspage page."""

    name = "statuspage"
    title = "Statuspage"
    Options = StatuspageOptions
    rate_limit_statuses: ClassVar[tuple[int, ...]] = (420, 429)

    def __init__(
        self, options: StatuspageOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(options, transport=transport)
        self.opts = options
        self.http.headers["Authorization"] = f"OAuth {options.api_key.get_secret_value()}"
        self.incident_ids: dict[str, str] = {}
        """Incident key → the Statuspage incident this notifier created or found for it."""

    @property
    def incidents_url(self) -> str:
        return f"{self.opts.base_url}/pages/{self.opts.page_id}/incidents"

    def where(self) -> str:
        return f"Statuspage ({self.opts.base_url}, page {self.opts.page_id})"

    def secrets(self) -> list[str]:
        return [self.opts.api_key.get_secret_value()]

    def reason(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.text.strip()[:200]
        said = body.get("error") or body.get("message") if isinstance(body, dict) else body
        if isinstance(said, list):
            return "; ".join(str(part) for part in said)[:500]
        return str(said or "")[:500]

    def unresolved(self) -> list[dict[str, Any]]:
        """The page's unresolved incidents, newest first."""
        response = self.call("GET", f"{self.incidents_url}/unresolved", what="read incidents")
        body = _json(response)
        if not isinstance(body, list):
            raise ProviderError(f"read incidents: {self.where()} did not answer a list")
        return [incident for incident in body if isinstance(incident, dict)]

    def health(self) -> str:
        count = len(self.unresolved())
        return f"{self.where()} answers: {count} unresolved incident{'s' * (count != 1)}"

    def send(self, message: Outgoing) -> Delivered:
        stage = message.stage.strip().lower()
        if stage and stage not in STATUSES:
            raise Undeliverable(
                f"Statuspage has no status {message.stage!r}; use {', '.join(STATUSES)}"
            )
        incident_id = self.find(message)
        fields: dict[str, Any] = {"body": message.body}
        if message.subject.strip():
            fields["name"] = message.subject.strip()
        if stage or incident_id is None:
            fields["status"] = stage or "investigating"
        if self.opts.component_ids and "status" in fields:
            status = component_status(fields["status"], message.severity)
            fields["component_ids"] = list(self.opts.component_ids)
            fields["components"] = dict.fromkeys(self.opts.component_ids, status)
        if incident_id is None:
            fields.setdefault("name", message.key)
            fields["metadata"] = {"cockpit": {"key": message.key}}
            response = self.call(
                "POST", self.incidents_url, what="create the incident", json={"incident": fields}
            )
        else:
            url = f"{self.incidents_url}/{incident_id}"
            response = self.call(
                "PATCH", url, what=f"update incident {incident_id}", json={"incident": fields}
            )
        incident = _json(response)
        if not isinstance(incident, dict) or not incident.get("id"):
            if incident_id is None:  # the retry finds it by its metadata, if it was made
                raise ProviderError(f"create the incident: {self.where()} answered no id")
            incident = {"id": incident_id}
        self.incident_ids[message.key] = new_id = str(incident["id"])
        status = incident.get("status") or fields.get("status", "")
        verb = "created" if incident_id is None else "updated"
        return Delivered(f"Statuspage incident {new_id} {verb} ({status})", new_id)

    def find(self, message: Outgoing) -> str | None:
        """The Statuspage incident for the message's key, if there is one (see the docstring)."""
        known = message.extra.get("incident_id") or self.incident_ids.get(message.key)
        if known:
            return str(known)
        for incident in self.unresolved():
            metadata = incident.get("metadata")
            cockpit = metadata.get("cockpit") if isinstance(metadata, dict) else None
            if isinstance(cockpit, dict) and cockpit.get("key") == message.key:
                return str(incident.get("id"))
        return None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
