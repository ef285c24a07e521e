"""Shared fixtures: the developer's own config and data never leak into tests; clocks are fixed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.core.clock import FixedClock
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from cockpit.demo.scenario import Scenario
from cockpit.demo.service import DemoService

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the machine running the tests out of them (its cockpit.toml, its timeline)."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("COCKPIT_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("COCKPIT_CONFIG", str(home / "cockpit.toml"))
    monkeypatch.delenv("COCKPIT_DB", raising=False)
    monkeypatch.delenv("SSH_CONNECTION", raising=False)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def scenario(clock: FixedClock) -> Scenario:
    """The demo's bad-deploy script on the fixed clock."""
    return Scenario(clock)


@pytest.fixture
def service(scenario: Scenario) -> Iterator[DemoService]:
    """The simulated production, serving on 127.0.0.1 for the test."""
    with DemoService(scenario) as running:
        yield running


@pytest.fixture
def timeline(tmp_path: Path, clock: FixedClock) -> Iterator[Timeline]:
    with Timeline(tmp_path / "timeline.db", clock=clock) as opened:
        yield opened


@pytest.fixture
def pulse_procedure():  # type: ignore[no-untyped-def]
    return load_builtin("pulse-messages")


@pytest.fixture(autouse=True)
def forget_configured_secrets() -> Iterator[None]:
    """Secrets a test configures (provider tokens) are removed literally from every text while
    it runs; the next test starts without them, as a new process would."""
    from cockpit.core.redact import forget_secrets

    yield
    forget_secrets()
