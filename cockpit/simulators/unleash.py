"""The Unleash Admin API's per-environment toggles (provider_apis.md §8.2).

Endpoints, as Unleash serves them under `/api/admin/projects/{projectId}/features/{featureName}`:

- `POST …/environments/{environment}/off` and `…/on` → 200 with an empty body. Enabling an
  environment that has no strategies → 409 "You can not enable the environment before it has
  strategies" (the documented v4 behaviour; newer servers add a default strategy instead).
- `GET …` → the feature with `environments[]`, each `{name, enabled, type, sortOrder,
  strategies}`; `GET …/environments/{environment}` → `{name, environment, enabled, strategies}`.
- Auth is the raw token in `Authorization` (the docs' examples); `Bearer <token>` is accepted
  too, as newer servers do. A missing or wrong token → 401 AuthenticationRequired.

Errors carry Unleash's envelope, `{"id", "name", "message", "details": [{"message",
"description"}]}`, with the status Unleash gives the name (`STATUS`). Lookups follow Unleash's
order and messages: a feature that is not in the project (or does not exist) is a NotFoundError
naming both, then an environment the feature lacks. An injected rate limit answers 429 with
express-rate-limit's plain-text body and `Retry-After`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cockpit.simulators.base import JSON, Fault, Reply, Request, Simulator, SimulatorError

# unleash-error.ts: the HTTP status of each error name.
STATUS = {
    "ValidationError": 400,
    "BadDataError": 400,
    "AuthenticationRequired": 401,
    "InvalidTokenError": 401,
    "UnauthorizedError": 401,
    "NoAccessError": 403,
    "OperationDeniedError": 403,
    "NotFoundError": 404,
    "NotImplementedError": 405,
    "NameExistsError": 409,
    "InvalidOperationError": 409,  # 409 in the v4 handler that raised it for strategyless envs
    "ContentTypeError": 415,
    "DisabledError": 422,
    "InternalError": 500,
}
# The name for errors the base raises by status (no route, bad JSON, injected failures).
_NAME_FOR_STATUS = {
    400: "BadDataError",
    401: "AuthenticationRequired",
    403: "NoAccessError",
    404: "NotFoundError",
    405: "NotImplementedError",
}

ToggleHook = Callable[[str, str, str, bool], None]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Environment:
    """One environment of one feature."""

    name: str
    enabled: bool
    type: str
    sort_order: int
    strategies: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> JSON:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "type": self.type,
            "sortOrder": self.sort_order,
            "strategies": [dict(s) for s in self.strategies],
        }


@dataclass
class Feature:
    """A feature toggle in a project, with its environments."""

    project: str
    name: str
    type: str = "release"
    created_at: str = field(default_factory=_now)
    environments: dict[str, Environment] = field(default_factory=dict)

    def as_json(self) -> JSON:
        return {
            "name": self.name,
            "project": self.project,
            "type": self.type,
            "description": None,
            "archived": False,
            "stale": False,
            "impressionData": False,
            "createdAt": self.created_at,
            "lastSeenAt": None,
            "variants": [],
            "environments": [env.as_json() for env in self.environments.values()],
        }


class UnleashSimulator(Simulator):
    """Unleash's admin API for turning a feature on or off per environment."""

    name = "unleash"

    def __init__(self, *, token: str = "sim-token", clock: Callable[[], float] | None = None):
        self.features: dict[str, Feature] = {}
        """By feature name: Unleash feature names are unique across projects."""
        self.on_toggle: ToggleHook | None = None
        """Called as (project, feature, environment, enabled) after each successful on/off."""
        super().__init__(token=token, clock=clock)

    def add_feature(
        self,
        project: str,
        name: str,
        environments: Mapping[str, bool] | None = None,
        *,
        without_strategies: Collection[str] = (),
        type: str = "release",
    ) -> Feature:
        """Seed a feature; each environment gets a default strategy unless listed."""
        feature = Feature(project, name, type)
        for order, (env, enabled) in enumerate((environments or {"production": True}).items()):
            strategies = [] if env in without_strategies else [_default_strategy()]
            env_type = "production" if env == "production" else "development"
            feature.environments[env] = Environment(env, enabled, env_type, order + 1, strategies)
        with self.lock:
            self.features[name] = feature
        return feature

    def enabled(self, project: str, feature: str, environment: str) -> bool:
        """Whether the feature is on in that environment (KeyError if it is not there)."""
        with self.lock:
            found = self.features[feature]
            if found.project != project:
                raise KeyError(f"{feature} is not in project {project}")
            return found.environments[environment].enabled

    # -- the platform's shape ---------------------------------------------------------------

    def routes(self) -> None:
        base = "/api/admin/projects/{project}/features/{feature}"
        self.route("GET", base, self._get_feature)
        self.route("GET", base + "/environments/{environment}", self._get_environment)
        self.route("POST", base + "/environments/{environment}/on", self._switch(True))
        self.route("POST", base + "/environments/{environment}/off", self._switch(False))

    def authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return header in (self.token, f"Bearer {self.token}")

    def unauthorized(self, request: Request) -> Reply:
        message = "You must log in to use Unleash. Your request had no valid authorization header."
        extra = {"path": "/auth/simple/login", "type": "password"}
        return Reply(401, self.error_body(401, "AuthenticationRequired", message, **extra))

    def error_body(self, status: int, code: str, message: str, **extra: Any) -> JSON:
        name = code if code in STATUS else _NAME_FOR_STATUS.get(status, "InternalError")
        return {
            "id": str(uuid.uuid4()),
            "name": name,
            "message": message,
            "details": [{"message": message, "description": message}],
            **extra,
        }

    def rate_limit_reply(self, fault: Fault) -> Reply:
        # express-rate-limit's default answer: a sentence, not Unleash's JSON envelope.
        return Reply(
            429,
            raw=b"Too many requests, please try again later.",
            headers={"Retry-After": f"{fault.retry_after:g}"},
        )

    # -- handlers ---------------------------------------------------------------------------

    def _feature(self, request: Request) -> Feature:
        project, name = request.params["project"], request.params["feature"]
        feature = self.features.get(name)
        if feature is None or feature.project != project:
            suffix = "."
            if feature is not None:
                suffix = f', but there\'s a feature with that name in project "{feature.project}"'
            raise _not_found(f'There\'s no feature named "{name}" in project "{project}"{suffix}')
        return feature

    def _environment(self, request: Request) -> tuple[Feature, Environment]:
        feature = self._feature(request)
        env = feature.environments.get(request.params["environment"])
        if env is None:
            raise _not_found(
                f"Could not find environment {request.params['environment']} "
                f"for feature: {feature.name}"
            )
        return feature, env

    def _get_feature(self, request: Request) -> Reply:
        return Reply(200, self._feature(request).as_json())

    def _get_environment(self, request: Request) -> Reply:
        feature, env = self._environment(request)
        return Reply(
            200,
            {
                "name": feature.name,
                "environment": env.name,
                "enabled": env.enabled,
                "strategies": [dict(s) for s in env.strategies],
            },
        )

    def _switch(self, enabled: bool) -> Callable[[Request], Reply]:
        def handler(request: Request) -> Reply:
            feature, env = self._environment(request)
            if enabled and not env.strategies:
                raise SimulatorError(
                    409,
                    "InvalidOperationError",
                    "You can not enable the environment before it has strategies",
                )
            env.enabled = enabled
            if self.on_toggle is not None:
                self.on_toggle(feature.project, feature.name, env.name, enabled)
            return Reply(200)

        return handler


def _not_found(message: str) -> SimulatorError:
    return SimulatorError(404, "NotFoundError", message)


def _default_strategy() -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "name": "default", "constraints": [], "parameters": {}}
