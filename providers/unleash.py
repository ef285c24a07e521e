"""Feature toggles in Unleash: one environment of a project, switched on or off per feature.

The same three actions as `providers.feature_flags` (disable_flags / enable_flags / set_flags,
with `flags: [name, ...]` or `states: {name: bool}`), so a procedure can swap providers. Each
feature is switched with the Admin API (provider_apis.md §8.2):

    curl -X POST https://unleash.example.com/api/admin/projects/default/features/split-view/environments/production/off \\
      -H "Authorization: $UNLEASH_TOKEN"

Preflight reads every feature's state in the environment, so an unknown feature (or one in
another project) is refused before anything changes, and the previous states become the
plan's `undo`. Enabling an environment that has no strategies is refused by Unleash v4 with a
409; the plan warns about it and execute says what to do. Verify reads every state back.
"""  # noqa: E501 - the curl line is quoted whole

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from cockpit.core.actions import Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers.api import ApiError, ApiOptions, HttpActionProvider
from providers.base import Capability, Params
from providers.feature_flags import (
    FeatureFlagsProvider,
    describe_states,
    flag_plan,
    wanted_states,
)

_PROBE = "cockpit-health-probe"
"""A feature name health asks for: a 404 naming it proves the token passed authentication."""


def _message(body: Any) -> str | None:
    """Unleash's envelope: {"id", "name", "message", "details": [...]} → 'Name: message'."""
    if isinstance(body, dict) and "message" in body:
        name = body.get("name")
        return f"{name}: {body['message']}" if name else str(body["message"])
    return None


def _onoff(on: bool) -> str:
    return "on" if on else "off"


class UnleashOptions(ApiOptions):
    """Where Unleash is, the admin token (sent raw as `Authorization`), project and environment."""

    project: str = "default"
    environment: str = "production"


class UnleashProvider(HttpActionProvider):
    """Switch Unleash features off (or back on) in one environment of one project."""

    name = "unleash"
    title = "Unleash feature toggles"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK | Capability.FLAGS
    Options = UnleashOptions

    def error_message(self, body: Any) -> str | None:
        return _message(body)

    def auth_header(self, token: str) -> tuple[str, str]:
        return ("Authorization", token)  # Unleash takes the raw token

    actions: ClassVar[dict[str, str]] = dict(FeatureFlagsProvider.actions)
    action_params: ClassVar[dict[str, Params]] = dict(FeatureFlagsProvider.action_params)

    def __init__(
        self, options: UnleashOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(options, transport=transport)
        self.opts = options

    def _path(self, feature: str, suffix: str = "") -> str:
        project, env = quote(self.opts.project, safe=""), quote(self.opts.environment, safe="")
        return (
            f"/api/admin/projects/{project}/features/{quote(feature, safe='')}"
            f"/environments/{env}{suffix}"
        )

    def _where(self) -> str:
        return f"project {self.opts.project!r}, environment {self.opts.environment!r}"

    def read(self, feature: str, report: Report | None = None) -> dict[str, Any]:
        """The feature's state in the environment: {"enabled": bool, "strategies": [...]}."""
        body = self.api.request(
            "GET", self._path(feature), what=f"read {feature} in {self._where()}", report=report
        )
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            raise ProviderError(f"read {feature}: the answer has no boolean 'enabled'")
        return body

    def health(self) -> str:
        # Unleash authenticates before it looks anything up: 401/403 raise, its 404 is fine.
        body = self.api.request("GET", self._path(_PROBE), what="reach Unleash", ok=(200, 404))
        if _PROBE not in str(_message(body)):
            raise ProviderError(
                f"{self.api.url('')} answers, but not as Unleash does: {body!r:.80}"
            )
        return f"Unleash answers and accepts the token ({self._where()})"

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        wanted = wanted_states(action, params)
        current: dict[str, bool] = {}
        bare: list[str] = []
        unknown: list[str] = []
        for feature in wanted:
            try:
                state = self.read(feature)
            except ApiError as error:
                if error.status != 404:
                    raise
                unknown.append(f"{feature} ({error.message})")
                continue
            current[feature] = state["enabled"]
            if not state.get("strategies"):
                bare.append(feature)
        if unknown:
            raise ProviderError(
                f"Unleash {self._where()} has no such feature: {'; '.join(unknown)}"
            )
        calls = [
            Call("POST", self.api.url(self._path(f, f"/{_onoff(on)}"))) for f, on in wanted.items()
        ]
        cli = " && ".join(
            f'curl -fsS -X POST {shlex.quote(call.url)} -H "Authorization: $UNLEASH_TOKEN"'
            for call in calls
        )
        turning_on = [f for f in bare if wanted[f] and not current[f]]
        env = self.opts.environment
        return flag_plan(
            self.name,
            action,
            wanted,
            current,
            label=lambda feature: f"{feature} in {env}:",
            calls=calls,
            cli=cli,
            verify=f"read each feature's {env} state back and compare",
            data={"states": wanted, "project": self.opts.project, "environment": env},
            where=f" in Unleash {env}",
            warnings=[
                f"{f} has no strategies in {env}: Unleash v4 refuses to enable "
                "it (409); add a strategy first (newer servers add a default one)"
                for f in turning_on
            ],
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        states: dict[str, bool] = plan.data["states"]
        done: dict[str, bool] = {}
        for feature, on in states.items():
            path = self._path(feature, f"/{_onoff(on)}")
            report.log(f"POST {self.api.url(path)}")
            try:
                self.api.request(
                    "POST",
                    path,
                    what=f"switch {feature} {_onoff(on)} in {self._where()}",
                    report=report,
                )
            except ApiError as error:
                already = f" (already switched: {describe_states(done)})" if done else ""
                if error.status != 409 or not on:
                    if not done:
                        raise
                    raise ProviderError(f"{error}{already}") from None
                raise ProviderError(
                    f"Unleash will not enable {feature} in {self.opts.environment}: "
                    f"{error.message}. Add a strategy to {feature} in {self.opts.environment} "
                    f"(Unleash UI or API), then run again{already}"
                ) from None
            done[feature] = on
        return Executed(f"Unleash {self.opts.environment}: {describe_states(done)}", {"set": done})

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        states: dict[str, bool] = plan.data["states"]
        now = {feature: self.read(feature, report)["enabled"] for feature in states}
        wrong = {f: now[f] for f, on in states.items() if now[f] != on}
        if wrong:
            return Verified(False, f"not in the asked state: {describe_states(wrong)}")
        return Verified(True, f"read back from {self.opts.environment}: {describe_states(now)}")
