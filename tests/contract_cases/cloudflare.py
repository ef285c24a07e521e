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
from providers.cloudflare_state import WorkerState

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


# -- secrets and vars (providers/cloudflare_settings.py) -----------------------------------

_OLD_VARS = [{"type": "plain_text", "name": "MODE", "text": "stable"}]


def _workers_settings() -> Simulator:
    sim = _workers()
    assert isinstance(sim, CloudflareSimulator)
    sim.set_secret("api", "API_KEY", "leaked-one")
    sim.set_vars("api", {"MODE": "broken", "EXTRA": "1"})
    return sim


def _secrets_provider(sim: Simulator, overrides: dict[str, Any]) -> ActionProvider:
    options = _options(sim, overrides, script="api") | {"secrets": {"API_KEY": "the-good-one"}}
    return WorkersProvider(WorkersProvider.Options.model_validate(options))


def _vars_provider(sim: Simulator, overrides: dict[str, Any]) -> ActionProvider:
    provider = _workers_provider(sim, overrides)
    assert isinstance(provider, WorkersProvider)
    # What the cockpit saw before the vars broke (it records each set it sees).
    state = WorkerState(provider.opts.base_url, provider.opts.account_id, "api")
    state.remember_vars(_OLD_VARS, "seen before the incident")
    return provider


def _secret_put_back(sim: Simulator) -> bool:
    assert isinstance(sim, CloudflareSimulator)
    return sim.secret_value("api", "API_KEY") == "the-good-one"


def _vars_put_back(sim: Simulator) -> bool:
    assert isinstance(sim, CloudflareSimulator)
    return sim.var_values("api") == {"MODE": "stable"}


CASES += [
    Case(
        "cloudflare_workers.restore_secrets",
        _workers_settings,
        _secrets_provider,
        "restore_secrets",
        {},
        _secret_put_back,
    ),
    Case(
        "cloudflare_workers.restore_vars",
        _workers_settings,
        _vars_provider,
        "restore_vars",
        {},
        _vars_put_back,
    ),
]
