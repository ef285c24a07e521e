"""Unleash, Flagsmith and the cache clear against their simulators over real HTTP on 127.0.0.1.

What the contract suite cannot know: each platform's round trip (the action, then its undo back
to the captured state), an unknown feature refused before anything changes, the platform's own
failures (Unleash's 409 without strategies, Flagsmith's pages and DRF errors, a clear that
reports how many keys it removed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cockpit import action_runner
from cockpit.action_runner import Result, TimelineRecorder
from cockpit.core.actions import Plan, Report
from cockpit.core.errors import ProviderError
from cockpit.core.timeline import Timeline
from cockpit.simulators.admin_api import AdminApiSimulator
from cockpit.simulators.base import Simulator
from cockpit.simulators.flagsmith import FeatureState, FlagsmithSimulator
from cockpit.simulators.unleash import UnleashSimulator
from providers.api import ApiError
from providers.base import ActionProvider
from providers.cache import CacheProvider
from providers.flagsmith import FlagsmithProvider, drf_message
from providers.unleash import UnleashProvider

PRODUCTION_CACHE = "https://pitchey-production.cavelltheleaddev.workers.dev/api/admin/cache"


@pytest.fixture
def recorder(timeline: Timeline) -> TimelineRecorder:
    incident = timeline.open_incident("flags", "P1", "pulse-messages")
    return TimelineRecorder(timeline, incident.id)


def run(provider: ActionProvider, plan: Plan, recorder: TimelineRecorder) -> Result:
    return action_runner.run(provider, plan, None, recorder, Report())


def mutations(sim: Simulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.requests if r.method != "GET"]


# -- Unleash ---------------------------------------------------------------------------------

FEATURES = "/api/admin/projects/default/features"


@pytest.fixture
def unleash() -> Iterator[UnleashSimulator]:
    sim = UnleashSimulator()
    sim.add_feature("default", "split-view", {"production": True, "development": True})
    sim.add_feature("default", "ai-summary", {"production": False})
    sim.add_feature("default", "dark-mode", {"production": False})
    sim.add_feature(
        "default", "new-editor", {"production": False}, without_strategies={"production"}
    )
    sim.add_feature("mobile", "offline-sync")
    with sim:
        yield sim


def unleash_provider(sim: UnleashSimulator, **options: Any) -> UnleashProvider:
    values = {"base_url": sim.url, "token": sim.token, "timeout_seconds": 2.0, **options}
    return UnleashProvider(UnleashProvider.Options.model_validate(values))


def test_unleash_switches_off_and_its_undo_restores_the_previous_states(
    unleash: UnleashSimulator, recorder: TimelineRecorder
) -> None:
    provider = unleash_provider(unleash)
    plan = provider.preflight("disable_flags", {"flags": ["split-view", "ai-summary"]})
    assert plan.undo == {
        "action": "set_flags",
        "params": {"states": {"split-view": True, "ai-summary": False}},
    }
    assert plan.changes == ["split-view in production: on → off"]  # ai-summary is already off
    assert f"{unleash.url}{FEATURES}/split-view/environments/production/off" in plan.cli
    assert '-H "Authorization: $UNLEASH_TOKEN"' in plan.cli

    result = run(provider, plan, recorder)
    assert result.outcome == "succeeded" and result.verified, result.summary
    assert mutations(unleash) == [
        f"POST {FEATURES}/split-view/environments/production/off",
        f"POST {FEATURES}/ai-summary/environments/production/off",
    ]
    assert unleash.enabled("default", "split-view", "production") is False
    assert unleash.enabled("default", "split-view", "development") is True  # other env kept

    assert plan.undo is not None
    undo = provider.preflight(plan.undo["action"], plan.undo["params"])
    assert undo.changes == ["split-view in production: off → on"]
    assert run(provider, undo, recorder).outcome == "succeeded"
    assert unleash.enabled("default", "split-view", "production") is True
    assert unleash.enabled("default", "ai-summary", "production") is False
    provider.close()


def test_unleash_acts_on_the_configured_environment_only(unleash: UnleashSimulator) -> None:
    provider = unleash_provider(unleash, environment="development")
    plan = provider.preflight("disable_flags", {"flags": "split-view"})
    provider.execute(plan, Report())
    assert unleash.enabled("default", "split-view", "development") is False
    assert unleash.enabled("default", "split-view", "production") is True


def test_unleash_refuses_an_unknown_feature_in_preflight_and_changes_nothing(
    unleash: UnleashSimulator,
) -> None:
    provider = unleash_provider(unleash)
    with pytest.raises(ProviderError) as raised:
        provider.preflight("disable_flags", {"flags": ["split-view", "nope", "offline-sync"]})
    message = str(raised.value)
    assert "project 'default'" in message and "nope" in message
    assert 'in project "mobile"' in message  # Unleash says where offline-sync is
    assert "split-view" not in message.split(":", 1)[1]  # the known one is not blamed
    assert mutations(unleash) == []
    assert unleash.enabled("default", "split-view", "production") is True


def test_unleash_names_refused_credentials(unleash: UnleashSimulator) -> None:
    provider = unleash_provider(unleash, token="wrong-token")
    with pytest.raises(ProviderError, match=r"credentials refused \(401\)") as raised:
        provider.health()
    assert "AuthenticationRequired" in str(raised.value)
    with pytest.raises(ProviderError, match="credentials refused"):
        provider.preflight("disable_flags", {"flags": ["split-view"]})
    assert mutations(unleash) == []
    assert "Unleash answers" in unleash_provider(unleash).health()


def test_unleash_409_on_enabling_without_strategies_is_explained(
    unleash: UnleashSimulator, recorder: TimelineRecorder
) -> None:
    provider = unleash_provider(unleash)
    plan = provider.preflight("enable_flags", {"flags": ["dark-mode", "new-editor"]})
    assert len(plan.warnings) == 1 and "new-editor has no strategies" in plan.warnings[0]

    result = run(provider, plan, recorder)
    assert result.outcome == "failed" and not result.verified
    assert "will not enable new-editor in production" in result.summary
    assert "before it has strategies" in result.summary
    assert "Add a strategy to new-editor" in result.summary
    assert "already switched: dark-mode on" in result.summary  # half done, and said so
    assert unleash.enabled("default", "new-editor", "production") is False
    assert unleash.enabled("default", "dark-mode", "production") is True


# -- Flagsmith -------------------------------------------------------------------------------

PROD_STATES = "/api/v1/environments/prod-key/featurestates/"


@pytest.fixture
def flagsmith() -> Iterator[FlagsmithSimulator]:
    sim = FlagsmithSimulator()
    sim.add_environment("prod-key", "Production")
    sim.add_environment("dev-key", "Development")
    sim.add_feature("split_view", enabled=True)
    sim.add_feature("ai_summary", enabled={"dev-key": True})
    with sim:
        yield sim


def flagsmith_provider(sim: FlagsmithSimulator, **options: Any) -> FlagsmithProvider:
    values = {
        "base_url": sim.url,
        "token": sim.token,
        "environment": "prod-key",
        "timeout_seconds": 2.0,
        **options,
    }
    return FlagsmithProvider(FlagsmithProvider.Options.model_validate(values))


def test_flagsmith_switches_off_and_its_undo_restores_the_previous_states(
    flagsmith: FlagsmithSimulator, recorder: TimelineRecorder
) -> None:
    provider = flagsmith_provider(flagsmith)
    split, summary = (
        flagsmith.state("prod-key", "split_view"),
        flagsmith.state("prod-key", "ai_summary"),
    )
    plan = provider.preflight("disable_flags", {"flags": ["split_view", "ai_summary"]})
    assert plan.undo == {
        "action": "set_flags",
        "params": {"states": {"split_view": True, "ai_summary": False}},
    }
    assert plan.changes == ["split_view on → off"]
    assert f"{flagsmith.url}{PROD_STATES}{split.id}/" in plan.cli
    assert '-H "Authorization: Api-Key $FLAGSMITH_TOKEN"' in plan.cli

    result = run(provider, plan, recorder)
    assert result.outcome == "succeeded" and result.verified, result.summary
    assert mutations(flagsmith) == [
        f"PATCH {PROD_STATES}{split.id}/",
        f"PATCH {PROD_STATES}{summary.id}/",
    ]
    assert flagsmith.state("prod-key", "split_view").enabled is False
    assert flagsmith.state("dev-key", "split_view").enabled is True  # other env kept

    assert plan.undo is not None
    undo = provider.preflight(plan.undo["action"], plan.undo["params"])
    assert undo.changes == ["split_view off → on"]
    assert run(provider, undo, recorder).outcome == "succeeded"
    assert flagsmith.state("prod-key", "split_view").enabled is True
    assert flagsmith.state("prod-key", "ai_summary").enabled is False
    assert flagsmith.state("dev-key", "ai_summary").enabled is True
    provider.close()


def test_flagsmith_refuses_an_unknown_feature_in_preflight_and_changes_nothing(
    flagsmith: FlagsmithSimulator,
) -> None:
    provider = flagsmith_provider(flagsmith)
    with pytest.raises(ProviderError, match="no feature nope in this environment"):
        provider.preflight("disable_flags", {"flags": ["split_view", "nope"]})
    assert mutations(flagsmith) == []
    assert flagsmith.state("prod-key", "split_view").enabled is True


def test_flagsmith_names_refused_credentials_and_a_wrong_environment_key(
    flagsmith: FlagsmithSimulator,
) -> None:
    with pytest.raises(ProviderError, match="credentials refused") as raised:
        flagsmith_provider(flagsmith, token="wrong-token").health()
    assert "Valid Master API Key not found." in str(raised.value)
    with pytest.raises(ProviderError, match="403") as raised:
        flagsmith_provider(flagsmith, environment="nope").preflight(
            "disable_flags", {"flags": ["split_view"]}
        )
    assert "is the environment key right" in str(raised.value)
    assert mutations(flagsmith) == []
    assert "2 feature states" in flagsmith_provider(flagsmith).health()


@dataclass
class IdentityOverride(FeatureState):
    """One identity's override of a feature, listed next to the environment's own state."""

    identity: int = 0

    def as_json(self) -> Any:
        return {**super().as_json(), "identity": self.identity}


def test_flagsmith_follows_the_pages_and_skips_overrides(
    flagsmith: FlagsmithSimulator, recorder: TimelineRecorder
) -> None:
    """Ten identity overrides fill page one: the environment's own state is on page two."""
    own = flagsmith.state("prod-key", "split_view")
    overrides = {
        100 + n: IdentityOverride(100 + n, own.feature, own.environment, True, identity=n + 1)
        for n in range(10)
    }
    with flagsmith.lock:
        flagsmith.states = {**overrides, **flagsmith.states}
    provider = flagsmith_provider(flagsmith)
    plan = provider.preflight("disable_flags", {"flags": ["split_view"]})
    assert plan.data["ids"] == {"split_view": own.id}
    pages = [r.query.get("page") for r in flagsmith.requests if r.method == "GET"]
    assert pages == [None, "2"]

    assert run(provider, plan, recorder).outcome == "succeeded"
    assert own.enabled is False
    assert all(state.enabled for state in overrides.values())  # overrides untouched


