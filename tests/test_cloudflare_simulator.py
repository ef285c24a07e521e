"""The Cloudflare simulator over real HTTP: envelope, auth, Workers deployments, Pages rollbacks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fake_time import FakeClock

from cockpit.simulators.cloudflare import STAGES, CloudflareSimulator

STAGE = 10.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def changes() -> list[tuple[str, str, dict[str, Any]]]:
    return []


@pytest.fixture
def sim(
    clock: FakeClock, changes: list[tuple[str, str, dict[str, Any]]]
) -> Iterator[CloudflareSimulator]:
    simulator = CloudflareSimulator(
        token="cf-token",
        clock=clock,
        stage_seconds=STAGE,
        on_worker_change=lambda script, d: changes.append(("worker", script, d)),
        on_pages_change=lambda project, d: changes.append(("pages", project, d)),
    )
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def api(sim: CloudflareSimulator) -> Iterator[httpx.Client]:
    base = f"{sim.url}/client/v4/accounts/acc-demo"
    with httpx.Client(base_url=base, headers={"Authorization": "Bearer cf-token"}) as client:
        yield client


def failed(response: httpx.Response, status: int, code: int) -> dict[str, Any]:
    """Assert Cloudflare's error envelope and return its first error."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["result"] is None
    assert body["messages"] == []
    assert [e["code"] for e in body["errors"]] == [code]
    error: dict[str, Any] = body["errors"][0]
    assert error["message"]
    return error


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["errors"] == [] and body["messages"] == []
    return body["result"]


# -- envelope and auth ---------------------------------------------------------------------


def test_auth_failures_are_10000_in_the_envelope(sim: CloudflareSimulator) -> None:
    sim.add_worker_version("api")
    url = f"{sim.url}/client/v4/accounts/acc-demo/workers/scripts/api/deployments"
    failed(httpx.get(url), 401, 10000)
    failed(httpx.get(url, headers={"Authorization": "Bearer wrong"}), 403, 10000)
    ok(httpx.get(url, headers={"Authorization": "Bearer cf-token"}))


def test_unknown_things_are_404_with_the_envelope(
    sim: CloudflareSimulator, api: httpx.Client
) -> None:
    sim.add_worker_version("api")
    sim.add_pages_deployment("site")
    failed(api.get("/workers/scripts/nope/deployments"), 404, 10007)
    failed(api.get("/workers/scripts/api/deployments/d-missing"), 404, 10025)
    failed(api.get("/workers/scripts/api/versions/v-missing"), 404, 10025)
    failed(api.get("/pages/projects/nope"), 404, 8000007)
    failed(api.get("/pages/projects/site/deployments/missing"), 404, 8000009)
    other = f"{sim.url}/client/v4/accounts/acc-other/pages/projects/site"
    failed(api.get(other), 404, 7003)
    failed(api.get("/no/such/route"), 404, 7000)
    failed(api.put("/pages/projects/site"), 405, 7001)


def test_injected_failures_and_bad_json_keep_the_envelope(
    sim: CloudflareSimulator, api: httpx.Client
) -> None:
    sim.add_worker_version("api")
    sim.fail("status", status=503)
    failed(api.get("/workers/scripts/api/versions"), 503, 10013)
    bad = api.post("/workers/scripts/api/deployments", content=b"{nope")
    failed(bad, 400, 6007)


def test_rate_limit_is_429_with_retry_after_and_the_envelope(
    sim: CloudflareSimulator, api: httpx.Client
) -> None:
    sim.add_worker_version("api")
    sim.fail("rate_limit", retry_after=7)
    response = api.get("/workers/scripts/api/versions")
    failed(response, 429, 971)
    assert response.headers["retry-after"] == "7"
    ok(api.get("/workers/scripts/api/versions"))


def test_optional_five_minute_block_after_a_429(clock: FakeClock) -> None:
    sim = CloudflareSimulator(token="t", clock=clock, block_seconds=300)
    with sim:
        sim.add_worker_version("api")
        url = f"{sim.url}/client/v4/accounts/acc-demo/workers/scripts/api/versions"
        auth = {"Authorization": "Bearer t"}
        sim.fail("rate_limit", retry_after=1)
        assert httpx.get(url, headers=auth).headers["retry-after"] == "300"
        clock.advance(200)
        blocked = httpx.get(url, headers=auth)
        failed(blocked, 429, 971)
        assert blocked.headers["retry-after"] == "100"
        clock.advance(100)
        ok(httpx.get(url, headers=auth))


# -- Workers -------------------------------------------------------------------------------


