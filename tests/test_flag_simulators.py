"""The feature-flag simulators over real HTTP: the generic admin API, Unleash and Flagsmith."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from cockpit.simulators.admin_api import AdminApiSimulator
from cockpit.simulators.flagsmith import FlagsmithSimulator
from cockpit.simulators.unleash import UnleashSimulator

TOKEN = "sim-token"
FLAGS = "/admin/feature-flags"


# The simulators speak plain HTTP, but each httpx client loads the CA bundle (~0.1 s): share one.
TLS = ssl.create_default_context()


def client(url: str, authorization: str | None) -> httpx.Client:
    headers = {} if authorization is None else {"Authorization": authorization}
    return httpx.Client(base_url=url, headers=headers, timeout=5, verify=TLS)


# -- the generic admin API -------------------------------------------------------------------


@pytest.fixture
def admin() -> Iterator[AdminApiSimulator]:
    sim = AdminApiSimulator({"splitViewLayout": True, "aiSummarization": True, "darkMode": False})
    with sim:
        yield sim


@pytest.fixture
def admin_http(admin: AdminApiSimulator) -> Iterator[httpx.Client]:
    with client(admin.url, f"Bearer {TOKEN}") as http:
        yield http


def test_admin_reads_every_flag(admin_http: httpx.Client) -> None:
    reply = admin_http.get(FLAGS)
    assert reply.status_code == 200
    assert reply.json() == {
        "splitViewLayout": {"enabled": True},
        "aiSummarization": {"enabled": True},
        "darkMode": {"enabled": False},
    }


def test_admin_turns_flags_off_and_restores_the_previous_state(
    admin: AdminApiSimulator, admin_http: httpx.Client
) -> None:
    before = admin_http.get(FLAGS).json()
    off = {"splitViewLayout": {"enabled": False}, "aiSummarization": {"enabled": False}}
    reply = admin_http.patch(FLAGS, json=off)
    assert reply.status_code == 200
    assert reply.json() == {**before, **off}  # the full new state, untouched flags included
    assert admin.flags == {"splitViewLayout": False, "aiSummarization": False, "darkMode": False}

    restore = {name: before[name] for name in off}
    assert admin_http.patch(FLAGS, json=restore).json() == before
    assert admin_http.get(FLAGS).json() == before


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", TOKEN, f"Token {TOKEN}"])
def test_admin_refuses_a_missing_or_wrong_token(
    admin: AdminApiSimulator, authorization: str | None
) -> None:
    with client(admin.url, authorization) as http:
        reply = http.patch(FLAGS, json={"splitViewLayout": {"enabled": False}})
        assert reply.status_code == 401
        assert set(reply.json()) == {"error"}
        assert http.delete("/api/admin/cache").status_code == 401
    assert admin.flags["splitViewLayout"] is True
    assert admin.cache_clears == 0


def test_admin_patch_is_all_or_nothing_on_an_unknown_flag(
    admin: AdminApiSimulator, admin_http: httpx.Client
) -> None:
    calls: list[dict[str, bool]] = []
    admin.on_flags_change = calls.append
    body = {
        "splitViewLayout": {"enabled": False},
        "noSuchFlag": {"enabled": False},
        "alsoMissing": {"enabled": True},
    }
    reply = admin_http.patch(FLAGS, json=body)
    assert reply.status_code == 404
    assert "noSuchFlag" in reply.json()["error"]
    assert "alsoMissing" in reply.json()["error"]
    assert admin.flags["splitViewLayout"] is True
    assert calls == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ([{"splitViewLayout": {"enabled": False}}], "object"),
        ({}, "no feature flag"),
        ({"splitViewLayout": False}, "splitViewLayout"),
        ({"splitViewLayout": {"enabled": "false"}}, "splitViewLayout.enabled"),
        ({"splitViewLayout": {}}, "splitViewLayout.enabled"),
        ({"splitViewLayout": {"enabled": False, "rollout": 0}}, "splitViewLayout.rollout"),
        # a bad field anywhere refuses the good ones before it
        ({"darkMode": {"enabled": True}, "splitViewLayout": {"enabled": 0}}, "splitViewLayout"),
    ],
)
def test_admin_refuses_a_malformed_patch_and_changes_nothing(
    admin: AdminApiSimulator, admin_http: httpx.Client, body: Any, named: str
) -> None:
    reply = admin_http.patch(FLAGS, json=body)
    assert reply.status_code == 400
    assert named in reply.json()["error"]
    assert admin.flags == {"splitViewLayout": True, "aiSummarization": True, "darkMode": False}


def test_admin_refuses_a_body_that_is_not_json(
    admin: AdminApiSimulator, admin_http: httpx.Client
) -> None:
    reply = admin_http.patch(FLAGS, content=b'{"splitViewLayout": {"enabled": fals')
    assert reply.status_code == 400
    assert set(reply.json()) == {"error"}
    assert admin.flags["splitViewLayout"] is True


def test_admin_hooks_hear_the_flags_set_and_each_cache_clear(
    admin: AdminApiSimulator, admin_http: httpx.Client
) -> None:
    changes: list[dict[str, bool]] = []
    clears: list[int] = []
    admin.on_flags_change = changes.append
    admin.on_cache_clear = lambda: clears.append(admin.cache_clears)
    admin_http.patch(FLAGS, json={"aiSummarization": {"enabled": False}})
    admin_http.patch(
        FLAGS, json={"aiSummarization": {"enabled": True}, "darkMode": {"enabled": True}}
    )
    admin_http.delete("/api/admin/cache")
    assert changes == [{"aiSummarization": False}, {"aiSummarization": True, "darkMode": True}]
    assert clears == [1]  # after the clear was counted


def test_admin_cache_delete_counts_keys_and_clears(
    admin: AdminApiSimulator, admin_http: httpx.Client
) -> None:
    keys = len(admin.cache)
    assert keys > 0
    first = admin_http.delete("/api/admin/cache")
    assert first.status_code == 200
    assert first.json()["cleared"] == keys
    assert datetime.fromisoformat(first.json()["at"]).tzinfo is not None
    assert admin_http.delete("/api/admin/cache").json()["cleared"] == 0
    admin.cache.add("feed:home")
    assert admin_http.delete("/api/admin/cache").json()["cleared"] == 1
    assert admin.cache_clears == 3
    assert admin.cache == set()


def test_admin_answers_an_injected_rate_limit(
    admin: AdminApiSimulator, admin_http: httpx.Client
) -> None:
    admin.fail("rate_limit", path=FLAGS, retry_after=7)
    reply = admin_http.patch(FLAGS, json={"splitViewLayout": {"enabled": False}})
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "7"
    assert reply.json() == {"error": "Too many requests"}
    assert admin.flags["splitViewLayout"] is True
    assert admin_http.patch(FLAGS, json={"splitViewLayout": {"enabled": False}}).status_code == 200


# -- Unleash ---------------------------------------------------------------------------------

SPLIT = "/api/admin/projects/default/features/split-view"


@pytest.fixture
def unleash() -> Iterator[UnleashSimulator]:
    sim = UnleashSimulator()
    sim.add_feature("default", "split-view", {"production": True, "development": False})
    sim.add_feature(
        "default", "new-editor", {"production": False}, without_strategies={"production"}
    )
    sim.add_feature("mobile", "ai-summary")
    with sim:
        yield sim


@pytest.fixture
def unleash_http(unleash: UnleashSimulator) -> Iterator[httpx.Client]:
    with client(unleash.url, TOKEN) as http:  # the raw token, as Unleash's docs send it
        yield http


def assert_unleash_error(reply: httpx.Response, status: int, name: str) -> str:
    assert reply.status_code == status
    body = reply.json()
    assert body["name"] == name
    uuid.UUID(body["id"])
    assert body["details"] == [{"message": body["message"], "description": body["message"]}]
    return str(body["message"])


def test_unleash_reads_a_feature_and_one_environment(unleash_http: httpx.Client) -> None:
    feature = unleash_http.get(SPLIT).json()
    assert (feature["name"], feature["project"]) == ("split-view", "default")
    envs = {env["name"]: env for env in feature["environments"]}
    assert {name: env["enabled"] for name, env in envs.items()} == {
        "production": True,
        "development": False,
    }
    assert envs["production"]["type"] == "production"
    assert envs["production"]["strategies"][0]["name"] == "default"

    env = unleash_http.get(f"{SPLIT}/environments/development").json()
    assert (env["name"], env["environment"], env["enabled"]) == ("split-view", "development", False)


def test_unleash_turns_an_environment_off_and_back_on(
    unleash: UnleashSimulator, unleash_http: httpx.Client
) -> None:
    off = unleash_http.post(f"{SPLIT}/environments/production/off")
    assert off.status_code == 200
    assert off.content == b""
    assert unleash_http.get(f"{SPLIT}/environments/production").json()["enabled"] is False
    assert unleash.enabled("default", "split-view", "development") is False  # the other env kept

    assert unleash_http.post(f"{SPLIT}/environments/production/on").status_code == 200
    assert unleash.enabled("default", "split-view", "production") is True


def test_unleash_accepts_a_bearer_token_too(unleash: UnleashSimulator) -> None:
    with client(unleash.url, f"Bearer {TOKEN}") as http:
        assert http.post(f"{SPLIT}/environments/production/off").status_code == 200
    assert unleash.enabled("default", "split-view", "production") is False


@pytest.mark.parametrize("authorization", [None, "wrong", "Bearer wrong", f"Api-Key {TOKEN}"])
def test_unleash_refuses_a_missing_or_wrong_token(
    unleash: UnleashSimulator, authorization: str | None
) -> None:
    with client(unleash.url, authorization) as http:
        reply = http.post(f"{SPLIT}/environments/production/off")
    assert_unleash_error(reply, 401, "AuthenticationRequired")
    assert unleash.enabled("default", "split-view", "production") is True


def test_unleash_names_an_unknown_feature_project_or_environment(
    unleash: UnleashSimulator, unleash_http: httpx.Client
) -> None:
    calls: list[tuple[str, str, str, bool]] = []
    unleash.on_toggle = lambda *args: calls.append(args)
    missing = unleash_http.post(
        "/api/admin/projects/default/features/nope/environments/production/off"
    )
    assert 'no feature named "nope" in project "default".' in assert_unleash_error(
        missing, 404, "NotFoundError"
    )
    elsewhere = unleash_http.get("/api/admin/projects/default/features/ai-summary")
    assert 'in project "mobile"' in assert_unleash_error(elsewhere, 404, "NotFoundError")
    no_env = unleash_http.post(f"{SPLIT}/environments/staging/off")
    message = assert_unleash_error(no_env, 404, "NotFoundError")
    assert message == "Could not find environment staging for feature: split-view"
    assert calls == []


def test_unleash_will_not_enable_an_environment_without_strategies(
    unleash: UnleashSimulator, unleash_http: httpx.Client
) -> None:
    reply = unleash_http.post(
        "/api/admin/projects/default/features/new-editor/environments/production/on"
    )
    assert "before it has strategies" in assert_unleash_error(reply, 409, "InvalidOperationError")
    assert unleash.enabled("default", "new-editor", "production") is False


def test_unleash_refuses_a_malformed_body_and_changes_nothing(
    unleash: UnleashSimulator, unleash_http: httpx.Client
) -> None:
    reply = unleash_http.post(f"{SPLIT}/environments/production/off", content=b"{not json")
    assert_unleash_error(reply, 400, "BadDataError")
    assert unleash.enabled("default", "split-view", "production") is True


def test_unleash_hook_hears_each_toggle(
    unleash: UnleashSimulator, unleash_http: httpx.Client
) -> None:
    calls: list[tuple[str, str, str, bool]] = []
    unleash.on_toggle = lambda *args: calls.append(args)
    unleash_http.post(f"{SPLIT}/environments/production/off")
    unleash_http.post("/api/admin/projects/mobile/features/ai-summary/environments/production/off")
    unleash_http.post(f"{SPLIT}/environments/production/on")
    assert calls == [
        ("default", "split-view", "production", False),
        ("mobile", "ai-summary", "production", False),
        ("default", "split-view", "production", True),
    ]


def test_unleash_answers_an_injected_rate_limit(
    unleash: UnleashSimulator, unleash_http: httpx.Client
) -> None:
    unleash.fail("rate_limit", retry_after=30)
    reply = unleash_http.post(f"{SPLIT}/environments/production/off")
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "30"
    assert reply.text == "Too many requests, please try again later."
    assert unleash.enabled("default", "split-view", "production") is True


# -- Flagsmith -------------------------------------------------------------------------------

PROD_STATES = "/api/v1/environments/prod-key/featurestates/"


@pytest.fixture
def flagsmith() -> Iterator[FlagsmithSimulator]:
    sim = FlagsmithSimulator()
    sim.add_environment("prod-key", "Production")
    sim.add_environment("dev-key", "Development")
    sim.add_feature("split_view", enabled={"prod-key": True})
    sim.add_feature("ai_summary", enabled=True, value="gpt")
    with sim:
        yield sim


@pytest.fixture
def flagsmith_http(flagsmith: FlagsmithSimulator) -> Iterator[httpx.Client]:
    with client(flagsmith.url, f"Api-Key {TOKEN}") as http:
        yield http


def prod_state(http: httpx.Client, feature: str) -> dict[str, Any]:
    page = http.get(PROD_STATES, params={"feature_name": feature}).json()
    assert page["count"] == 1
    state: dict[str, Any] = page["results"][0]
    return state


def test_flagsmith_finds_a_feature_state_by_feature_id_or_name(
    flagsmith: FlagsmithSimulator, flagsmith_http: httpx.Client
) -> None:
    everything = flagsmith_http.get(PROD_STATES).json()
    assert everything["count"] == 2
    assert (everything["next"], everything["previous"]) == (None, None)

    feature_id = flagsmith.state("prod-key", "ai_summary").feature
    page = flagsmith_http.get(PROD_STATES, params={"feature": feature_id}).json()
    assert page["count"] == 1
    state = page["results"][0]
    assert state["feature"] == feature_id
    assert state["enabled"] is True
    assert state["feature_state_value"] == "gpt"
    assert state["environment"] == flagsmith.environments["prod-key"].id
    assert prod_state(flagsmith_http, "split_view")["enabled"] is True
    dev = flagsmith_http.get("/api/v1/environments/dev-key/featurestates/").json()["results"]
    split_id = flagsmith.state("dev-key", "split_view").feature
    assert {s["feature"]: s["enabled"] for s in dev} == {split_id: False, feature_id: True}


def test_flagsmith_turns_a_state_off_and_back_on(
    flagsmith: FlagsmithSimulator, flagsmith_http: httpx.Client
) -> None:
    state = prod_state(flagsmith_http, "split_view")
    off = flagsmith_http.patch(f"{PROD_STATES}{state['id']}/", json={"enabled": False})
    assert off.status_code == 200
    assert (off.json()["id"], off.json()["enabled"]) == (state["id"], False)
    assert prod_state(flagsmith_http, "split_view")["enabled"] is False
    assert flagsmith.state("dev-key", "split_view").enabled is False  # untouched

    # back on through the other endpoint, with the value read before the change
    on = flagsmith_http.patch(
        f"/api/v1/features/featurestates/{state['id']}/", json={"enabled": state["enabled"]}
    )
    assert on.status_code == 200
    assert prod_state(flagsmith_http, "split_view")["enabled"] is True


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "Authentication credentials were not provided."),
        (f"Bearer {TOKEN}", "Authentication credentials were not provided."),
        ("Api-Key wrong", "Valid Master API Key not found."),
    ],
)
def test_flagsmith_refuses_a_missing_or_wrong_key(
    flagsmith: FlagsmithSimulator, authorization: str | None, detail: str
) -> None:
    state_id = flagsmith.state("prod-key", "split_view").id
    with client(flagsmith.url, authorization) as http:
        reply = http.patch(f"{PROD_STATES}{state_id}/", json={"enabled": False})
    assert reply.status_code == 401
    assert reply.json() == {"detail": detail}
    assert flagsmith.state("prod-key", "split_view").enabled is True


def test_flagsmith_unknown_environment_or_state(
    flagsmith: FlagsmithSimulator, flagsmith_http: httpx.Client
) -> None:
    listing = flagsmith_http.get("/api/v1/environments/nope/featurestates/")
    assert listing.status_code == 403
    assert listing.json() == {"detail": "You do not have permission to perform this action."}

    state_id = flagsmith.state("prod-key", "split_view").id
    no_env = flagsmith_http.patch(f"/api/v1/environments/nope/featurestates/{state_id}/", json={})
    assert (no_env.status_code, no_env.json()) == (404, {"detail": "Environment not found."})
    for path in (
        f"{PROD_STATES}999/",
        "/api/v1/features/featurestates/999/",
        f"/api/v1/environments/dev-key/featurestates/{state_id}/",  # prod's state, dev's path
    ):
        reply = flagsmith_http.patch(path, json={"enabled": False})
        assert (reply.status_code, reply.json()) == (404, {"detail": "Not found."}), path
    assert flagsmith.state("prod-key", "split_view").enabled is True


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"enabled": "maybe"}, {"enabled": ["Must be a valid boolean."]}),
        ({"enabled": [False]}, {"enabled": ["Must be a valid boolean."]}),
        ({"enabled": 2}, {"enabled": ["Must be a valid boolean."]}),
        ({"enabled": None}, {"enabled": ["This field may not be null."]}),
        (
            [{"enabled": False}],
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
        ),
    ],
)
def test_flagsmith_refuses_a_malformed_body_and_changes_nothing(
    flagsmith: FlagsmithSimulator, flagsmith_http: httpx.Client, body: Any, errors: Any
) -> None:
    state_id = flagsmith.state("prod-key", "split_view").id
    reply = flagsmith_http.patch(f"{PROD_STATES}{state_id}/", json=body)
    assert (reply.status_code, reply.json()) == (400, errors)
    assert flagsmith.state("prod-key", "split_view").enabled is True


@pytest.mark.parametrize("word", ["false", "off", "0", 0])
def test_flagsmith_reads_enabled_as_drf_does(
    flagsmith: FlagsmithSimulator, flagsmith_http: httpx.Client, word: Any
) -> None:
    state_id = flagsmith.state("prod-key", "split_view").id
    reply = flagsmith_http.patch(f"{PROD_STATES}{state_id}/", json={"enabled": word})
    assert reply.status_code == 200
    assert reply.json()["enabled"] is False


def test_flagsmith_hook_hears_each_change_of_enabled(
    flagsmith: FlagsmithSimulator, flagsmith_http: httpx.Client
) -> None:
    calls: list[tuple[str, str, bool]] = []
    flagsmith.on_toggle = lambda *args: calls.append(args)
    prod = flagsmith.state("prod-key", "split_view").id
    dev = flagsmith.state("dev-key", "ai_summary").id
    flagsmith_http.patch(f"{PROD_STATES}{prod}/", json={"enabled": False})
    flagsmith_http.patch(f"/api/v1/features/featurestates/{dev}/", json={"enabled": False})
    flagsmith_http.patch(f"{PROD_STATES}{prod}/", json={})  # nothing set, nothing heard
    flagsmith_http.patch(f"{PROD_STATES}{prod}/", json={"enabled": "nope"})  # refused
    assert calls == [("prod-key", "split_view", False), ("dev-key", "ai_summary", False)]


def test_flagsmith_pages_ten_states_at_a_time(flagsmith: FlagsmithSimulator) -> None:
    for n in range(10):
        flagsmith.add_feature(f"extra_{n}")
    with client(flagsmith.url, f"Api-Key {TOKEN}") as http:
        first = http.get(PROD_STATES).json()
        assert (first["count"], len(first["results"]), first["previous"]) == (12, 10, None)
        assert first["next"] == f"{flagsmith.url}{PROD_STATES}?page=2"
        second = http.get(first["next"]).json()
        assert len(second["results"]) == 2
        assert (second["next"], second["previous"]) == (None, f"{flagsmith.url}{PROD_STATES}")
        ids = {s["id"] for s in first["results"]} | {s["id"] for s in second["results"]}
        assert len(ids) == 12
        past = http.get(PROD_STATES, params={"page": 3})
        assert (past.status_code, past.json()) == (404, {"detail": "Invalid page."})


def test_flagsmith_answers_an_injected_rate_limit(
    flagsmith: FlagsmithSimulator, flagsmith_http: httpx.Client
) -> None:
    flagsmith.fail("rate_limit", retry_after=2.5)
    state_id = flagsmith.state("prod-key", "split_view").id
    reply = flagsmith_http.patch(f"{PROD_STATES}{state_id}/", json={"enabled": False})
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "3"
    assert reply.json() == {"detail": "Request was throttled. Expected available in 3 seconds."}
    assert flagsmith.state("prod-key", "split_view").enabled is True
