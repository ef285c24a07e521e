"""Providers prepare their first action in a worker once the cockpit has them (a library's
import, 0.4 s for Kubernetes' client, is then not paid on the responder's first key)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from cockpit.app import CockpitApp
from cockpit.core.actions import Executed, Plan, Report, Verified
from cockpit.core.clock import FixedClock
from cockpit.core.procedure_loader import load_builtin
from cockpit.core.timeline import Timeline
from providers.base import ActionProvider, ProviderOptions

pytestmark = pytest.mark.timeout(30)


class Warming(ActionProvider):
    name = "warming"
    title = "Warms up"
    Options = ProviderOptions
    actions: ClassVar[dict[str, str]] = {"noop": "nothing"}

    def __init__(self) -> None:
        super().__init__(ProviderOptions())
        self.warmed = threading.Event()
        self.on: str | None = None

    def warm(self) -> None:
        self.on = threading.current_thread().name
        self.warmed.set()

    def health(self) -> str:
        return "ok"

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        raise NotImplementedError

    def execute(self, plan: Plan, report: Report) -> Executed:
        raise NotImplementedError

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        raise NotImplementedError


async def test_configured_providers_are_warmed_off_the_ui_thread(timeline: Timeline) -> None:
    from cockpit.session import Session

    provider = Warming()
    incident = timeline.open_incident("x", "P1", "pulse-messages")
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=load_builtin("pulse-messages"),
        actions={"warming": provider},
        clock=FixedClock(datetime(2026, 1, 15, 3, 12, tzinfo=UTC)),
    )
    app = CockpitApp(session, start_pollers=False)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(200):
            if provider.warmed.is_set():
                break
            await pilot.pause(0.01)
        assert provider.warmed.is_set(), "warmed once the cockpit had it"
        assert provider.on != threading.main_thread().name, "in a worker, not the UI thread"


WARM = """
import sys
from providers.kubernetes.provider import KubernetesProvider
options = KubernetesProvider.Options.model_validate(
    {"host": "http://127.0.0.1:9", "token": "t", "namespace": "default"}
)
provider = KubernetesProvider(options)
before = "kubernetes.client.api.apps_v1_api" in sys.modules
provider.warm()  # no connection is made: port 9 is never asked
print(before, "kubernetes.client.api.apps_v1_api" in sys.modules)
"""


def test_the_kubernetes_provider_warms_its_client_library() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", WARM], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "True"], "not loaded until warmed, then loaded"
