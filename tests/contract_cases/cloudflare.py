"""Cloudflare Workers and Pages rollbacks, against CloudflareSimulator.

Pages stages take no time here (stage_seconds=0), so the contract's runs verify at once on the
wall clock; tests/test_cloudflare_provider.py walks the stages on a fake clock.
"""

from __future__ import annotations

from typing import Any

from cockpit.simulators.base import Simulator
from cockpit.simulators.cloudflare import CloudflareSimulator
from providers.base import ActionProvider
from providers.cloudflare import PagesProvider, WorkersProvider

from . import Case


def _workers() -> Simulator:
    sim = CloudflareSimulator(stage_seconds=0)
    good = sim.add_worker_version("api", message="good")
    bad = sim.add_worker_version("api", message="bad")
    sim.deploy_worker("api", [(good["id"], 100)])
    sim.deploy_worker("api", [(bad["id"], 100)])
    return sim


def _pages() -> Simulator:
    sim = CloudflareSimulator(stage_seconds=0)
    sim.add_pages_deployment("site", commit_hash="aaa1111")
    sim.add_pages_deployment("site", commit_hash="bbb2222")
    return sim


def _options(sim: Simulator, overrides: dict[str, Any], **name: str) -> dict[str, Any]:
    assert isinstance(sim, CloudflareSimulator)
    return {
        "base_url": f"{sim.url}/client/v4",
        "token": sim.token,
        "account_id": sim.account_id,
        "timeout_seconds": 1.0,
        "poll_seconds": 0.01,
        **name,
        **overrides,
    }


def _workers_provider(sim: Simulator, overrides: dict[str, Any]) -> ActionProvider:
    options = WorkersProvider.Options.model_validate(_options(sim, overrides, script="api"))
    return WorkersProvider(options)


def _pages_provider(sim: Simulator, overrides: dict[str, Any]) -> ActionProvider:
    options = PagesProvider.Options.model_validate(_options(sim, overrides, project="site"))
    return PagesProvider(options)


def _worker_rolled_back(sim: Simulator) -> bool:
    assert isinstance(sim, CloudflareSimulator)
    good = sim.workers["api"].versions[0]["id"]
    serving = sim.serving_worker("api") or {}
    return serving.get("versions") == [{"version_id": good, "percentage": 100}]


def _pages_rolled_back(sim: Simulator) -> bool:
    assert isinstance(sim, CloudflareSimulator)
    serving = sim.canonical_pages("site") or {}
    return bool(serving["deployment_trigger"]["metadata"]["commit_hash"] == "aaa1111")


CASES = [
    Case(
        "cloudflare_workers.rollback_deployment",
        _workers,
        _workers_provider,
        "rollback_deployment",
        {},
        _worker_rolled_back,
    ),
    Case(
        "cloudflare_pages.rollback_deployment",
        _pages,
        _pages_provider,
        "rollback_deployment",
        {},
        _pages_rolled_back,
    ),
]
