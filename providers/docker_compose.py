"""Roll a Docker Compose service back to an earlier image, the way Compose itself recreates one.

The runbooks do it by hand on the server, or over SSH, in 3–5 minutes: stop web, find the
previous image in `docker images`, edit the tag in the compose file, pull, `docker compose up -d
web`. This provider talks to the same Docker Engine (unix://, tcp:// or ssh://) and replays what
`docker compose up` does to recreate a container: create the new one beside the old under a
temporary name (same config, labels, networks and volumes, the older image), stop the old,
remove it, rename the new one and start it. The new container is never started while the old
one still runs, and a stop that fails leaves the old container alone and the new one removed.

The target is always an image id, never a tag that may have moved since: by default the image
the service ran before, which the cockpit records in a small state file per project and Docker
host each time it looks (the Engine keeps no history); otherwise the responder names one by id
or digest, or by a version tag that the plan resolves and pins. Without either, preflight
refuses and lists the repository's local images by id, digest and creation time.

Compose is not told: the next `docker compose up` would recreate the service from the compose
file again. The plan says so and gives the `image:` line to pin there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from cockpit.core.actions import Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from cockpit.core.paths import data_dir, ensure_private_dir
from providers.base import ActionProvider, Capability, Param, Params, ProviderOptions

T = TypeVar("T")

LABEL = "com.docker.compose"
PROJECT = f"{LABEL}.project"
SERVICE = f"{LABEL}.service"
NUMBER = f"{LABEL}.container-number"
ONEOFF = f"{LABEL}.oneoff"
IMAGE = f"{LABEL}.image"
REPLACE = f"{LABEL}.replace"
WORKING_DIR = f"{LABEL}.project.working_dir"
CONFIG_FILES = f"{LABEL}.project.config_files"

ACTION_PARAMS: dict[str, Params] = {
    "image_rollback": {
        "service": Param("the Compose service to recreate", required=True),
        "image": Param("the image to run: id, digest or repository (default: the one before)"),
        "tag": Param("the tag of `image` (a repository) to run"),
        "project_dir": Param("the project's folder, for the plan's CLI line"),
        "compose_file": Param("the compose files, for the plan's CLI line and warning"),
    }
}
PARAMS = set(ACTION_PARAMS["image_rollback"])
HISTORY = 20
"""Images remembered per service."""
IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{12,64}")


class NotThere(ProviderError):
    """Docker answered 404: no such container or image."""


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
        self._api: Any = None

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    # Reading.

    def health(self) -> str:
        server, api_version = self.ping()
        services = self.services()
        parts = []
        for service, replicas in sorted(services.items()):
            self._remember(service, replicas[0]["Image"], "seen")
            running = sum(1 for r in replicas if r["State"].get("Running"))
            parts.append(f"{service} {running}/{len(replicas)} on {short(replicas[0]['Image'])}")
        return (
            f"{server} (API {api_version}) at {self.opts.base_url}; project "
            f"{self.opts.project}: " + (", ".join(parts) or "no containers")
        )

    def ping(self) -> tuple[str, str]:
        """GET /_ping: the Engine's Server and Api-Version headers (/version is slow on podman)."""
        answer = self._call(
            "ping the Engine",
            lambda: self.api.get(f"{self.api.base_url}/_ping", timeout=self.opts.timeout_seconds),
        )
        if answer.status_code != 200:
            raise ProviderUnavailable(
                f"ping the Engine: Docker at {self.opts.base_url} answered {answer.status_code}: "
                f"{answer.text[:200]}"
            )
        server = str(answer.headers.get("Server") or "Docker Engine").removesuffix(" (linux)")
        return server, str(answer.headers.get("Api-Version") or "?")

    def services(self) -> dict[str, list[dict[str, Any]]]:
        """The project's services → their containers (inspected), by container number."""
        found: dict[str, list[dict[str, Any]]] = {}
        for container in self._containers([f"{PROJECT}={self.opts.project}", f"{ONEOFF}=False"]):
            found.setdefault(container["Config"]["Labels"].get(SERVICE, "?"), []).append(container)
        for replicas in found.values():
            replicas.sort(key=number)
        return found

    def replicas(self, service: str) -> list[dict[str, Any]]:
        """The service's containers (inspected), by container number; refuses an unknown one."""
        found = self._containers(
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
                for c in self._call(
                    "list containers",
                    lambda: self.api.containers(all=True, filters={"label": PROJECT}),
                )
            }
            - {""}
        )
        raise ProviderError(
            f"no containers of compose project {self.opts.project!r} at {self.opts.base_url} "
            f"(projects there: {', '.join(projects) or 'none'})"
        )

    def image(self, ref: str) -> dict[str, Any]:
        """The image's inspect data (by id, id prefix, digest or tag); NotThere if missing."""
        found: dict[str, Any] = self._call(
            f"inspect image {ref}", lambda: self.api.inspect_image(ref)
        )
        return found

    def candidates(self, replicas: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Local images of the service's repositories, newest first, the running ones left out."""
        running = {r["Image"] for r in replicas}
        repos: set[str] = set()
        for replica in replicas:
            repos.add(repository(replica["Config"].get("Image") or ""))
            try:
                current = self.image(replica["Image"])
            except NotThere:
                continue
            repos.update(repository(ref) for ref in current.get("RepoTags") or [])
            repos.update(repository(ref) for ref in current.get("RepoDigests") or [])
        seen: dict[str, dict[str, Any]] = {}
        for repo in sorted(repos - {""}):
            for summary in self._call(
                f"list images of {repo}", partial(self.api.images, name=repo)
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
        previous = self._previous(service, replicas[0]["Image"])
        if previous:
            offered.sort(key=lambda pair: pair[0] != previous["image"])
        return offered

    # The action.

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        service = str(params.get("service") or "").strip()
        if not service:
            services = ", ".join(sorted(self.services())) or "none"
            raise ProviderError(
                f"image_rollback needs service: <name> (this project has: {services})"
            )
        replicas = self.replicas(service)
        current = replicas[0]["Image"]
        self._remember(service, current, "seen")
        target, notes = self._target(service, params, replicas)
        old = [r for r in replicas if r["Image"] != target["Id"]]
        if not old:
            raise ProviderError(
                f"{service} already runs {describe(target)}; there is nothing to roll back"
            )
        undo_image = old[0]["Image"]
        labels = replicas[0]["Config"]["Labels"]
        pin = pinned(target, replicas[0])
        warnings = [
            f"Compose is not told: the next `docker compose up` recreates {service} from the "
            f"compose file and undoes this rollback, unless its image line for {service} "
            f"changes to `image: {pin}`"
            + (f" (in {compose_files(params, labels)})" if compose_files(params, labels) else ""),
            *notes,
        ]
        if any(r["Image"] != undo_image for r in replicas):
            mixed = ", ".join(f"{name_of(r)} on {short(r['Image'])}" for r in replicas)
            warnings.append(
                f"the replicas do not all run one image ({mixed}); undo names {short(undo_image)}"
            )
        stopped = [name_of(r) for r in old if not r["State"].get("Running")]
        if stopped:
            warnings.append(f"not running now, started by the rollback: {', '.join(stopped)}")
        ignored = sorted(set(params) - PARAMS)
        if ignored:
            warnings.append(f"ignored (not a docker_compose parameter): {', '.join(ignored)}")
        if len({r["Image"] for r in old}) == 1:
            changes = [f"{service}: image {self._described(undo_image)} → {describe(target)}"]
        else:
            changes = [
                f"{name_of(r)}: image {self._described(r['Image'])} → {describe(target)}"
                for r in old
            ]
        changes.append(
            f"{', '.join(name_of(r) for r in old)} recreated: new container id, same name, "
            "config, labels, networks and volumes"
        )
        calls = []
        for replica in old:
            calls += self._calls(replica, target["Id"])
        healthcheck = any(health_of(r) for r in old)
        steps = 4 + len(old) * 6
        return Plan(
            provider=self.name,
            action=action,
            target=service,
            title=f"Roll {service} back to {describe(target)}",
            calls=calls,
            changes=changes,
            cli=self._cli(service, pin, params, labels),
            destructive=True,
            timeout_seconds=len(old) * self.opts.stop_timeout
            + steps * self.opts.timeout_seconds
            + self.opts.verify_seconds,
            verify=(
                f"each {service} container runs {short(target['Id'])}"
                + (" and is healthy" if healthcheck else "")
                + f" and keeps running {self.opts.settle_seconds:g} s, within "
                f"{self.opts.verify_seconds:g} s; no other {service} container runs"
            ),
            undo={"action": "image_rollback", "params": {"service": service, "image": undo_image}},
            data={
                "service": service,
                "image": target["Id"],
                "image_text": describe(target),
                "previous": undo_image,
                "replicas": [{"id": r["Id"], "name": name_of(r), "image": r["Image"]} for r in old],
            },
            warnings=warnings,
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        service, target = plan.data["service"], plan.data["image"]
        replicas = plan.data["replicas"]
        done: list[dict[str, str]] = []
        for index, replica in enumerate(replicas):
            try:
                new = self._recreate(replica, target, report, index, len(replicas))
            except ProviderError as error:
                if done:
                    names = ", ".join(d["name"] for d in done)
                    error.args = (f"{error}; already on {short(target)}: {names}",)
                    self._remember(service, target, "partly rolled back")
                raise
            done.append({"id": new, "name": replica["name"]})
        self._remember(service, target, "rolled back")
        names = ", ".join(d["name"] for d in done)
        return Executed(
            f"{service}: {names} recreated on {plan.data['image_text']}",
            {"image": target, "containers": done},
        )

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        service, target = plan.data["service"], executed.data["image"]
        names = [c["name"] for c in executed.data["containers"]]
        others_ok = set(names) | {r["name"] for r in plan.data["replicas"]}
        settle = self.opts.settle_seconds
        until = report.monotonic() + self.opts.verify_seconds
        steady: dict[str, tuple[float, str]] = {}  # name → (first seen ok, which start)
        while True:
            now, states = report.monotonic(), []
            for name in names:
                verdict, text, run = self._state(name, target)
                if verdict == "ok":  # ok only once it has kept running, unrestarted, a while
                    first, seen = steady.setdefault(name, (now, run))
                    if seen != run:
                        steady[name] = (now, run)
                        verdict, text = "waiting", f"{name} restarted"
                    elif now - first < settle:
                        verdict, text = "waiting", f"{text}, for {settle:g} s?"
                    else:
                        text = f"{text}, up {now - first:.0f} s"
                states.append((verdict, text))
            failed = [text for verdict, text in states if verdict == "failed"]
            waiting = [text for verdict, text in states if verdict == "waiting"]
            others = self._others(service, target, others_ok)
            if failed or others:
                return Verified(False, "; ".join(failed + others))
            if not waiting:
                return Verified(True, "; ".join(text for _, text in states))
            if now >= until:
                return Verified(
                    False, f"after {self.opts.verify_seconds:g} s: " + "; ".join(waiting)
                )
            report.log("waiting: " + "; ".join(waiting))
            report.sleep(min(1.0, max(0.2, settle / 2)))

    # Preflight helpers.

    def _target(
        self, service: str, params: Mapping[str, Any], replicas: list[dict[str, Any]]
    ) -> tuple[dict[str, Any], list[str]]:
        """The image to roll back to (inspected) and what the plan should say about it."""
        ref = str(params.get("image") or "").strip()
        tag = str(params.get("tag") or "").strip()
        if tag:
            if not ref:
                raise ProviderError("tag needs image: <repository> beside it")
            ref = f"{repository(ref)}:{tag}"
        if not ref:
            previous = self._previous(service, replicas[0]["Image"])
            if previous is None:
                raise ProviderError(
                    f"no previous image recorded for {service}: the cockpit has not seen it on "
                    f"another image than {short(replicas[0]['Image'])} (it records the image each "
                    "time it looks, at health and plan, and after each rollback). Name one with "
                    "image: <id or digest>. " + self._listing(replicas)
                )
            try:
                found = self.image(previous["image"])
            except NotThere:
                raise ProviderError(
                    f"the previous image of {service}, {short(previous['image'])} "
                    f"({previous.get('ref') or 'no tag'}, recorded {previous.get('at', '?')}), is "
                    "no longer on this Docker host (pruned?): pull it by digest or name another. "
                    + self._listing(replicas)
                ) from None
            return found, [
                f"{short(found['Id'])} is the image {service} ran before "
                f"(recorded {previous.get('at', '?')})"
            ]
        is_id = IMAGE_ID.fullmatch(ref) is not None
        if not is_id and "@" not in ref:
            name, _, version = ref.rpartition(":")
            if not name or "/" in version:
                version = "latest"
            if version == "latest":
                raise ProviderError(
                    f"{ref} is a moving tag ({version}); name the image by id or digest "
                    f"(image: sha256:… or repo@sha256:…). " + self._listing(replicas)
                )
        try:
            found = self.image(ref)
        except NotThere:
            raise ProviderError(
                f"no image {ref} on this Docker host (the rollback does not pull). "
                + self._listing(replicas)
            ) from None
        notes = []
        if not is_id and "@" not in ref:
            notes.append(
                f"the tag {ref} is {short(found['Id'])} now; the rollback uses that id even if "
                "the tag moves"
            )
        return found, notes

    def _listing(self, replicas: list[dict[str, Any]]) -> str:
        found = self.candidates(replicas)
        if not found:
            return "There are no other local images of its repository."
        lines = "\n".join(f"  {candidate_line(s)}" for s in found[:10])
        more = f"\n  … and {len(found) - 10} more" if len(found) > 10 else ""
        return f"Local images of its repository, newest first:\n{lines}{more}"

    def _described(self, image_id: str) -> str:
        try:
            return describe(self.image(image_id))
        except NotThere:
            return f"{short(image_id)} (gone)"

    def _calls(self, replica: dict[str, Any], target: str) -> list[Call]:
        old, name = replica["Id"][:12], name_of(replica)
        temporary = f"{old}_{name}"
        api = self._url("/containers")
        return [
            Call(
                "POST",
                f"{api}/create?name={temporary}",
                {"Image": target, "copied from": f"{name}: config, labels, networks, volumes"},
            ),
            Call("POST", f"{api}/{old}/stop?t={self.opts.stop_timeout}"),
            Call("DELETE", f"{api}/{old}"),
            Call("POST", f"{api}/{temporary}/rename?name={name}"),
            Call("POST", f"{api}/{name}/start"),
            Call("GET", f"{api}/{name}/json"),
        ]

    def _cli(
        self, service: str, pin: str, params: Mapping[str, Any], labels: dict[str, str]
    ) -> str:
        """`docker compose up` for this one service, with an override file pinning the image."""
        where = str(params.get("project_dir") or labels.get(WORKING_DIR) or "")
        files = compose_files(params, labels)
        override = f"printf 'services:\\n  {service}:\\n    image: %s\\n' {shlex.quote(pin)}"
        words = ["docker", "compose", "-p", shlex.quote(self.opts.project)]
        words += [f"-f {shlex.quote(f)}" for f in files.split(",") if f]
        if files:  # with one -f Compose reads no default file, so the override joins the list
            words.append(f"-f <({override})")
        words += ["up", "-d", "--no-deps", shlex.quote(service)]
        line = " ".join(words)
        if not files:
            line = f"{line}  # after pinning `image: {pin}` for {service} in the compose file"
        if self.opts.base_url != "unix:///var/run/docker.sock":
            line = f"DOCKER_HOST={shlex.quote(self.opts.base_url)} {line}"
        return f"cd {shlex.quote(where)} && {line}" if where else line

    # Execute helpers.

    def _recreate(
        self, replica: dict[str, str], target: str, report: Report, index: int, total: int
    ) -> str:
        """Compose's recreate for one container; returns the new container's id."""
        name = replica["name"]
        report.check()  # the last point where cancel or the deadline stop us cleanly
        try:
            old = self._inspect(replica["id"])
        except NotThere:
            raise ProviderError(
                f"{name} ({replica['id'][:12]}) is gone since the plan; plan again"
            ) from None
        if old["Image"] != replica["image"]:
            raise ProviderError(
                f"{name} runs {short(old['Image'])} now, not {short(replica['image'])} as "
                "planned; plan again"
            )
        try:
            image_config = self.image(old["Image"]).get("Config") or {}
        except NotThere:
            image_config = {}
            report.log(f"{name}: its image {short(old['Image'])} is gone; copying its config whole")
        body, extra = recreate_body(old, image_config, target)
        temporary = f"{old['Id'][:12]}_{name}"

        def at(step: int) -> float:
            return 0.05 + 0.45 * (index + step / 5) / max(total, 1)

        report.progress(at(0), f"{name}: create {temporary} on {short(target)}")
        created = self._call(
            f"create {temporary}",
            lambda: self.api.create_container_from_config(body, name=temporary),
        )
        new = str(created["Id"])
        for network, settings in extra.items():
            fixed = settings.get("IPAMConfig") or {}
            connect = partial(
                self.api.connect_container_to_network,
                new,
                network,
                aliases=settings.get("Aliases"),
                links=settings.get("Links"),
                ipv4_address=fixed.get("IPv4Address"),
                ipv6_address=fixed.get("IPv6Address"),
            )
            self._call(f"connect {temporary} to {network}", connect)
        try:
            report.check()  # cancelled or out of time while creating: nothing changed yet
        except ProviderError as error:
            error.args = (f"{error}; {self._discard(new, temporary)}, nothing changed",)
            raise
        report.progress(
            at(1), f"{name}: stop (SIGTERM, then SIGKILL after {self.opts.stop_timeout} s)"
        )
        self._stop(old, new, temporary, report)
        report.progress(at(2), f"{name}: remove the old container {old['Id'][:12]}")
        self._call(
            f"remove {name}", lambda: self.api.remove_container(old["Id"], v=False, force=False)
        )
        report.progress(at(3), f"{name}: rename {temporary} → {name}")
        self._call(f"rename {temporary}", lambda: self.api.rename(new, name))
        report.progress(at(4), f"{name}: start {new[:12]}")
        try:
            self._call(f"start {name}", lambda: self.api.start(new))
        except ProviderError as error:
            raise ProviderError(
                f"{error}. {name} now exists on {short(target)} ({new[:12]}) but is not running, "
                f"and the old container was removed (Compose's order): read `docker logs {name}`, "
                f"then `docker start {name}` or the undo"
            ) from None
        report.log(f"{name}: {new[:12]} started on {short(target)}")
        return new

    def _stop(self, old: dict[str, Any], new: str, temporary: str, report: Report) -> None:
        """Stop the old container; when it will not stop, remove the new one and say so."""
        name = name_of(old)
        started = time.monotonic()
        failure = ""
        try:
            self._call(
                f"stop {name}",
                lambda: self.api.stop(old["Id"], timeout=self.opts.stop_timeout),
            )
        except ProviderError as error:
            failure = str(error)
        took = time.monotonic() - started
        try:
            state = self._inspect(old["Id"])["State"]
            status = str(state.get("Status") or "")
        except ProviderError as error:
            state, status = {}, f"in a state nobody knows (inspect failed: {error})"
        if status not in ("exited", "created", "dead"):
            now = f"It is {status} on {short(old['Image'])}" if state else f"It is {status}"
            raise ProviderError(
                f"{name} did not stop: {failure or 'it still runs after the stop call'}. {now}; "
                f"{self._discard(new, temporary)}, so nothing else changed. Stop {name} by hand "
                f"(docker stop -t 60 {name}, or docker kill) or raise stop_timeout, then plan "
                "again"
            )
        code = state.get("ExitCode")
        if failure:
            report.log(f"{name}: the stop call failed ({failure}) but {name} is {status}; going on")
        elif code == 137 and took >= self.opts.stop_timeout - 0.5:
            report.log(
                f"{name}: did not stop on SIGTERM within {self.opts.stop_timeout} s; Docker "
                f"killed it (SIGKILL, exit 137) after {took:.1f} s"
            )
        else:
            report.log(f"{name}: stopped (exit {code}) in {took:.1f} s")

    def _discard(self, new: str, temporary: str) -> str:
        """Remove the new container (never started); say what became of it."""
        try:
            self._call(
                f"remove {temporary}", lambda: self.api.remove_container(new, v=False, force=True)
            )
        except ProviderError as error:
            return f"the new container {temporary} was NOT removed ({error}): docker rm {temporary}"
        return f"the new container {temporary} (never started) was removed again"

    # Verify helpers.

    def _state(self, name: str, target: str) -> tuple[str, str, str]:
        """('ok' | 'waiting' | 'failed', what the container is doing, which start of it)."""
        try:
            found = self._inspect(name)
        except NotThere:
            return "failed", f"{name} is gone", ""
        state = found["State"]
        run = f"{state.get('StartedAt')}#{found.get('RestartCount', 0)}"
        if found["Image"] != target:
            return "failed", f"{name} runs {short(found['Image'])}, not {short(target)}", run
        status = state.get("Status") or ""
        if status in ("exited", "dead"):
            code = state.get("ExitCode")
            return "failed", f"{name} exited with {code}{self._tail(name)}", run
        if not state.get("Running"):
            return "waiting", f"{name} is {status or 'not running'}", run
        health = health_of(found)
        if health == "unhealthy":
            last = ((state.get("Health") or {}).get("Log") or [{}])[-1]
            output = str(last.get("Output") or "").strip()[:200]
            return "failed", f"{name} is unhealthy" + (f": {output}" if output else ""), run
        if health and health != "healthy":
            return "waiting", f"{name} runs {short(target)}, health {health}", run
        return "ok", f"{name} runs {short(target)}" + (", healthy" if health else ""), run

    def _others(self, service: str, target: str, ours: set[str]) -> list[str]:
        """Other running containers of the service on another image (the old one, left over)."""
        return [
            f"{name_of(c)} ({c['Id'][:12]}, {short(c['Image'])}) also runs"
            for c in self._containers(
                [f"{PROJECT}={self.opts.project}", f"{SERVICE}={service}", f"{ONEOFF}=False"]
            )
            if c["State"].get("Running") and (name_of(c) not in ours or c["Image"] != target)
        ]

    def _tail(self, name: str) -> str:
        try:
            raw = self._call(f"read {name}'s log", lambda: self.api.logs(name, tail=5))
        except ProviderError:
            return ""
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        lines = [line for line in text.splitlines() if line.strip()]
        return f"; last log lines: {' | '.join(lines)[-300:]}" if lines else ""

    # State: which images each service ran, as this cockpit saw them.

    def _state_file(self) -> Path:
        host = hashlib.sha256(self.opts.base_url.encode()).hexdigest()[:10]
        return data_dir() / "docker_compose" / f"{self.opts.project}-{host}.json"

    def history(self, service: str) -> list[dict[str, str]]:
        """What the cockpit recorded for the service, oldest first: image, ref, at, why."""
        try:
            state = json.loads(self._state_file().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        entries = state.get("services", {}).get(service, [])
        return [e for e in entries if isinstance(e, dict) and "image" in e]

    def _remember(self, service: str, image_id: str, why: str) -> None:
        """Append the image to the service's history when it differs from the last one."""
        entries = self.history(service)
        if entries and entries[-1]["image"] == image_id:
            return
        try:
            found = self.image(image_id)
            ref = ", ".join(found.get("RepoTags") or [])
        except ProviderError:
            ref = ""
        entries.append(
            {
                "image": image_id,
                "ref": ref,
                "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "why": why,
            }
        )
        path = self._state_file()
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        state.update(base_url=self.opts.base_url, project=self.opts.project)
        state.setdefault("services", {})[service] = entries[-HISTORY:]
        ensure_private_dir(path.parent)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(scratch, path)

    def _previous(self, service: str, current: str) -> dict[str, str] | None:
        """The last recorded image of the service that is not the one it runs now."""
        return next((e for e in reversed(self.history(service)) if e["image"] != current), None)

    # The Engine.

    @property
    def api(self) -> Any:
        """docker.APIClient for base_url, made on first use (the SDK is imported then)."""
        if self._api is None:
            self._api = self._connect()
        return self._api

    def _connect(self) -> Any:
        url = self.opts.base_url
        try:
            import docker  # type: ignore[import-untyped]
        except ImportError:
            raise ProviderError(
                "the docker_compose provider needs the docker SDK: "
                "pip install 'rollback-cockpit[docker]'"
            ) from None
        ssh = url.startswith("ssh://")
        if ssh:
            if not has_paramiko():
                raise ProviderError(
                    "ssh:// needs paramiko, which the docker SDK imports for any ssh:// URL "
                    "(even with the ssh client): pip install 'docker[ssh]'. Or forward the "
                    "socket and use unix://: ssh -NL /tmp/docker.sock:/var/run/docker.sock "
                    f"{urlsplit(url).netloc}"
                )
            check_ssh(url, self.opts.timeout_seconds)
        try:
            return docker.APIClient(
                base_url=url,
                version=self.opts.api_version,
                timeout=self.opts.timeout_seconds,
                use_ssh_client=ssh,
            )
        except docker.errors.DockerException as error:
            raise ProviderError(f"cannot use Docker at {url}: {error}") from None

    def _url(self, path: str) -> str:
        return f"{self.opts.base_url.rstrip('/')}/v{self.opts.api_version}{path}"

    def _containers(self, labels: list[str]) -> list[dict[str, Any]]:
        """Inspect every container (running or not) with these labels."""
        listed = self._call(
            "list containers", lambda: self.api.containers(all=True, filters={"label": labels})
        )
        found = []
        for summary in listed:
            try:
                found.append(self._inspect(summary["Id"]))
            except NotThere:  # removed while we looked
                continue
        return found

    def _inspect(self, container: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call(
            f"inspect container {container[:64]}", lambda: self.api.inspect_container(container)
        )
        return found

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """One Engine call; every failure becomes a ProviderError that says what and where."""
        import docker.errors  # type: ignore[import-untyped]
        import requests.exceptions

        where = self.opts.base_url
        try:
            return call()
        except docker.errors.NotFound as error:
            raise NotThere(f"{what}: {explanation(error)}") from None
        except docker.errors.APIError as error:
            raise ProviderError(
                f"{what}: Docker at {where} answered {error.status_code}: {explanation(error)}"
            ) from None
        except requests.exceptions.Timeout:
            raise ProviderTimeout(
                f"{what}: no answer from Docker at {where} within {self.opts.timeout_seconds:g} s"
            ) from None
        except requests.exceptions.ConnectionError as error:
            raise ProviderUnavailable(
                f"{what}: cannot reach Docker at {where}: {cause(error)}"
            ) from None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            raise ProviderError(f"{what}: Docker at {where}: {error}") from None


def recreate_body(
    old: dict[str, Any], image: dict[str, Any], target: str
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The create body for the replacement, and the networks to connect it to before start.

    It carries what the old container had of its own (what Compose set), not what its image
    gave it, so the older image's own ENV, CMD, LABELs and so on apply again; the host config,
    anonymous volumes (Compose's `inherit`) and network endpoints carry over as they were.
    """
    config = dict(old["Config"])
    own = {
        key: config[key]
        for key in (
            "Hostname", "Domainname", "User", "Tty", "OpenStdin", "StdinOnce", "AttachStdin",
            "AttachStdout", "AttachStderr", "Env", "Cmd", "Entrypoint", "WorkingDir", "Labels",
            "StopSignal", "StopTimeout", "Healthcheck", "ExposedPorts", "Volumes", "Shell",
            "MacAddress", "NetworkDisabled",
        )
        if config.get(key) not in (None, "", [], {})
    }  # fmt: skip
    short_id = old["Id"][:12]
    if own.get("Hostname") == short_id:
        own.pop("Hostname")
    for key in ("User", "WorkingDir", "StopSignal", "Healthcheck", "Shell"):
        if key in own and own[key] == image.get(key):
            own.pop(key)
    for key in ("ExposedPorts", "Volumes"):
        mine = {k: v for k, v in (own.get(key) or {}).items() if k not in (image.get(key) or {})}
        own.pop(key, None)
        if mine:
            own[key] = mine
    env = [
        e
        for e in own.pop("Env", [])
        if e not in (image.get("Env") or []) and e != f"HOSTNAME={short_id}"
    ]
    if env:
        own["Env"] = env
    if (own.get("Entrypoint") or None) == (image.get("Entrypoint") or None):
        own.pop("Entrypoint", None)
        if (own.get("Cmd") or None) == (image.get("Cmd") or None):
            own.pop("Cmd", None)
    image_labels = image.get("Labels") or {}
    labels = {
        k: v
        for k, v in (own.get("Labels") or {}).items()
        if k.startswith(LABEL) or image_labels.get(k) != v
    }
    labels[IMAGE] = target
    labels[REPLACE] = name_of(old)
    own["Labels"] = labels
    if not own.get("StopTimeout"):
        own.pop("StopTimeout", None)
    host = dict(old.get("HostConfig") or {})
    host["Ulimits"] = [  # podman reports RLIMIT_NOFILE and accepts only nofile
        {**u, "Name": str(u.get("Name", "")).lower().removeprefix("rlimit_")}
        for u in host.get("Ulimits") or []
    ] or None
    # Compose's `inherit`: the new container gets the old one's anonymous volumes, which
    # Docker lists in Mounts only (a HostConfig.Mounts entry without Source, or an image VOLUME).
    volumes = {
        m["Destination"]: m
        for m in old.get("Mounts") or []
        if m.get("Type") == "volume" and m.get("Name") and m.get("Destination")
    }
    mounts = []
    for mount in host.get("Mounts") or []:
        path = mount.get("Target")
        if mount.get("Type") == "volume" and not mount.get("Source") and path in volumes:
            mount = {**mount, "Source": volumes[path]["Name"]}
        mounts.append(mount)
    host["Mounts"] = mounts or None
    binds = list(host.get("Binds") or [])
    covered = {b.split(":")[1] for b in binds if ":" in b} | {m.get("Target") for m in mounts}
    for path, volume in volumes.items():
        if path not in covered:
            binds.append(f"{volume['Name']}:{path}" + ("" if volume.get("RW", True) else ":ro"))
    host["Binds"] = binds or None
    body = {**own, "Image": target, "HostConfig": host}
    mode = str(host.get("NetworkMode") or "")
    networks = (old.get("NetworkSettings") or {}).get("Networks") or {}
    if not networks or mode in ("host", "none") or mode.startswith(("container:", "service:")):
        return body, {}
    endpoints = {net: endpoint(settings, old["Id"]) for net, settings in networks.items()}
    first = mode if mode in endpoints else next(iter(endpoints))
    body["NetworkingConfig"] = {"EndpointsConfig": {first: endpoints.pop(first)}}
    return body, endpoints  # API 1.41 takes one network at create; the rest are connected


def endpoint(settings: dict[str, Any], old_id: str) -> dict[str, Any]:
    """The endpoint config to give the new container: aliases (not the old id), fixed IPs."""
    aliases = [a for a in settings.get("Aliases") or [] if not old_id.startswith(a)]
    found: dict[str, Any] = {
        "Aliases": aliases or None,
        "Links": settings.get("Links") or None,
        "IPAMConfig": settings.get("IPAMConfig") or None,
        "DriverOpts": settings.get("DriverOpts") or None,
    }
    return {k: v for k, v in found.items() if v is not None}


def has_paramiko() -> bool:
    """Whether the SDK's ssh support can load (it imports paramiko even for the ssh client)."""
    return importlib.util.find_spec("paramiko") is not None


def check_ssh(url: str, timeout: float) -> None:
    """Check what the SDK's ssh client needs, in a way that cannot hang or prompt.

    The SDK runs `ssh host docker system dial-stdio` for each connection, with no timeout on its
    reads and the terminal still attached. So first: one `ssh -o BatchMode=yes` (a key, no
    password prompt), with a connect timeout, running the server's docker CLI.
    """
    parts = urlsplit(url)
    command = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, math.ceil(timeout))}"]
    if parts.username:
        command += ["-l", parts.username]
    if parts.port:
        command += ["-p", str(parts.port)]
    command += ["--", str(parts.hostname), "docker version --format '{{.Server.Version}}'"]
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout + 5,
            start_new_session=True,  # no terminal to ask on
            check=False,
        )
    except FileNotFoundError:
        raise ProviderError(f"{url}: there is no ssh client here (openssh-client)") from None
    except subprocess.TimeoutExpired:
        raise ProviderTimeout(f"{url}: ssh did not answer within {timeout + 5:g} s") from None
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise ProviderUnavailable(
            f"{url}: `ssh {parts.netloc} docker version` failed: {said}. The docker SDK needs "
            "ssh with a key (no prompt), a known host key and the docker CLI on the server"
        )


def explanation(error: Any) -> str:
    return str(getattr(error, "explanation", None) or error).strip()


def cause(error: BaseException) -> str:
    """The OS error under a requests ConnectionError, in words."""
    seen: list[BaseException] = []
    pending: list[Any] = [error]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or item in seen:
            continue
        seen.append(item)
        if isinstance(item, FileNotFoundError):
            return "no such socket (is the Docker daemon running there?)"
        if isinstance(item, ConnectionRefusedError):
            return "connection refused (nothing listens there)"
        if isinstance(item, PermissionError):
            return "permission denied (is this user allowed to use the Docker socket?)"
        pending += [item.__cause__, item.__context__, *item.args]
    return str(error)


def number(container: dict[str, Any]) -> int:
    try:
        return int(container["Config"]["Labels"].get(NUMBER, 0))
    except (TypeError, ValueError):
        return 0


def name_of(container: dict[str, Any]) -> str:
    names = container.get("Names")
    raw = container.get("Name") or (names[0] if names else container["Id"][:12])
    return str(raw).lstrip("/")


def health_of(container: dict[str, Any]) -> str:
    """The healthcheck status ('' without a healthcheck; podman shows an empty one)."""
    return str(((container.get("State") or {}).get("Health") or {}).get("Status") or "")


def short(image_id: str) -> str:
    """sha256:0123456789ab."""
    hex_part = image_id.removeprefix("sha256:")
    return f"sha256:{hex_part[:12]}"


def describe(image: dict[str, Any]) -> str:
    """'sha256:0123456789ab (web:2)'."""
    tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
    return f"{short(image['Id'])} ({', '.join(tags) or 'untagged'})"


def describe_ref(container: dict[str, Any]) -> str:
    return f"{short(container['Image'])} ({container['Config'].get('Image') or '?'})"


def candidate_line(summary: dict[str, Any]) -> str:
    created = datetime.fromtimestamp(int(summary.get("Created") or 0), UTC)
    tags = [t for t in summary.get("RepoTags") or [] if t != "<none>:<none>"]
    digests = summary.get("RepoDigests") or []
    return (
        f"{summary['Id']}  created {created:%Y-%m-%d %H:%M} UTC  {', '.join(tags) or 'untagged'}"
        + (f"  {digests[0]}" if digests else "")
    )


def repository(ref: str) -> str:
    """'registry:5000/team/web' from 'registry:5000/team/web:2' or '…/web@sha256:…'."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return "" if IMAGE_ID.fullmatch(name) else name


def pinned(image: dict[str, Any], replica: dict[str, Any]) -> str:
    """What the compose file's image line should say: repo@sha256:digest, else the id."""
    digests = image.get("RepoDigests") or []
    want = repository(replica["Config"].get("Image") or "")
    for digest in digests:
        if repository(digest) == want:
            return str(digest)
    return str(digests[0]) if digests else str(image["Id"])


def compose_files(params: Mapping[str, Any], labels: dict[str, str]) -> str:
    """The compose files, comma-separated, from the params or Compose's labels."""
    if params.get("compose_file"):
        return str(params["compose_file"])
    return labels.get(CONFIG_FILES, "")