def test_versions_and_deployments_are_listed_newest_first(
    sim: CloudflareSimulator, api: httpx.Client
) -> None:
    v1 = sim.add_worker_version("api", message="first", tag="v1")
    v2 = sim.add_worker_version("api", message="second")
    first = sim.deploy_worker("api", [(v1["id"], 100)])
    second = sim.deploy_worker("api", [(v1["id"], 90), (v2["id"], 10)], message="canary")
    items = ok(api.get("/workers/scripts/api/versions", params={"deployable": "true"}))["items"]
    assert [v["id"] for v in items] == [v2["id"], v1["id"]]
    assert items[1]["annotations"]["workers/tag"] == "v1"
    assert items[1]["number"] == 1 and items[0]["number"] == 2
    deployments = ok(api.get("/workers/scripts/api/deployments"))["deployments"]
    assert [d["id"] for d in deployments] == [second["id"], first["id"]]
    assert deployments[0]["created_on"] > deployments[1]["created_on"]
    assert deployments[0]["versions"] == [
        {"version_id": v1["id"], "percentage": 90},
        {"version_id": v2["id"], "percentage": 10},
    ]
    assert ok(api.get(f"/workers/scripts/api/deployments/{first['id']}")) == first
    assert ok(api.get(f"/workers/scripts/api/versions/{v2['id']}"))["id"] == v2["id"]


def test_rollback_deploys_an_older_version_at_100_percent(
    sim: CloudflareSimulator, api: httpx.Client, changes: list[Any]
) -> None:
    old = sim.add_worker_version("api")
    new = sim.add_worker_version("api")
    sim.deploy_worker("api", [(old["id"], 100)])
    sim.deploy_worker("api", [(new["id"], 100)])
    changes.clear()
    body = {
        "strategy": "percentage",
        "versions": [{"version_id": old["id"], "percentage": 100}],
        "annotations": {"workers/message": "Rollback", "workers/triggered_by": "rollback"},
    }
    created = ok(api.post("/workers/scripts/api/deployments", json=body))
    assert created["versions"] == [{"version_id": old["id"], "percentage": 100}]
    assert created["annotations"]["workers/message"] == "Rollback"
    assert created["strategy"] == "percentage"
    assert sim.serving_worker("api") == created
    assert changes == [("worker", "api", created)]
    listed = ok(api.get("/workers/scripts/api/deployments"))["deployments"]
    assert listed[0]["id"] == created["id"]


def test_changed_secrets_refuse_an_older_version_until_forced(
    sim: CloudflareSimulator, api: httpx.Client, changes: list[Any]
) -> None:
    old = sim.add_worker_version("api")
    sim.change_secret("api", "DB_URL")
    sim.change_secret("api", "API_KEY")
    current = sim.add_worker_version("api")
    serving = sim.deploy_worker("api", [(current["id"], 100)])
    changes.clear()
    body = {"strategy": "percentage", "versions": [{"version_id": old["id"], "percentage": 100}]}
    error = failed(api.post("/workers/scripts/api/deployments", json=body), 400, 10220)
    assert error["message"] == "The following secrets have changed: API_KEY, DB_URL"
    assert sim.serving_worker("api") == serving and changes == []
    forced = ok(api.post("/workers/scripts/api/deployments?force=true", json=body))
    assert sim.serving_worker("api") == forced
    assert changes == [("worker", "api", forced)]


@pytest.mark.parametrize(
    "split",
    [
        [],
        [("a", 40), ("b", 30), ("a", 30)],
        [("a", 50), ("b", 40)],
        [("a", 0.001), ("b", 99.999)],
        [("a", 101)],
        [("a", "100")],
        [("unknown", 100)],
        [("a", 50), ("a", 50)],
    ],
)
def test_invalid_deployments_are_refused(
    sim: CloudflareSimulator, api: httpx.Client, split: list[tuple[str, Any]]
) -> None:
    ids = {"a": sim.add_worker_version("api")["id"], "b": sim.add_worker_version("api")["id"]}
    serving = sim.deploy_worker("api", [(ids["a"], 100)])
    versions = [{"version_id": ids.get(v, v), "percentage": p} for v, p in split]
    body = {"strategy": "percentage", "versions": versions}
    failed(api.post("/workers/scripts/api/deployments", json=body), 400, 10021)
    assert sim.serving_worker("api") == serving


def test_a_valid_two_version_split_and_the_strategy_are_checked(
    sim: CloudflareSimulator, api: httpx.Client
) -> None:
    a, b = sim.add_worker_version("api")["id"], sim.add_worker_version("api")["id"]
    versions = [{"version_id": a, "percentage": 99.99}, {"version_id": b, "percentage": 0.01}]
    path = "/workers/scripts/api/deployments"
    failed(api.post(path, json={"strategy": "immediate", "versions": versions}), 400, 10021)
    ok(api.post(path, json={"strategy": "percentage", "versions": versions}))


def test_the_latest_deployment_cannot_be_deleted(
    sim: CloudflareSimulator, api: httpx.Client
) -> None:
    version = sim.add_worker_version("api")["id"]
    older = sim.deploy_worker("api", [(version, 100)])
    latest = sim.deploy_worker("api", [(version, 100)])
    failed(api.delete(f"/workers/scripts/api/deployments/{latest['id']}"), 400, 10222)
    assert ok(api.delete(f"/workers/scripts/api/deployments/{older['id']}")) is None
    failed(api.get(f"/workers/scripts/api/deployments/{older['id']}"), 404, 10025)
    assert sim.serving_worker("api") == latest


