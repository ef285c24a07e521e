"""The generic admin API the teams' rollback procedures call: feature flags and a cache clear.

There is no vendor behind it: the seeded runbooks call `PATCH /admin/feature-flags` with
`{"splitViewLayout": {"enabled": false}, ...}` and `DELETE /api/admin/cache`, both with
`Authorization: Bearer $ADMIN_TOKEN`. This simulator gives those calls a plain, strict contract:

- `GET /admin/feature-flags` → 200 `{name: {"enabled": bool}}`, every flag.
- `PATCH /admin/feature-flags` with a non-empty `{name: {"enabled": bool}}` → 200 with every
  flag's new state. A body of any other shape → 400 naming the first bad field (an unknown key
  next to "enabled" counts: a typo must not pass as a no-op). A flag name that does not exist →
  404 naming every unknown flag. Either error applies nothing: a half-applied kill switch is
  worse than none, so the PATCH is all or nothing.
- `DELETE /api/admin/cache` → 200 `{"cleared": <keys removed>, "at": <ISO 8601 UTC>}`; the
  cache is a set of fake keys (`cache`) and `cache_clears` counts the calls.
- A missing or wrong bearer token → 401. Every error body is `{"error": "<message>"}`; an
  injected rate limit answers 429 `{"error": "Too many requests"}` with `Retry-After`.

Hooks let the demo make its service recover: `on_flags_change` gets `{name: enabled}` for the
flags a successful PATCH set (whether or not they changed), `on_cache_clear` runs after each
clear. Both run while the simulator's lock is held, so they must not call it back over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from cockpit.simulators.base import JSON, Fault, Reply, Request, Simulator, SimulatorError

DEFAULT_CACHE_KEYS = ("flags:v1", "feed:home", "session:config", "assets:manifest")


class AdminApiSimulator(Simulator):
    """Feature flags and a cache behind bearer auth, as the runbooks' curl commands use them."""

    name = "admin-api"

    def __init__(
        self,
        flags: Mapping[str, bool] | None = None,
        *,
        cache_keys: Iterable[str] = DEFAULT_CACHE_KEYS,
        token: str = "sim-token",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._flags: dict[str, bool] = dict(flags or {})
        self.cache: set[str] = set(cache_keys)
        self.cache_clears = 0
        self.on_flags_change: Callable[[dict[str, bool]], None] | None = None
        self.on_cache_clear: Callable[[], None] | None = None
        super().__init__(token=token, clock=clock)

    @property
    def flags(self) -> dict[str, bool]:
        """A copy of the current flags, `{name: enabled}`."""
        with self.lock:
            return dict(self._flags)

    # -- the platform's shape ---------------------------------------------------------------

    def routes(self) -> None:
        self.route("GET", "/admin/feature-flags", self._get_flags)
        self.route("PATCH", "/admin/feature-flags", self._patch_flags)
        self.route("DELETE", "/api/admin/cache", self._clear_cache)

    def error_body(self, status: int, code: str, message: str, **extra: Any) -> JSON:
        return {"error": message}

    def rate_limit_reply(self, fault: Fault) -> Reply:
        return Reply(429, {"error": "Too many requests"}, {"Retry-After": f"{fault.retry_after:g}"})

    # -- handlers ---------------------------------------------------------------------------

    def _state(self) -> JSON:
        return {name: {"enabled": enabled} for name, enabled in self._flags.items()}

    def _get_flags(self, request: Request) -> Reply:
        return Reply(200, self._state())

    def _patch_flags(self, request: Request) -> Reply:
        wanted = _parse_patch(request.body)
        unknown = [name for name in wanted if name not in self._flags]
        if unknown:
            raise SimulatorError(404, "not_found", f"Unknown feature flag(s): {', '.join(unknown)}")
        self._flags.update(wanted)
        if self.on_flags_change is not None:
            self.on_flags_change(dict(wanted))
        return Reply(200, self._state())

    def _clear_cache(self, request: Request) -> Reply:
        cleared = len(self.cache)
        self.cache.clear()
        self.cache_clears += 1
        if self.on_cache_clear is not None:
            self.on_cache_clear()
        at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return Reply(200, {"cleared": cleared, "at": at})


def _parse_patch(body: JSON) -> dict[str, bool]:
    """`{name: {"enabled": bool}}` → `{name: bool}`, or a 400 naming the first bad field."""

    def bad(message: str) -> SimulatorError:
        return SimulatorError(400, "bad_request", message)

    if not isinstance(body, dict):
        raise bad('Body must be a JSON object of {"<flag>": {"enabled": <bool>}}')
    if not body:
        raise bad("Body names no feature flag")
    wanted: dict[str, bool] = {}
    for name, change in body.items():
        if not isinstance(change, dict):
            raise bad(f'{name}: must be an object like {{"enabled": false}}')
        extra = sorted(set(change) - {"enabled"})
        if extra:
            raise bad(f"{name}.{extra[0]}: unknown field (only 'enabled' can be set)")
        if not isinstance(change.get("enabled"), bool):
            raise bad(f"{name}.enabled: must be true or false")
        wanted[name] = change["enabled"]
    return wanted
