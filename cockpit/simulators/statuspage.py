"""A simulator of Atlassian Statuspage's incidents API on one page, under `/v1`.

It follows ../shared/reference/provider_apis.md §6.3. Requests carry `Authorization: OAuth
<api_key>`. Incidents are created with `POST /v1/pages/{page}/incidents {"incident": {…}}`,
changed with PATCH (or PUT) on `/incidents/{id}`, listed newest first with `GET /incidents`
(`q`, `limit` ≤ 100, `page`) and `GET /incidents/unresolved`, read and deleted by id. Every
create and every PATCH that changes the status or carries a `body` adds an entry to the
incident's `incident_updates` (newest first, as Statuspage lists them). A `components` map
(`{component_id: status}`) sets the page's components and is recorded on the update.

Errors are `{"error": "<message>"}`, or `{"message": …}` with `error_key = "message"` (the
OpenAPI ErrorEntity; clients must read both): 401 for a missing or wrong key, 404 for another
page or an unknown incident, 400 without the `incident` wrapper, 422 for an invalid field.
`fail("rate_limit")` answers `rate_limit_status` (420 by default, or 429) with Retry-After.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from cockpit.simulators.base import JSON, Fault, Reply, Request, Simulator, SimulatorError

STATUSES = ("investigating", "identified", "monitoring", "resolved")
IMPACTS = ("none", "minor", "major", "critical")
COMPONENT_STATUSES = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)
DEFAULT_COMPONENTS = {"cmp0api000001": "API", "cmp0web000001": "Website"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _invalid(message: str) -> SimulatorError:
    return SimulatorError(422, "unprocessable", message)


class StatuspageSimulator(Simulator):
    """One Statuspage page: its components and incidents."""

    name = "statuspage"

    def __init__(
        self,
        *,
        page_id: str = "sim0page0id0",
        components: Mapping[str, str] = DEFAULT_COMPONENTS,
        api_key: str = "sim-statuspage-key",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.page_id = page_id
        self.components: dict[str, dict[str, Any]] = {
            cid: {"id": cid, "page_id": page_id, "name": name, "status": "operational"}
            for cid, name in components.items()
        }
        self.incidents: dict[str, dict[str, Any]] = {}
        """Incident id → the incident as the API returns it, in creation order."""
        self.error_key = "error"
        self.rate_limit_status = 420
        super().__init__(token=api_key, clock=clock)

    # -- the platform's shape ---------------------------------------------------------------

    def routes(self) -> None:
        page = "/v1/pages/{page_id}"
        one = f"{page}/incidents/{{incident_id}}"
        self.route("GET", f"{page}/components", self._components)
        self.route("GET", f"{page}/incidents/unresolved", self._unresolved)
        self.route("GET", f"{page}/incidents", self._list)
        self.route("POST", f"{page}/incidents", self._create)
        self.route("GET", one, lambda request: Reply(200, self._incident(request)))
        self.route("PATCH", one, self._update)
        self.route("PUT", one, self._update)
        self.route("DELETE", one, self._delete)

    def error_body(self, status: int, code: str, message: str, **extra: Any) -> JSON:
        return {self.error_key: message}

    def authorized(self, request: Request) -> bool:
        return request.headers.get("authorization", "") == f"OAuth {self.token}"

    def unauthorized(self, request: Request) -> Reply:
        return Reply(401, self.error_body(401, "unauthorized", "Could not authenticate"))

    def rate_limit_reply(self, fault: Fault) -> Reply:
        status = self.rate_limit_status
        body = self.error_body(status, "rate_limited", "Rate limit exceeded")
        return Reply(status, body, {"Retry-After": f"{fault.retry_after:g}"})

    # -- handlers ---------------------------------------------------------------------------

    def _page(self, request: Request) -> None:
        if request.params["page_id"] != self.page_id:
            raise SimulatorError(404, "not_found", "Page not found")

    def _incident(self, request: Request) -> dict[str, Any]:
        self._page(request)
        found = self.incidents.get(request.params["incident_id"])
        if found is None:
            raise SimulatorError(404, "not_found", "Record not found")
        return found

    def _components(self, request: Request) -> Reply:
        self._page(request)
        return Reply(200, list(self.components.values()))

    def _unresolved(self, request: Request) -> Reply:
        self._page(request)
        found = [i for i in self.incidents.values() if i["status"] != "resolved"]
        return Reply(200, found[::-1])

    def _list(self, request: Request) -> Reply:
        self._page(request)
        query = request.query.get("q", "").lower()
        found = [i for i in self.incidents.values() if query in i["name"].lower()][::-1]
        try:
            limit = min(100, max(1, int(request.query.get("limit", "100"))))
            page = max(1, int(request.query.get("page", "1")))
        except ValueError:
            raise SimulatorError(400, "bad_request", "limit and page must be numbers") from None
        return Reply(200, found[(page - 1) * limit : page * limit])

    def _create(self, request: Request) -> Reply:
        self._page(request)
        fields = _wrapped(request.body)
        name = fields.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _invalid("Name can't be blank")
        now = _now()
        incident: dict[str, Any] = {
            "id": secrets.token_hex(6),
            "page_id": self.page_id,
            "name": "",
            "status": "investigating",
            "impact": "none",
            "created_at": now,
            "updated_at": now,
            "resolved_at": None,
            "shortlink": f"https://stspg.io/{secrets.token_hex(3)}",
            "components": [],
            "incident_updates": [],
            "metadata": {},
        }
        self._apply(incident, fields, creating=True)
        self.incidents[incident["id"]] = incident
        return Reply(201, incident)

    def _update(self, request: Request) -> Reply:
        incident = self._incident(request)
        self._apply(incident, _wrapped(request.body), creating=False)
        return Reply(200, incident)

    def _delete(self, request: Request) -> Reply:
        incident = self._incident(request)
        del self.incidents[incident["id"]]
        return Reply(200, incident)

    def _apply(self, incident: dict[str, Any], fields: dict[str, Any], *, creating: bool) -> None:
        """Check every field, then change the incident (all or nothing)."""
        status = fields.get("status", incident["status"])
        if status not in STATUSES:
            raise _invalid(f"Status is not included in the list: {status!r}")
        name = fields.get("name", incident["name"])
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise _invalid("Name can't be blank or longer than 255 characters")
        body = fields.get("body")
        if body is not None and (not isinstance(body, str) or len(body) > 25000):
            raise _invalid("Body must be text of at most 25000 characters")
        impact = fields.get("impact_override", incident["impact"])
        if impact not in IMPACTS:
            raise _invalid(f"Impact override is not included in the list: {impact!r}")
        changes = self._component_changes(fields)
        metadata = fields.get("metadata", incident["metadata"])
        if not isinstance(metadata, dict):
            raise _invalid("Metadata must be an object")
        now = _now()
        old_status = incident["status"]
        incident.update(name=name, status=status, impact=impact, metadata=metadata)
        incident["updated_at"] = now
        if status == "resolved" and old_status != "resolved":
            incident["resolved_at"] = now
        affected = []
        for cid, new in changes.items():
            component = self.components[cid]
            old = component["status"]
            affected.append(
                {"code": cid, "name": component["name"], "old_status": old, "new_status": new}
            )
            component["status"] = new
        ids = [c["id"] for c in incident["components"]]
        for cid in [*fields.get("component_ids", []), *changes]:
            if cid not in ids:
                ids.append(cid)
        incident["components"] = [dict(self.components[cid]) for cid in ids]
        if creating or status != old_status or body is not None:
            update = {
                "id": secrets.token_hex(6),
                "incident_id": incident["id"],
                "status": status,
                "body": body or "",
                "created_at": now,
                "display_at": now,
                "affected_components": affected,
                "deliver_notifications": fields.get("deliver_notifications", True),
            }
            incident["incident_updates"].insert(0, update)

    def _component_changes(self, fields: dict[str, Any]) -> dict[str, str]:
        ids = fields.get("component_ids", [])
        changes = fields.get("components", {})
        if not isinstance(ids, list) or not isinstance(changes, dict):
            raise _invalid("component_ids must be a list and components an object")
        for cid in [*ids, *changes]:
            if cid not in self.components:
                raise _invalid(f"Component {cid} was not found on this page")
        for cid, status in changes.items():
            if status not in COMPONENT_STATUSES:
                raise _invalid(f"Component {cid}: status is not included in the list: {status!r}")
        return {str(cid): str(status) for cid, status in changes.items()}


def _wrapped(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("incident"), dict):
        raise SimulatorError(400, "bad_request", "param is missing or the value is empty: incident")
    fields: dict[str, Any] = body["incident"]
    return fields