# -- Pages ---------------------------------------------------------------------------------


def test_pages_rollback_walks_the_stages_then_becomes_canonical(
    sim: CloudflareSimulator, api: httpx.Client, clock: FakeClock, changes: list[Any]
) -> None:
    good = sim.add_pages_deployment("site", commit_hash="aaa111")
    bad = sim.add_pages_deployment("site", commit_hash="bbb222")
    assert sim.canonical_pages("site")["id"] == bad["id"]  # type: ignore[index]
    changes.clear()
    started = ok(api.post(f"/pages/projects/site/deployments/{good['id']}/rollback"))
    assert started["id"] not in (good["id"], bad["id"])
    assert started["environment"] == "production"
    assert started["deployment_trigger"]["metadata"]["commit_hash"] == "aaa111"
    for i, name in enumerate(STAGES):
        clock.advance(STAGE / 2)  # halfway through stage i
        seen = ok(api.get(f"/pages/projects/site/deployments/{started['id']}"))
        assert seen["latest_stage"]["name"] == name
        assert seen["latest_stage"]["status"] == "active"
        assert seen["latest_stage"]["ended_on"] is None
        assert [s["status"] for s in seen["stages"]] == ["success"] * i + ["active"] + ["idle"] * (
            len(STAGES) - i - 1
        )
        project = ok(api.get("/pages/projects/site"))
        assert project["canonical_deployment"]["id"] == bad["id"]
        assert project["latest_deployment"]["id"] == started["id"]
        assert changes == []
        clock.advance(STAGE / 2)
    project = ok(api.get("/pages/projects/site"))
    assert project["canonical_deployment"]["id"] == started["id"]
    assert project["canonical_deployment"]["latest_stage"]["name"] == "deploy"
    assert project["canonical_deployment"]["latest_stage"]["status"] == "success"
    assert [c[:2] for c in changes] == [("pages", "site")]
    assert changes[0][2]["id"] == started["id"]
    assert sim.canonical_pages("site")["id"] == started["id"]  # type: ignore[index]


def test_pages_rollback_refuses_preview_and_failed_targets(
    sim: CloudflareSimulator, api: httpx.Client, changes: list[Any]
) -> None:
    preview = sim.add_pages_deployment("site", environment="preview", branch="feature")
    broken = sim.add_pages_deployment("site", status="failure")
    serving = sim.add_pages_deployment("site")
    running = sim.add_pages_deployment("site", status="active")
    assert broken["latest_stage"] | {"started_on": None, "ended_on": None} == {
        "name": "build",
        "status": "failure",
        "started_on": None,
        "ended_on": None,
    }
    changes.clear()
    for target in (preview, broken, running):
        response = api.post(f"/pages/projects/site/deployments/{target['id']}/rollback")
        failed(response, 400, 8000034)
    assert sim.canonical_pages("site")["id"] == serving["id"]  # type: ignore[index]
    assert changes == []


def test_pages_retry_of_a_failed_build_runs_again(
    sim: CloudflareSimulator, api: httpx.Client, clock: FakeClock
) -> None:
    serving = sim.add_pages_deployment("site")
    broken = sim.add_pages_deployment("site", status="failure", commit_hash="ccc333")
    retried = ok(api.post(f"/pages/projects/site/deployments/{broken['id']}/retry"))
    assert retried["latest_stage"]["name"] == "queued"
    assert retried["deployment_trigger"]["metadata"]["commit_hash"] == "ccc333"
    assert sim.canonical_pages("site")["id"] == serving["id"]  # type: ignore[index]
    clock.advance(len(STAGES) * STAGE)
    assert sim.canonical_pages("site")["id"] == retried["id"]  # type: ignore[index]


def test_pages_list_filters_by_environment_and_paginates(
    sim: CloudflareSimulator, api: httpx.Client
) -> None:
    production = [sim.add_pages_deployment("site")["id"] for _ in range(5)]
    preview = [sim.add_pages_deployment("site", environment="preview")["id"] for _ in range(2)]
    pages = []
    for page in (1, 2, 3):
        response = api.get(
            "/pages/projects/site/deployments",
            params={"env": "production", "page": page, "per_page": 2},
        )
        body = response.json()
        assert body["success"] is True
        assert body["result_info"] == {
            "page": page,
            "per_page": 2,
            "count": 1 if page == 3 else 2,
            "total_count": 5,
            "total_pages": 3,
        }
        pages += [d["id"] for d in body["result"]]
    assert pages == production[::-1]
    only_preview = ok(api.get("/pages/projects/site/deployments", params={"env": "preview"}))
    assert [d["id"] for d in only_preview] == preview[::-1]
    everything = ok(api.get("/pages/projects/site/deployments"))
    assert len(everything) == 7
    failed(api.get("/pages/projects/site/deployments", params={"env": "staging"}), 400, 8000000)
    failed(api.get("/pages/projects/site/deployments", params={"page": "0"}), 400, 8000000)