class IgnoresFeatureName(FlagsmithSimulator):
    """A server that does not filter by feature_name: every state comes back."""

    def _list_states(self, request: Any) -> Any:
        request.query.pop("feature_name", None)
        return super()._list_states(request)


def test_flagsmith_refuses_to_guess_when_the_name_filter_is_ignored() -> None:
    sim = IgnoresFeatureName()
    sim.add_environment("prod-key", "Production")
    sim.add_feature("split_view", enabled=True)
    sim.add_feature("ai_summary", enabled=True)
    with sim:
        with pytest.raises(ProviderError, match="2 environment states answer"):
            flagsmith_provider(sim).preflight("disable_flags", {"flags": ["ai_summary"]})
        assert mutations(sim) == []


def test_flagsmith_field_map_errors_become_the_message(flagsmith: FlagsmithSimulator) -> None:
    provider = flagsmith_provider(flagsmith)
    with pytest.raises(ApiError) as raised:  # the simulator's own DRF field error, over HTTP
        provider.api.request("GET", PROD_STATES, params={"feature": "x"}, what="list")
    assert raised.value.status == 400
    assert raised.value.message == "feature: A valid integer is required."
    assert drf_message({"enabled": ["Must be a valid boolean."], "value": ["Too long."]}) == (
        "enabled: Must be a valid boolean.; value: Too long."
    )
    assert drf_message({"non_field_errors": ["Invalid data."]}) == "Invalid data."
    assert drf_message({"detail": "Not found."}) == "Not found."


