"""Clearing an application's cache through its admin API: `DELETE /api/admin/cache`.

The seeded emergency rollback script clears the API cache after a Worker rollback with

    curl -X DELETE https://pitchey-production.cavelltheleaddev.workers.dev/api/admin/cache \\
      -H "Authorization: Bearer $ADMIN_TOKEN"

Where it talks: the configured `base_url` + `path` (and `method`) decide. A procedure's params
`url` and `method` (checklists/pitchey.yaml names the production URL) describe the runbook;
when they differ from the configuration the plan warns, but the request still goes to the
configured endpoint, so a procedure file can never point the cockpit at a host its own
configuration did not name.

A cache has nothing to read, so preflight checks reachability only: a GET on the endpoint,
where 405 (a DELETE-only endpoint) counts as reachable and 401/403/404 are errors; whether the
clear is accepted is known only when it runs, and the plan says so. Verify is the clear's own
answer: 2xx, and `{"cleared": n}` when the API reports how many keys it removed. The clear is
sent once (a 429 is retried: the request was not served). There is no undo; a cache refills.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import BeforeValidator

from cockpit.core.actions import Call, Executed, Plan, Report, Verified
from providers.api import ApiError, ApiOptions, HttpActionProvider
from providers.base import Capability, Param, Params


def _message(body: Any) -> str | None:
    """`{"error": "…"}`, `{"error": {"message": "…"}}` or `{"message": "…"}` → the message."""
    if not isinstance(body, dict):
        return None
    error = body.get("error", body.get("message"))
    if isinstance(error, dict):
        error = error.get("message")
    return None if error is None else str(error)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class CacheOptions(ApiOptions):
    """Where the cache endpoint is, the bearer token, and the method that clears it."""

    path: str = "/api/admin/cache"
    method: Annotated[Literal["DELETE", "POST"], BeforeValidator(_upper)] = "DELETE"


class CacheProvider(HttpActionProvider):
    """Clear the application's cache through its admin API (talks to the configured base_url)."""

    name = "cache"
    title = "Cache clear (admin API)"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = CacheOptions

    def error_message(self, body: Any) -> str | None:
        return _message(body)

    actions: ClassVar[dict[str, str]] = {"clear": "remove every key from the application's cache"}
    action_params: ClassVar[dict[str, Params]] = {
        "clear": {
            "url": Param(
                "the runbook's cache URL; the configured endpoint is used, a warning if not"
            ),
            "method": Param("the runbook's HTTP method; the configured one is used, likewise"),
        }
    }

    def __init__(
        self, options: CacheOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(options, transport=transport)
        self.opts = options

    @property
    def url(self) -> str:
        """The endpoint the clear is sent to."""
        return self.api.url(self.opts.path)

    def probe(self) -> str:
        """GET the endpoint: 2xx or 405 means it answers and the token was not refused."""
        try:
            self.api.request("GET", self.opts.path, what=f"reach {self.url}", ok=(200, 204))
        except ApiError as error:
            if error.status != 405:
                raise
            return f"{self.url} answers (GET → 405: it takes {self.opts.method} only)"
        return f"{self.url} answers (GET → 2xx)"

    def health(self) -> str:
        return self.probe()

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        reached = self.probe()
        method, url = self.opts.method, self.url
        warnings = [f"{reached}; the {method} itself is only checked when it runs"]
        asked_url, asked_method = params.get("url"), params.get("method")
        if asked_url and str(asked_url) != url:
            warnings.append(
                f"the procedure names {asked_url}; the configured endpoint {url} is used"
            )
        if asked_method and str(asked_method).upper() != method:
            warnings.append(f"the procedure says {asked_method}; the configured {method} is used")
        return Plan(
            provider=self.name,
            action=action,
            target=url,
            title=f"Clear the cache at {url}",
            calls=[Call(method, url)],
            changes=[
                f"every key in the cache behind {url} is removed (hit rate drops, then refills)"
            ],
            cli=f'curl -fsS -X {method} {shlex.quote(url)} -H "Authorization: Bearer $ADMIN_TOKEN"',
            destructive=False,  # nothing is lost: a cache refills
            timeout_seconds=30.0,
            verify="the clear answers 2xx and says how many keys it removed",
            undo=None,
            data={"method": method, "path": self.opts.path},
            warnings=warnings,
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        method, path = plan.data["method"], plan.data["path"]
        report.log(f"{method} {self.api.url(path)}")
        body = self.api.request(method, path, what="clear the cache", report=report)
        cleared = body.get("cleared") if isinstance(body, dict) else None
        if isinstance(cleared, bool) or not isinstance(cleared, int):
            cleared = None
        if cleared is None:
            return Executed("cache clear accepted", {"cleared": None})
        return Executed(f"cache cleared: {_keys(cleared)}", {"cleared": cleared})

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        cleared = executed.data.get("cleared")
        if cleared is None:
            return Verified(
                True, "the API accepted the clear (2xx) but did not say what it cleared"
            )
        return Verified(True, f"{_keys(cleared)} cleared")


def _keys(count: int) -> str:
    return f"{count} key{'' if count == 1 else 's'}"
