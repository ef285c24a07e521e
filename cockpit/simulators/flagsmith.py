"""The Flagsmith Admin API's feature states (provider_apis.md §8.3).

A feature exists once per project and has one feature state per environment; a kill switch is
a PATCH of that state's `enabled`. Endpoints, as Flagsmith's Django REST Framework views serve
them (`Authorization: Api-Key <organisation API key>`):

- `GET /api/v1/environments/{environment_api_key}/featurestates/?feature=<id>` (or
  `feature_name=<name>`) → DRF's page `{"count", "next", "previous", "results": [...]}`, ten
  states a page (`?page=2`). An environment key that does not exist → 403, as Flagsmith's
  permission class refuses it before the view runs.
- `PATCH /api/v1/environments/{environment_api_key}/featurestates/{id}/` and
  `PATCH /api/v1/features/featurestates/{id}/` with `{"enabled": false}` → 200, the state.
  The update is partial; only `enabled` is modelled, other fields are ignored (the value of a
  remote-config flag is seeded, not written).

Errors are DRF's: `{"detail": "..."}` for 401/403/404/429, a field map for a bad body
(`{"enabled": ["Must be a valid boolean."]}`), validated before anything is applied. `enabled`
parses as DRF's BooleanField does, so `"false"`, `"off"` and `0` are false. An injected rate
limit answers DRF's throttle message with `Retry-After` in whole seconds.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from cockpit.simulators.base import JSON, Fault, Reply, Request, Simulator, SimulatorError

PAGE_SIZE = 10  # Flagsmith's REST_FRAMEWORK["PAGE_SIZE"]


def _spellings(*words: str) -> set[Any]:
    return {v for w in words for v in (w, w.capitalize(), w.upper())}


# DRF's BooleanField.TRUE_VALUES and FALSE_VALUES.
_TRUE = _spellings("t", "y", "yes", "true", "on") | {"1", 1}
_FALSE = _spellings("f", "n", "no", "false", "off") | {"0", 0}

ToggleHook = Callable[[str, str, bool], None]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Environment:
    """An environment of the project, known to clients by its API key."""

    id: int
    api_key: str
    name: str


@dataclass
class FeatureState:
    """A feature's state in one environment."""

    id: int
    feature: int
    environment: Environment
    enabled: bool
    value: str | int | float | bool | None = None
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    updated_at: str = field(default_factory=_now)

    def as_json(self) -> JSON:
        return {
            "id": self.id,
            "uuid": self.uuid,
            "feature": self.feature,
            "environment": self.environment.id,
            "identity": None,
            "feature_segment": None,
            "enabled": self.enabled,
            "feature_state_value": self.value,
            "multivariate_feature_state_values": [],
            "updated_at": self.updated_at,
        }


