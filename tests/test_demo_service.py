"""The demo's scenario and its HTTP service, over real HTTP on 127.0.0.1 with a fixed clock."""

from __future__ import annotations

import math
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cockpit.core.clock import FixedClock
from cockpit.demo.scenario import BAD_VERSION, GOOD_VERSION, Scenario
from cockpit.demo.service import BUCKETS, DemoService, lognormal_cdf

# -- the scenario, pure --------------------------------------------------------------------------


def test_scenario_timeline_is_a_function_of_the_clock() -> None:
    clock = FixedClock()
    scenario = Scenario(clock)
    assert scenario.version() == GOOD_VERSION
    assert scenario.error_ratio() == pytest.approx(0.004)
    assert scenario.p95_seconds() == pytest.approx(0.180)
    assert scenario.db_failures_per_minute() == 0
    assert scenario.critical_reports_1h() == 0
    clock.advance(15)
    assert scenario.version() == BAD_VERSION
    assert scenario.badness() == 0
    clock.advance(5)
    assert scenario.badness() == pytest.approx(0.5)
    clock.advance(5)
    assert scenario.error_ratio() == pytest.approx(0.09)
    assert scenario.p95_seconds() == pytest.approx(0.650)
    assert scenario.db_failures_per_minute() == pytest.approx(4.0)
    assert scenario.auth_up()
    clock.advance(15)
    assert scenario.critical_reports_1h() == 6  # the seeds' "> 10 in 1 hour" is not crossed
    clock.advance(60)
    assert scenario.critical_reports_1h() == 0  # an hour later they have all rolled off


def test_health_fails_four_of_every_five_after_the_ramp() -> None:
    clock = FixedClock()
    scenario = Scenario(clock)
    assert all(scenario.health_probe().ok for _ in range(20))
    clock.advance(25)
    results = [scenario.health_probe().ok for _ in range(20)]
    for start in range(16):
        assert results[start : start + 5].count(False) == 4


def test_rollback_restores_good_version_and_recovers() -> None:
    clock = FixedClock()
    scenario = Scenario(clock)
    clock.advance(30)
    assert scenario.rollback() == GOOD_VERSION
    assert scenario.version() == GOOD_VERSION
    assert scenario.badness() == pytest.approx(1.0)
    clock.advance(2.5)
    assert 0 < scenario.badness() < 1
    clock.advance(2.5)
    assert scenario.badness() == 0
    assert scenario.error_ratio() == pytest.approx(0.004)
    assert all(scenario.health_probe().ok for _ in range(10))
    reports = scenario.critical_reports_1h()
    clock.advance(30)
    assert scenario.critical_reports_1h() == reports  # no new reports after the rollback


def test_rollback_before_the_deploy_cancels_it() -> None:
    clock = FixedClock()
    scenario = Scenario(clock)
    clock.advance(5)
    scenario.rollback()
    clock.advance(30)
    assert scenario.version() == GOOD_VERSION
    assert scenario.badness() == 0
    assert scenario.critical_reports_1h() == 0


def test_bucket_fractions_follow_the_p95() -> None:
    p95 = 0.180
    # The log-normal's 95th percentile is where its CDF reaches 0.95.
    lo, hi = 0.0, 5.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if lognormal_cdf(mid, p95) < 0.95 else (lo, mid)
    assert lo == pytest.approx(p95, rel=1e-6)
    fractions = [lognormal_cdf(le, p95) for le in BUCKETS]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0


# -- the service over HTTP -----------------------------------------------------------------------


@pytest.fixture
def client(service: DemoService) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.base_url, timeout=2.0) as http:
        yield http


def _families(text: str) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    found: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for family in text_string_to_metric_families(text):
        found[family.name] = {
            (s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples
        }
    return found


def test_binds_to_loopback_on_an_ephemeral_port(service: DemoService) -> None:
    assert service.base_url.startswith("http://127.0.0.1:")
    assert not service.base_url.endswith(":0")
    with pytest.raises(ValueError):
        DemoService(service.scenario, host="0.0.0.0")


def test_metrics_parse_with_prometheus_client(client: httpx.Client, clock: FixedClock) -> None:
    clock.advance(10)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = _families(response.text)
    assert {
        "http_requests",
        "http_request_duration_seconds",
        "db_connection_failures",
        "auth_check_up",
        "support_critical_reports_1h",
        "app_version_info",
    } <= families.keys()
    requests = families["http_requests"]
    ok = requests[("http_requests_total", (("status", "200"),))]
    errors = requests[("http_requests_total", (("status", "500"),))]
    assert ok + errors == pytest.approx(2000.0)  # 200 virtual requests per second
    histogram = families["http_request_duration_seconds"]
    bounds = {
        labels[0][1]: value
        for (name, labels), value in histogram.items()
        if name.endswith("_bucket")
    }
    assert list(bounds) == [
        *("0.05", "0.1", "0.2", "0.3", "0.5", "0.75", "1.0", "2.5", "5.0", "10.0", "30.0", "+Inf")
    ]
    assert bounds["+Inf"] == pytest.approx(2000.0)
    assert histogram[("http_request_duration_seconds_count", ())] == bounds["+Inf"]
    assert families["app_version_info"] == {("app_version_info", (("version", "1.2.3"),)): 1.0}


def test_counter_deltas_carry_the_error_ratio(client: httpx.Client, clock: FixedClock) -> None:
    def totals() -> tuple[float, float]:
        requests = _families(client.get("/metrics").text)["http_requests"]
        errors = requests[("http_requests_total", (("status", "500"),))]
        return errors, errors + requests[("http_requests_total", (("status", "200"),))]

    clock.advance(5)
    e0, r0 = totals()
    clock.advance(1)
    e1, r1 = totals()
    assert (e1 - e0) / (r1 - r0) == pytest.approx(0.004)
    clock.advance(30)
    e2, r2 = totals()
    clock.advance(1)
    e3, r3 = totals()
    assert (e3 - e2) / (r3 - r2) == pytest.approx(0.09)
    assert not math.isclose(e3, e2)


def test_health_and_version_follow_the_deploy(client: httpx.Client, clock: FixedClock) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "connected", "redis": "connected"}
    assert client.get("/version").json()["version"] == "1.2.3"
    clock.advance(26)
    version = client.get("/version").json()
    assert version["version"] == "1.2.4"
    assert version["deployed_at"] == "2026-01-15T03:12:15.000Z"
    statuses = [client.get("/health").status_code for _ in range(5)]
    assert statuses.count(503) == 4
    failing = next(r for r in (client.get("/health") for _ in range(5)) if r.status_code == 503)
    assert failing.json()["status"] == "error"


def test_admin_rollback(client: httpx.Client, clock: FixedClock) -> None:
    clock.advance(30)
    response = client.post("/admin/rollback")
    assert response.status_code == 200
    assert response.json()["version"] == "1.2.3"
    assert client.get("/version").json()["version"] == "1.2.3"
    clock.advance(6)
    assert all(client.get("/health").status_code == 200 for _ in range(5))


def test_unknown_paths_are_json_404(client: httpx.Client) -> None:
    for response in (client.get("/nope"), client.post("/metrics")):
        assert response.status_code == 404
        assert response.json()["error"] == "not found"


def test_stop_is_quick_and_idempotent(scenario: Scenario) -> None:
    service = DemoService(scenario)
    url = service.start()
    assert httpx.get(f"{url}/version", timeout=2.0).status_code == 200
    service.stop()
    service.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/version", timeout=2.0)