# -- the cache clear -------------------------------------------------------------------------


@pytest.fixture
def admin() -> Iterator[AdminApiSimulator]:
    with AdminApiSimulator({"splitViewLayout": True}) as sim:
        yield sim


def cache_provider(sim: AdminApiSimulator, **options: Any) -> CacheProvider:
    values = {"base_url": sim.url, "token": sim.token, "timeout_seconds": 2.0, **options}
    return CacheProvider(CacheProvider.Options.model_validate(values))


def test_the_cache_is_cleared_once_and_the_summary_counts_the_keys(
    admin: AdminApiSimulator, recorder: TimelineRecorder
) -> None:
    keys = len(admin.cache)
    provider = cache_provider(admin)
    plan = provider.preflight("clear", {"url": PRODUCTION_CACHE, "method": "DELETE"})
    assert plan.undo is None and not plan.destructive
    assert plan.cli == (
        f'curl -fsS -X DELETE {admin.url}/api/admin/cache -H "Authorization: Bearer $ADMIN_TOKEN"'
    )
    assert any("405" in w and "only checked when it runs" in w for w in plan.warnings)
    assert any(PRODUCTION_CACHE in w and "configured endpoint" in w for w in plan.warnings)
    assert admin.cache_clears == 0  # the probe only reads

    result = run(provider, plan, recorder)
    assert result.outcome == "succeeded" and result.verified, result.summary
    assert f"{keys} keys cleared" in result.summary
    assert admin.cache_clears == 1 and admin.cache == set()
    assert mutations(admin) == ["DELETE /api/admin/cache"]

    again = run(provider, provider.preflight("clear", {}), recorder)
    assert "0 keys cleared" in again.summary and admin.cache_clears == 2
    provider.close()