class FlagsmithSimulator(Simulator):
    """Flagsmith's admin API for reading and flipping feature states."""

    name = "flagsmith"

    def __init__(self, *, token: str = "sim-token", clock: Callable[[], float] | None = None):
        self.environments: dict[str, Environment] = {}
        self.features: dict[int, str] = {}
        """Feature id → name."""
        self.states: dict[int, FeatureState] = {}
        self.on_toggle: ToggleHook | None = None
        """Called as (environment_api_key, feature_name, enabled) after a PATCH that sets it."""
        super().__init__(token=token, clock=clock)

    def add_environment(self, api_key: str, name: str) -> int:
        """Seed an environment (existing features get a disabled state in it); returns its id."""
        with self.lock:
            env = Environment(len(self.environments) + 1, api_key, name)
            self.environments[api_key] = env
            for feature in self.features:
                self._add_state(feature, env, False, None)
            return env.id

    def add_feature(
        self, name: str, *, enabled: bool | Mapping[str, bool] = False, value: Any = None
    ) -> int:
        """Seed a feature with a state in every environment; `enabled` may be per env key."""
        with self.lock:
            feature = len(self.features) + 1
            self.features[feature] = name
            for key, env in self.environments.items():
                on = enabled.get(key, False) if isinstance(enabled, Mapping) else enabled
                self._add_state(feature, env, on, value)
            return feature

    def state(self, env_key: str, name: str) -> FeatureState:
        """Feature `name`'s state in the environment with API key `env_key` (KeyError if none)."""
        with self.lock:
            for s in self.states.values():
                if (s.environment.api_key, self.features[s.feature]) == (env_key, name):
                    return s
        raise KeyError(f"{name} in {env_key}")

    def _add_state(self, feature: int, env: Environment, enabled: bool, value: Any) -> None:
        state_id = len(self.states) + 1
        self.states[state_id] = FeatureState(state_id, feature, env, enabled, value)

    # -- the platform's shape ---------------------------------------------------------------

    def routes(self) -> None:
        nested = "/api/v1/environments/{env}/featurestates"
        self.route("GET", nested, self._list_states)
        self.route("PATCH", nested + "/{id}", self._patch)
        self.route("PATCH", "/api/v1/features/featurestates/{id}", self._patch)

    def authorized(self, request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Api-Key {self.token}"

    def unauthorized(self, request: Request) -> Reply:
        if request.headers.get("authorization", "").startswith("Api-Key "):
            return Reply(401, {"detail": "Valid Master API Key not found."})
        return Reply(401, {"detail": "Authentication credentials were not provided."})

    def error_body(self, status: int, code: str, message: str, **extra: Any) -> JSON:
        return {"detail": message}

    def rate_limit_reply(self, fault: Fault) -> Reply:
        wait = math.ceil(fault.retry_after)
        unit = "second" if wait == 1 else "seconds"
        detail = f"Request was throttled. Expected available in {wait} {unit}."
        return Reply(429, {"detail": detail}, {"Retry-After": str(wait)})

    # -- handlers ---------------------------------------------------------------------------

    def _list_states(self, request: Request) -> Reply:
        env = self.environments.get(request.params["env"])
        if env is None:
            raise _detail(403, "You do not have permission to perform this action.")
        states = [s for s in self.states.values() if s.environment is env]
        feature = request.query.get("feature")
        if feature:
            if not feature.isdigit():
                return Reply(400, {"feature": ["A valid integer is required."]})
            states = [s for s in states if s.feature == int(feature)]
        name = request.query.get("feature_name")
        if name is not None:
            states = [s for s in states if self.features[s.feature] == name]
        return Reply(200, _page(request, [s.as_json() for s in states]))

    def _patch(self, request: Request) -> Reply:
        state = self.states.get(_int(request.params["id"]))
        if "env" in request.params:  # the nested route only sees its environment's states
            env = self.environments.get(request.params["env"])
            if env is None:
                raise _detail(404, "Environment not found.")
            state = state if state is not None and state.environment is env else None
        if state is None:
            raise _detail(404, "Not found.")
        return self._update(state, request.body)

    def _update(self, state: FeatureState, body: JSON) -> Reply:
        body = {} if body is None else body  # an empty PATCH is a no-op, as in DRF
        if not isinstance(body, dict):
            kind = type(body).__name__
            message = f"Invalid data. Expected a dictionary, but got {kind}."
            return Reply(400, {"non_field_errors": [message]})
        enabled = _boolean(body["enabled"]) if "enabled" in body else None
        if isinstance(enabled, str):
            return Reply(400, {"enabled": [enabled]})
        state.updated_at = _now()
        if enabled is not None:
            state.enabled = enabled
            if self.on_toggle is not None:
                self.on_toggle(state.environment.api_key, self.features[state.feature], enabled)
        return Reply(200, state.as_json())


def _boolean(raw: Any) -> bool | str:
    """DRF's BooleanField: the value, or the field's error message."""
    if raw is None:
        return "This field may not be null."
    with suppress(TypeError):  # a list or an object is unhashable, hence not a boolean
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
    return "Must be a valid boolean."


def _detail(status: int, message: str) -> SimulatorError:
    return SimulatorError(status, "detail", message)


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1


def _page(request: Request, results: list[JSON]) -> JSON:
    """DRF's PageNumberPagination: absolute next/previous links, 404 past the last page."""
    raw = request.query.get("page", "1")
    pages = max(1, math.ceil(len(results) / PAGE_SIZE))
    number = int(raw) if raw.isdigit() else 0
    if not 1 <= number <= pages:
        raise _detail(404, "Invalid page.")

    def link(page: int) -> str | None:
        if not 1 <= page <= pages:
            return None
        query = {k: v for k, v in request.query.items() if k != "page"}
        if page > 1:
            query["page"] = str(page)
        suffix = f"?{urlencode(query)}" if query else ""
        return f"http://{request.headers.get('host', '127.0.0.1')}{request.path}{suffix}"

    start = (number - 1) * PAGE_SIZE
    return {
        "count": len(results),
        "next": link(number + 1),
        "previous": link(number - 1),
        "results": results[start : start + PAGE_SIZE],
    }
