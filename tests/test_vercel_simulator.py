"""The Vercel simulator over real HTTP: listing, rollback and promote jobs, aliases, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fake_time import FakeClock

from cockpit.simulators.vercel import VercelSimulator

TOKEN = "vercel-test-token"
TEAM = "team_sim"
PROJECT = "prj_shop"


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def changes() -> list[dict[str, Any]]:
    """What on_production_change was told, in order."""
    return []


@pytest.fixture
def sim(fake_clock: FakeClock, changes: list[dict[str, Any]]) -> Iterator[VercelSimulator]:
    """Three releases that each served production (v3 serves now), one staged but never
    aliased, a preview and a build still running."""
    simulator = VercelSimulator(
        token=TOKEN,
        clock=fake_clock,
        team_id=TEAM,
        job_seconds=5.0,
        on_production_change=changes.append,
    )
    simulator.add_project(PROJECT, "shop")
    for uid, created in (("dpl_v1", 1_000), ("dpl_v2", 2_000), ("dpl_v3", 3_000)):
        simulator.add_deployment(PROJECT, uid=uid, created=created, meta={"githubCommitSha": uid})
    simulator.add_deployment(PROJECT, uid="dpl_staged", created=2_500, aliased=False)
    simulator.add_deployment(PROJECT, uid="dpl_preview", created=3_500, target=None)
    simulator.add_deployment(PROJECT, uid="dpl_building", created=4_000, state="BUILDING")
    with simulator:
        yield simulator


@pytest.fixture
def api(sim: VercelSimulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=sim.url, headers=headers, timeout=5) as client:
        yield client


def uids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [d["uid"] for d in response.json()["deployments"]]


def serving(sim: VercelSimulator) -> str:
    """The uid of the deployment serving production, as the simulator holds it."""
    deployment = sim.production(PROJECT)
    assert deployment is not None
    return str(deployment["uid"])


def last_request(api: httpx.Client) -> Any:
    response = api.get(f"/v9/projects/{PROJECT}", params={"rollbackInfo": "true"})
    assert response.status_code == 200
    return response.json()["lastAliasRequest"]


def test_listing_is_newest_first_and_pages_with_until(api: httpx.Client) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"projectId": PROJECT, "limit": 4, "teamId": TEAM}
    first = api.get("/v6/deployments", params=params)
    seen += uids(first)
    assert first.json()["pagination"] == {"count": 4, "next": 2_500, "prev": 4_000}
    second = api.get("/v6/deployments", params={**params, "until": 2_500})
    seen += uids(second)
    assert second.json()["pagination"]["next"] is None
    assert seen == ["dpl_building", "dpl_preview", "dpl_v3", "dpl_staged", "dpl_v2", "dpl_v1"]


def test_listing_filters_and_item_fields(api: httpx.Client) -> None:
    production = {"projectId": "shop", "target": "production", "state": "READY"}
    assert uids(api.get("/v6/deployments", params=production)) == [
        "dpl_v3",
        "dpl_staged",
        "dpl_v2",
        "dpl_v1",
    ]
    candidates = api.get("/v6/deployments", params={"rollbackCandidate": "true"})
    assert uids(candidates) == ["dpl_v3", "dpl_v2", "dpl_v1"]
    assert uids(api.get("/v6/deployments", params={"sha": "dpl_v2"})) == ["dpl_v2"]
    items = {d["uid"]: d for d in api.get("/v6/deployments").json()["deployments"]}
    assert items["dpl_v3"]["readySubstate"] == "PROMOTED"
    assert items["dpl_v2"]["readySubstate"] == "STAGED"
    assert items["dpl_building"]["readySubstate"] is None
    assert items["dpl_staged"]["aliasAssigned"] is None
    assert items["dpl_v1"]["aliasAssigned"] is not None
    assert items["dpl_v3"]["url"].endswith(".vercel.app")
    assert items["dpl_v3"]["creator"]["uid"] and items["dpl_v3"]["inspectorUrl"]
    bad = api.get("/v6/deployments", params={"state": "SHINY"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "bad_request")


def test_single_deployment_by_id_or_url(api: httpx.Client) -> None:
    by_id = api.get("/v13/deployments/dpl_v3").json()
    assert by_id["id"] == "dpl_v3" and by_id["alias"] == ["shop.vercel.app"]
    by_url = api.get(f"/v13/deployments/{by_id['url']}").json()
    assert by_url["id"] == "dpl_v3"


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_missing_or_wrong_token_is_401_forbidden(sim: VercelSimulator, token: str | None) -> None:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = httpx.get(f"{sim.url}/v6/deployments", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "forbidden"


def test_another_team_is_403(api: httpx.Client) -> None:
    response = api.get("/v6/deployments", params={"teamId": "team_other"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("version", ["v1", "v9"])
def test_rollback_job_moves_production_only_when_it_succeeds(
    api: httpx.Client,
    sim: VercelSimulator,
    fake_clock: FakeClock,
    changes: list[dict[str, Any]],
    version: str,
) -> None:
    response = api.post(f"/{version}/projects/{PROJECT}/rollback/dpl_v2", json={})
    assert response.status_code == 201
    request = last_request(api)
    assert request["jobStatus"] == "pending"
    assert (request["fromDeploymentId"], request["toDeploymentId"]) == ("dpl_v3", "dpl_v2")
    assert request["type"] == "rollback" and isinstance(request["requestedAt"], int)

    fake_clock.advance(2)
    assert last_request(api)["jobStatus"] == "in-progress"
    assert serving(sim) == "dpl_v3"
    assert changes == []

    fake_clock.advance(3)
    assert last_request(api)["jobStatus"] == "succeeded"
    assert serving(sim) == "dpl_v2"
    assert api.get("/v13/deployments/dpl_v2").json()["readySubstate"] == "PROMOTED"
    assert api.get("/v13/deployments/dpl_v3").json()["readySubstate"] == "STAGED"
    project = api.get(f"/v9/projects/{PROJECT}", params={"rollbackInfo": "true"}).json()
    assert project["targets"]["production"]["id"] == "dpl_v2"
    assert project["lastRollbackTarget"]["toDeploymentId"] == "dpl_v2"
    assert [change["uid"] for change in changes] == ["dpl_v2"]  # once, however often read


def test_rollback_info_needs_the_flag(api: httpx.Client) -> None:
    api.post(f"/v9/projects/{PROJECT}/rollback/dpl_v2", json={})
    assert "lastAliasRequest" not in api.get(f"/v9/projects/{PROJECT}").json()


def test_failed_job_keeps_production_and_lists_failed_aliases(
    api: httpx.Client,
    sim: VercelSimulator,
    fake_clock: FakeClock,
    changes: list[dict[str, Any]],
) -> None:
    failed_aliases = f"/v9/projects/{PROJECT}/rollback/aliases"
    sim.fail_next_job()
    assert api.post(f"/v9/projects/{PROJECT}/rollback/dpl_v1", json={}).status_code == 201
    assert api.get(failed_aliases, params={"failedOnly": "true"}).json()["aliases"] == []
    fake_clock.advance(10)
    assert last_request(api)["jobStatus"] == "failed"
    assert serving(sim) == "dpl_v3"
    assert changes == []
    listed = api.get(failed_aliases, params={"failedOnly": "true", "limit": 20}).json()
    assert [(a["alias"], a["status"]) for a in listed["aliases"]] == [
        ({"alias": "shop.vercel.app", "deploymentId": "dpl_v1"}, "failed")
    ]
    # Only the next job fails: a retry goes through.
    assert api.post(f"/v9/projects/{PROJECT}/rollback/dpl_v1", json={}).status_code == 201
    fake_clock.advance(10)
    assert last_request(api)["jobStatus"] == "succeeded"
    assert serving(sim) == "dpl_v1"


@pytest.mark.parametrize("target", ["dpl_staged", "dpl_building", "dpl_v3", "dpl_preview"], ids=str)
def test_ineligible_rollback_target_is_409(api: httpx.Client, target: str) -> None:
    response = api.post(f"/v9/projects/{PROJECT}/rollback/{target}", json={})
    assert response.status_code == 409
    assert set(response.json()["error"]) == {"code", "message"}
    assert last_request(api) is None


def test_promote_a_staged_deployment(
    api: httpx.Client, sim: VercelSimulator, fake_clock: FakeClock
) -> None:
    assert api.post(f"/v10/projects/{PROJECT}/promote/dpl_staged", json={}).status_code == 202
    assert last_request(api)["type"] == "promote"
    assert serving(sim) == "dpl_v3"
    fake_clock.advance(5)
    assert last_request(api)["jobStatus"] == "succeeded"
    assert serving(sim) == "dpl_staged"
    candidates = api.get("/v6/deployments", params={"rollbackCandidate": "true"})
    assert "dpl_staged" in uids(candidates)
    building = api.post(f"/v9/projects/{PROJECT}/promote/dpl_building", json={})
    assert building.status_code == 409


def test_alias_move_returns_old_deployment(
    api: httpx.Client, sim: VercelSimulator, changes: list[dict[str, Any]]
) -> None:
    moved = api.post("/v2/deployments/dpl_v2/aliases", json={"alias": "shop.vercel.app"})
    assert moved.status_code == 200
    assert moved.json()["alias"] == "shop.vercel.app"
    assert moved.json()["oldDeploymentId"] == "dpl_v3"
    assert serving(sim) == "dpl_v2"
    assert [change["uid"] for change in changes] == ["dpl_v2"]
    listed = api.get("/v2/deployments/dpl_v2/aliases").json()["aliases"]
    assert [a["alias"] for a in listed] == ["shop.vercel.app"]
    assert api.get("/v2/deployments/dpl_v3/aliases").json()["aliases"] == []
    again = api.post("/v2/deployments/dpl_v2/aliases", json={"alias": "shop.vercel.app"})
    assert again.status_code == 409
    fresh = api.post("/v2/deployments/dpl_v1/aliases", json={"alias": "canary.shop.dev"})
    assert fresh.json()["oldDeploymentId"] is None
    assert serving(sim) == "dpl_v2"


def test_alias_needs_a_ready_deployment_and_a_hostname(
    api: httpx.Client, sim: VercelSimulator
) -> None:
    building = api.post("/v2/deployments/dpl_building/aliases", json={"alias": "next.shop.dev"})
    assert (building.status_code, building.json()["error"]["code"]) == (400, "bad_request")
    invalid = api.post("/v2/deployments/dpl_v2/aliases", json={"alias": "not a host"})
    assert invalid.status_code == 400
    sim.set_state("dpl_building", "READY")
    ready = api.post("/v2/deployments/dpl_building/aliases", json={"alias": "next.shop.dev"})
    assert ready.status_code == 200


def test_injected_rate_limit(api: httpx.Client, sim: VercelSimulator) -> None:
    sim.fail("rate_limit", path="/v6/deployments", retry_after=7)
    limited = api.get("/v6/deployments")
    assert limited.status_code == 429
    error = limited.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["limit"]["remaining"] == 0
    assert error["limit"]["resetMs"] == error["limit"]["reset"] * 1000
    assert limited.headers["Retry-After"] == "7"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Limit"] == str(error["limit"]["total"])
    assert limited.headers["X-RateLimit-Reset"] == str(error["limit"]["reset"])
    assert api.get("/v6/deployments").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v13/deployments/dpl_nope"),
        ("GET", "/v9/projects/prj_nope"),
        ("GET", "/v6/deployments?projectId=prj_nope"),
        ("POST", "/v9/projects/prj_nope/rollback/dpl_v2"),
        ("POST", f"/v9/projects/{PROJECT}/rollback/dpl_nope"),
        ("POST", "/v2/deployments/dpl_nope/aliases"),
    ],
)
def test_unknown_project_or_deployment_is_404(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path, json={"alias": "x.shop.dev"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found" and error["message"]