def test_the_cache_clear_names_refused_credentials_and_clears_nothing(
    admin: AdminApiSimulator,
) -> None:
    provider = cache_provider(admin, token="wrong-token")
    with pytest.raises(ProviderError, match=r"credentials refused \(401\)"):
        provider.health()
    with pytest.raises(ProviderError, match="credentials refused"):
        provider.preflight("clear", {})
    assert admin.cache_clears == 0 and mutations(admin) == []


def test_a_wrong_cache_path_is_refused_in_preflight(admin: AdminApiSimulator) -> None:
    provider = cache_provider(admin, path="/api/admin/cach")
    with pytest.raises(ProviderError, match=r"not found \(404\)"):
        provider.preflight("clear", {})
    assert admin.cache_clears == 0 and mutations(admin) == []


def test_a_method_the_endpoint_refuses_fails_when_run_and_is_recorded(
    admin: AdminApiSimulator, recorder: TimelineRecorder
) -> None:
    provider = cache_provider(admin, method="post")  # the option is case-insensitive
    plan = provider.preflight("clear", {"method": "DELETE"})
    assert plan.calls[0].method == "POST"
    assert any("configured POST is used" in w for w in plan.warnings)
    result = run(provider, plan, recorder)
    assert result.outcome == "failed" and "405" in result.summary
    assert admin.cache_clears == 0
    with pytest.raises(ValueError, match="DELETE"):
        cache_provider(admin, method="GET")


def test_unleash_health_wants_unleash_answering(admin: AdminApiSimulator) -> None:
    """Another JSON API at base_url (a 404 that is not Unleash's) is not a healthy Unleash."""
    provider = UnleashProvider(
        UnleashProvider.Options.model_validate(
            {"base_url": admin.url, "token": f"Bearer {admin.token}"}  # it gets past the auth
        )
    )
    with pytest.raises(ProviderError, match="not as Unleash does"):
        provider.health()


def test_the_admin_api_offers_its_flags_the_ones_to_switch_first() -> None:
    """A runbook names its flag only as an example (five-levels' problematic_feature): the
    responder picks from the application's own flags, those the action would change first."""
    from providers.feature_flags import FeatureFlagsProvider

    state = {"newCheckout": True, "darkMode": False, "aiSummaries": True}
    with AdminApiSimulator(state) as sim:
        options = {"base_url": sim.url, "token": sim.token, "timeout_seconds": 2.0}
        flags = FeatureFlagsProvider(FeatureFlagsProvider.Options.model_validate(options))
        assert flags.choices("disable_flags", "flags", {}) == [
            ("aiSummaries", "on now"),
            ("newCheckout", "on now"),
            ("darkMode", "off now"),
        ]
        assert flags.choices("enable_flags", "flags", {})[0] == ("darkMode", "off now")
        assert flags.choices("set_flags", "states", {}) == []
        picked = flags.choices("disable_flags", "flags", {})[0][0]
        plan = flags.preflight("disable_flags", {"flags": picked})  # one picked: a string
        assert plan.data["states"] == {"aiSummaries": False}
