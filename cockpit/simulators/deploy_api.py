"""A team's own deploy API, the kind `http_action` calls: roll back, roll forward, health.

No vendor is behind it; it is the smallest API a team writes around its deploy script:

- `GET /` → 200 `{"service": "deploy-api"}` (what a probe sees).
- `GET /api/deploy/status` → 200 `{"version": "v1.2.4", "previous": "v1.2.3"}`.
- `POST /api/deploy/rollback` with `{"to": "previous"}` (or a version) → 202
  `{"status": "rolled back", "version": …}`; a body of another shape → 400, nothing at all to
  roll back to → 409.
- `POST /api/deploy/rollforward` → 202 `{"status": "rolled forward", "version": …}` (the undo).
- `GET /health` → 200, plain text `ok <version>`.

A missing or wrong bearer token → 401 `{"error": "…"}`. `on_change(version)` lets the demo make
its service follow; it runs holding the simulator's lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cockpit.simulators.base import JSON, Reply, Request, Simulator, SimulatorError


class DeployApiSimulator(Simulator):
    """Versions deployed in order; the current one rolls back and forward."""

    name = "deploy-api"

    def __init__(
        self,
        versions: tuple[str, ...] = ("v1.2.2", "v1.2.3", "v1.2.4"),
        *,
        token: str = "sim-token",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.versions = list(versions)
        self.current = len(self.versions) - 1
        self.rollbacks = 0
        self.on_change: Callable[[str], None] | None = None
        super().__init__(token=token, clock=clock)

    @property
    def version(self) -> str:
        """The version serving now."""
        with self.lock:
            return self.versions[self.current]

    def routes(self) -> None:
        self.route("GET", "/", self._root)
        self.route("GET", "/api/deploy/status", self._status)
        self.route("POST", "/api/deploy/rollback", self._rollback)
        self.route("POST", "/api/deploy/rollforward", self._rollforward)
        self.route("GET", "/health", self._health)

    def authorized(self, request: Request) -> bool:
        return request.path == "/health" or super().authorized(request)

    def error_body(self, status: int, code: str, message: str, **extra: Any) -> JSON:
        return {"error": message}

    def _root(self, request: Request) -> Reply:
        return Reply(200, {"service": "deploy-api"})

    def _status(self, request: Request) -> Reply:
        previous = self.versions[self.current - 1] if self.current else None
        return Reply(200, {"version": self.versions[self.current], "previous": previous})

    def _rollback(self, request: Request) -> Reply:
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("to"), str):
            raise SimulatorError(400, "bad_request", 'Body must be {"to": "previous" | version}')
        if body["to"] == "previous":
            if self.current == 0:
                raise SimulatorError(409, "conflict", "Nothing to roll back to")
            target = self.current - 1
        elif body["to"] in self.versions[: self.current]:
            target = self.versions.index(body["to"])
        else:
            raise SimulatorError(409, "conflict", f"{body['to']} is not an earlier version")
        self.current = target
        self.rollbacks += 1
        return self._changed("rolled back")

    def _rollforward(self, request: Request) -> Reply:
        if self.current == len(self.versions) - 1:
            raise SimulatorError(409, "conflict", "Already on the newest version")
        self.current += 1
        return self._changed("rolled forward")

    def _changed(self, status: str) -> Reply:
        version = self.versions[self.current]
        if self.on_change is not None:
            self.on_change(version)
        return Reply(202, {"status": status, "version": version})

    def _health(self, request: Request) -> Reply:
        return Reply(200, f"ok {self.versions[self.current]}\n", content_type="text/plain")
