"""The Docker Compose provider against real containers: a private podman serving the Docker API.

Each case gets its own compose project on the test process's podman (tests/podman.py): web
first runs localhost/mini:1 and the cockpit looks at it, then a `docker compose up` after a tag
bump moves it to localhost/mini:2 (a bad deploy). The rollback names no image, so it must find
mini:1 in what the cockpit recorded. Skipped, with the reason, where podman cannot run.
"""

from __future__ import annotations

import itertools
from types import TracebackType
from typing import Any

import podman

from providers.base import ActionProvider
from providers.docker_compose import ComposeOptions, ComposeProvider

from . import Case

_projects = itertools.count(1)


class ComposeSetup:
    """A compose project `contract<n>` whose web service went from mini:1 to mini:2."""

    def __init__(self) -> None:
        self.project = f"contract{next(_projects)}"

    def __enter__(self) -> ComposeSetup:
        self.podman = podman.shared()
        self.podman.service(self.project, "web", "1", start=False)
        seen = self.provider()
        seen.health()  # the cockpit saw web on mini:1 …
        seen.close()
        self.podman.deploy(self.project, "web", "2")  # … before the bad deploy
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.podman.remove_project(self.project)

    def provider(self, **overrides: Any) -> ComposeProvider:
        options = ComposeOptions.model_validate(
            {
                "base_url": self.podman.base_url,
                "project": self.project,
                "timeout_seconds": 10.0,
                "stop_timeout": 2,
                "verify_seconds": 15.0,
                "settle_seconds": 0.5,
                **overrides,
            }
        )
        return ComposeProvider(options)

    def web(self) -> list[Any]:
        return self.podman.containers(self.project, "web")


def _provider(setup: Any, overrides: dict[str, Any]) -> ActionProvider:
    assert isinstance(setup, ComposeSetup)
    return setup.provider(**overrides)


def _on_mini_1(setup: Any) -> bool:
    web = setup.web()
    return (
        len(web) == 1
        and web[0].attrs["Image"] == setup.podman.images["1"]
        and web[0].status == "running"
    )


CASES = [
    Case(
        "docker_compose.image_rollback",
        ComposeSetup,
        _provider,
        "image_rollback",
        {"service": "web"},
        _on_mini_1,
        http=False,
    ),
]
