"""A drill on a machine where `make demo` installed only the demo's packages: a platform whose
Python client is absent is named as not simulated, and its options are done by hand, rather
than the drill failing to start (issue 17: the demo installs only what it needs)."""

from __future__ import annotations

import importlib.util

import pytest

from cockpit.core.clock import FixedClock
from cockpit.demo.platforms import start_platforms
from cockpit.demo.scenario import Scenario


def test_a_platform_without_its_client_package_is_named_not_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name in ("kubernetes", "psycopg") else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    scenario = Scenario(FixedClock(), bad_deploy_at=30.0, ramp_seconds=4.0)
    started = start_platforms(scenario, procedure="ai-saas", only={"kubernetes", "postgres"})
    try:
        assert "kubernetes" not in started.providers and "postgres" not in started.providers
        assert "kubernetes (no Python package 'kubernetes': make venv)" in started.missing
        assert "postgres (no Python package 'psycopg': make venv)" in started.missing
        assert "not simulated: kubernetes (no Python package" in started.describe()
    finally:
        started.stop()
