"""Feature flags in Flagsmith: a feature's state in one environment, switched on or off.

The same three actions as `providers.feature_flags` (disable_flags / enable_flags / set_flags,
with `flags: [name, ...]` or `states: {name: bool}`), so a procedure can swap providers. The
Admin API (provider_apis.md §8.3) keeps one feature state per feature and environment:

    GET   /api/v1/environments/{environment_key}/featurestates/?feature_name=split_view
    PATCH /api/v1/environments/{environment_key}/featurestates/{id}/   {"enabled": false}

with `Authorization: Api-Key <organisation API key>`. Preflight finds every feature's state
(following DRF's `next` pages, skipping identity and segment overrides): an unknown feature is
refused before anything changes, the previous states become the `undo`. DRF's error bodies
(`{"detail": ...}` or a field map) become the message. Verify finds the states again.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, urlsplit

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

MAX_PAGES = 50  # pages of feature states followed for one feature before giving up


def drf_message(body: Any) -> str | None:
    """DRF's error body → one line: the `detail`, else 'field: error; …' from a field map."""
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    if isinstance(body, dict) and body:
        parts = []
        for field, errors in body.items():
            text = "; ".join(map(str, errors)) if isinstance(errors, list) else str(errors)
            parts.append(text if field == "non_field_errors" else f"{field}: {text}")
        return "; ".join(parts)
    if isinstance(body, list) and body:
        return "; ".join(map(str, body))
    return None


class FlagsmithOptions(ApiOptions):
    """Where Flagsmith is, the organisation API key, and the environment's API key."""

    environment: str
    """The environment's (client-side) API key, as in the featurestates URLs."""


class FlagsmithProvider(HttpActionProvider):
    """Switch Flagsmith features off (or back on) in one environment."""

    name = "flagsmith"
    title = "Flagsmith feature states"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK | Capability.FLAGS
    Options = FlagsmithOptions

    def error_message(self, body: Any) -> str | None:
        return drf_message(body)

    def auth_header(self, token: str) -> tuple[str, str]:
        return ("Authorization", f"Api-Key {token}")

    actions: ClassVar[dict[str, str]] = dict(FeatureFlagsProvider.actions)
    action_params: ClassVar[dict[str, Params]] = dict(FeatureFlagsProvider.action_params)

    def __init__(
        self, options: FlagsmithOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(options, transport=transport)
        self.opts = options

    def _path(self, state_id: int | None = None) -> str:
        env = quote(self.opts.environment, safe="")
        return f"/api/v1/environments/{env}/featurestates/" + (f"{state_id}/" if state_id else "")

    def _page(self, what: str, params: dict[str, Any], report: Report | None) -> dict[str, Any]:
        try:
            body = self.api.request("GET", self._path(), what=what, params=params, report=report)
        except ApiError as error:
            if error.status != 403:
                raise
            hint = f"{error.message} (is the environment key right, and may this API key use it?)"
            raise ApiError(403, hint, what) from None
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise ProviderError(f"{what}: expected a page with 'results'")
        return body

    def find(self, feature: str, report: Report | None = None) -> tuple[int, bool] | None:
        """The id and `enabled` of the feature's environment-wide state; None if it has none."""
        what = f"find the feature state of {feature}"
        params: dict[str, Any] = {"feature_name": feature}
        found: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            page = self._page(what, params, report)
            found += [state for state in page["results"] if _environment_wide(state)]
            if not page.get("next"):
                break
            number = parse_qs(urlsplit(str(page["next"])).query).get("page")
            if not number:
                raise ProviderError(f"{what}: cannot follow the next page {page['next']!r}")
            params["page"] = number[-1]
        else:
            raise ProviderError(f"{what}: more than {MAX_PAGES} pages of feature states")
        if len(found) > 1:
            raise ProviderError(
                f"{what}: {len(found)} environment states answer feature_name={feature!r}; "
                "expected one (does this Flagsmith filter by feature_name?)"
            )
        if not found:
            return None
        state_id, enabled = found[0].get("id"), found[0].get("enabled")
        if not isinstance(state_id, int) or not isinstance(enabled, bool):
            raise ProviderError(f"{what}: the state has no integer 'id' or boolean 'enabled'")
        return state_id, enabled

    def health(self) -> str:
        page = self._page("reach Flagsmith", {}, None)
        return f"Flagsmith answers: {page.get('count', '?')} feature states in the environment"

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        wanted = wanted_states(action, params)
        found = {feature: self.find(feature) for feature in wanted}
        unknown = [feature for feature, state in found.items() if state is None]
        if unknown:
            raise ProviderError(
                f"Flagsmith has no feature {', '.join(unknown)} in this environment"
            )
        ids = {f: state[0] for f, state in found.items() if state is not None}
        current = {f: state[1] for f, state in found.items() if state is not None}
        calls = [
            Call("PATCH", self.api.url(self._path(ids[f])), {"enabled": on})
            for f, on in wanted.items()
        ]
        cli = " && ".join(
            f"curl -fsS -X PATCH {shlex.quote(call.url)} "
            f'-H "Authorization: Api-Key $FLAGSMITH_TOKEN" -H "Content-Type: application/json" '
            f"-d {shlex.quote(json.dumps(call.body))}"
            for call in calls
        )
        return flag_plan(
            self.name,
            action,
            wanted,
            current,
            label=lambda feature: feature,
            calls=calls,
            cli=cli,
            verify="find each feature state again and compare",
            data={"states": wanted, "ids": ids},
            where=" in Flagsmith",
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        states: dict[str, bool] = plan.data["states"]
        done: dict[str, bool] = {}
        for feature, on in states.items():
            path = self._path(plan.data["ids"][feature])
            report.log(f"PATCH {self.api.url(path)} {json.dumps({'enabled': on})}")
            try:
                self.api.request(
                    "PATCH", path, json={"enabled": on}, what=f"set {feature}", report=report
                )
            except ApiError as error:
                if not done:
                    raise
                raise ProviderError(f"{error} (already set: {describe_states(done)})") from None
            done[feature] = on
        return Executed(f"Flagsmith: {describe_states(done)}", {"set": done})

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        states: dict[str, bool] = plan.data["states"]
        now = {f: None if (s := self.find(f, report)) is None else s[1] for f in states}
        wrong = {f: now[f] for f, on in states.items() if now[f] != on}
        if wrong:
            return Verified(False, f"not in the asked state: {describe_states(wrong)}")
        return Verified(True, f"read back: {describe_states(now)}")


def _environment_wide(state: Any) -> bool:
    """A state of the whole environment, not an identity's or a segment's override."""
    return isinstance(state, dict) and not (state.get("identity") or state.get("feature_segment"))
