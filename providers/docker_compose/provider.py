"""The docker_compose ActionProvider: its options, what it reads, and the rollback it runs.

Reading (health, the services and their containers, the images to offer) goes through the
Engine client (engine.py); each look records the image each service runs (history.py). The plan
is plan.py's, the recreate recreate.py's (Compose's order), the verify verify.py's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from cockpit.core.actions import Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers.base import ActionProvider, Capability, Params, ProviderOptions
from providers.docker_compose.containers import (
    ONEOFF,
    PROJECT,
    SERVICE,
    candidate_line,
    describe_ref,
    number,
    repository,
    short,
)
from providers.docker_compose.engine import Engine, NotThere
from providers.docker_compose.history import ImageHistory
from providers.docker_compose.plan import ACTION_PARAMS, plan_rollback
from providers.docker_compose.recreate import Recreator
from providers.docker_compose.verify import verify_rollback


class ComposeOptions(ProviderOptions):
    """Which Docker Engine, which Compose project, and how long to wait for each step."""

    project: str
    base_url: str = "unix:///var/run/docker.sock"
    """unix:///path/docker.sock, tcp://host:2375 or ssh://user@host (the ssh client)."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    """For each Engine API call (a stop gets stop_timeout on top)."""
    stop_timeout: int = Field(default=10, ge=0)
    """Seconds the old container gets after SIGTERM before Docker kills it."""
    api_version: str = "1.41"
    """Sent as is, so the SDK does not ask the Engine first (1.41: Docker 20.10+, podman 4)."""
    verify_seconds: float = Field(default=60.0, gt=0)
    """How long verify waits for the new containers to run (and be healthy)."""
    settle_seconds: float = Field(default=5.0, ge=0)
    """How long each must keep running, not restarted, to count (a crash loop starts too)."""

    @field_validator("base_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = value.partition("://")[0] if "://" in value else ""
        if scheme not in ("unix", "tcp", "ssh"):
            hint = f" (unix://{value})" if value.startswith("/") else ""
            raise ValueError(f"base_url must be unix://, tcp:// or ssh://, not {value!r}{hint}")
        if scheme == "ssh" and not urlsplit(value).hostname:
            raise ValueError(f"an ssh:// base_url names a host: ssh://user@host, not {value!r}")
        return value

    @field_validator("project")
    @classmethod
    def _compose_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
            raise ValueError(
                f"{value!r} is not a Compose project name (lower-case letters, digits, - and _)"
            )
        return value

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.fullmatch(r"1\.\d+", value):
            raise ValueError(f"api_version is like '1.41', not {value!r}")
        return value


class ComposeProvider(ActionProvider):
    """Recreate a Compose service's containers on an earlier image."""

    name = "docker_compose"
    title = "Docker Compose (image rollback)"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = ComposeOptions
    actions: ClassVar[dict[str, str]] = {
        "image_rollback": "recreate a service's containers on an earlier image (image: id or "
        "digest; by default the one it ran before), as docker compose up would",
    }
    action_params: ClassVar[dict[str, Params]] = ACTION_PARAMS

    def __init__(self, options: ComposeOptions) -> None:
        super().__init__(options)
        self.opts = options
        self.engine = Engine(options.base_url, options.api_version, options.timeout_seconds)
        self.recreator = Recreator(self.engine, options.stop_timeout)
        self.state = ImageHistory(options.base_url, options.project)

    def close(self) -> None:
        self.engine.close()

    @property
    def api(self) -> Any:
        """docker.APIClient for base_url, made on first use (the SDK is imported then)."""
        return self.engine.api

    # Reading.

    def health(self) -> str:
        server, api_version = self.engine.ping()
        services = self.services()
        parts = []
        for service, replicas in sorted(services.items()):
            self.remember(service, replicas[0]["Image"], "seen")
            running = sum(1 for r in replicas if r["State"].get("Running"))
            parts.append(f"{service} {running}/{len(replicas)} on {short(replicas[0]['Image'])}")
        return (
            f"{server} (API {api_version}) at {self.opts.base_url}; project "
            f"{self.opts.project}: " + (", ".join(parts) or "no containers")
        )

    def services(self) -> dict[str, list[dict[str, Any]]]:
        """The project's services → their containers (inspected), by container number."""
        found: dict[str, list[dict[str, Any]]] = {}
        for container in self.engine.containers(
            [f"{PROJECT}={self.opts.project}", f"{ONEOFF}=False"]
        ):
            found.setdefault(container["Config"]["Labels"].get(SERVICE, "?"), []).append(container)
        for replicas in found.values():
            replicas.sort(key=number)
        return found

    def replicas(self, service: str) -> list[dict[str, Any]]:
        """The service's containers (inspected), by container number; refuses an unknown one."""
        found = self.engine.containers(
            [f"{PROJECT}={self.opts.project}", f"{SERVICE}={service}", f"{ONEOFF}=False"]
        )
        if found:
            return sorted(found, key=number)
        services = sorted(self.services())
        if services:
            raise ProviderError(
                f"no service {service!r} in compose project {self.opts.project} at "
                f"{self.opts.base_url} (it has: {', '.join(services)})"
            )
        projects = sorted(
            {
                c["Labels"].get(PROJECT, "")
                for c in self.engine.call(
                    "list containers",
                    lambda: self.engine.api.containers(all=True, filters={"label": PROJECT}),
                )
            }
            - {""}
        )
        raise ProviderError(
            f"no containers of compose project {self.opts.project!r} at {self.opts.base_url} "
            f"(projects there: {', '.join(projects) or 'none'})"
        )

    def candidates(self, replicas: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Local images of the service's repositories, newest first, the running ones left out."""
        running = {r["Image"] for r in replicas}
        repos: set[str] = set()
        for replica in replicas:
            repos.add(repository(replica["Config"].get("Image") or ""))
            try:
                current = self.engine.image(replica["Image"])
            except NotThere:
                continue
            repos.update(repository(ref) for ref in current.get("RepoTags") or [])
            repos.update(repository(ref) for ref in current.get("RepoDigests") or [])
        seen: dict[str, dict[str, Any]] = {}
        for repo in sorted(repos - {""}):
            for summary in self.engine.call(
                f"list images of {repo}", partial(self.engine.api.images, name=repo)
            ):
                if summary["Id"] not in running:
                    seen[summary["Id"]] = summary
        return sorted(seen.values(), key=lambda s: (-int(s.get("Created") or 0), s["Id"]))

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if param == "service":
            return [
                (service, f"{len(replicas)} container(s) on {describe_ref(replicas[0])}")
                for service, replicas in sorted(self.services().items())
            ]
        if param != "image" or not params.get("service"):
            return []
        service = str(params["service"])
        replicas = self.replicas(service)
        offered = [(s["Id"], candidate_line(s)) for s in self.candidates(replicas)]
        previous = self.previous(service, replicas[0]["Image"])
        if previous:
            offered.sort(key=lambda pair: pair[0] != previous["image"])
        return offered

    # The action.

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        return plan_rollback(self, action, params)

    def execute(self, plan: Plan, report: Report) -> Executed:
        service, target = plan.data["service"], plan.data["image"]
        replicas = plan.data["replicas"]
        done: list[dict[str, str]] = []
        for index, replica in enumerate(replicas):
            try:
                new = self.recreator.recreate(replica, target, report, index, len(replicas))
            except ProviderError as error:
                if done:
                    names = ", ".join(d["name"] for d in done)
                    error.args = (f"{error}; already on {short(target)}: {names}",)
                    self.remember(service, target, "partly rolled back")
                raise
            done.append({"id": new, "name": replica["name"]})
        self.remember(service, target, "rolled back")
        names = ", ".join(d["name"] for d in done)
        return Executed(
            f"{service}: {names} recreated on {plan.data['image_text']}",
            {"image": target, "containers": done},
        )

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        return verify_rollback(self, plan, executed, report)

    # The images each service ran, as this cockpit saw them (history.py).

    def history(self, service: str) -> list[dict[str, str]]:
        """What the cockpit recorded for the service, oldest first: image, ref, at, why."""
        return self.state.entries(service)

    def remember(self, service: str, image_id: str, why: str) -> None:
        """Record the image the service runs (when it differs from the last one recorded)."""
        self.state.remember(service, image_id, why, self._tags)

    def previous(self, service: str, current: str) -> dict[str, str] | None:
        """The last recorded image of the service that is not the one it runs now."""
        return self.state.previous(service, current)

    def image(self, ref: str) -> dict[str, Any]:
        """The image's inspect data (by id, id prefix, digest or tag); NotThere if missing."""
        return self.engine.image(ref)

    def _tags(self, image_id: str) -> str:
        try:
            return ", ".join(self.engine.image(image_id).get("RepoTags") or [])
        except ProviderError:
            return ""
