"""Recreating a Compose service's container on another image, in Compose's own order.

`docker compose up` recreates a container this way, and so does the rollback: create the new
one beside the old under a temporary name (same config, labels, networks and volumes, the other
image), stop the old, remove it, rename the new one and start it. The new container is never
started while the old one still runs, and a stop that fails leaves the old container alone and
the new one removed. `recreate_body` is what the new container is created from.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from cockpit.core.actions import Call, Report
from cockpit.core.errors import ProviderError
from providers.docker_compose.containers import IMAGE, LABEL, REPLACE, name_of, short
from providers.docker_compose.engine import Engine, NotThere


class Recreator:
    """Recreates containers through one Engine; the old one gets `stop_timeout` to stop."""

    def __init__(self, engine: Engine, stop_timeout: int) -> None:
        self.engine = engine
        self.stop_timeout = stop_timeout

    def calls(self, replica: dict[str, Any], target: str) -> list[Call]:
        """The Engine calls of one recreate, as the plan shows them."""
        old, name = replica["Id"][:12], name_of(replica)
        temporary = f"{old}_{name}"
        api = self.engine.url("/containers")
        return [
            Call(
                "POST",
                f"{api}/create?name={temporary}",
                {"Image": target, "copied from": f"{name}: config, labels, networks, volumes"},
            ),
            Call("POST", f"{api}/{old}/stop?t={self.stop_timeout}"),
            Call("DELETE", f"{api}/{old}"),
            Call("POST", f"{api}/{temporary}/rename?name={name}"),
            Call("POST", f"{api}/{name}/start"),
            Call("GET", f"{api}/{name}/json"),
        ]

    def recreate(
        self, replica: dict[str, str], target: str, report: Report, index: int, total: int
    ) -> str:
        """Compose's recreate for one container; returns the new container's id."""
        name = replica["name"]
        report.check()  # the last point where cancel or the deadline stop us cleanly
        try:
            old = self.engine.inspect(replica["id"])
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
            image_config = self.engine.image(old["Image"]).get("Config") or {}
        except NotThere:
            image_config = {}
            report.log(f"{name}: its image {short(old['Image'])} is gone; copying its config whole")
        body, extra = recreate_body(old, image_config, target)
        temporary = f"{old['Id'][:12]}_{name}"

        def at(step: int) -> float:
            return 0.05 + 0.45 * (index + step / 5) / max(total, 1)

        report.progress(at(0), f"{name}: create {temporary} on {short(target)}")
        created = self.engine.call(
            f"create {temporary}",
            lambda: self.engine.api.create_container_from_config(body, name=temporary),
        )
        new = str(created["Id"])
        for network, settings in extra.items():
            fixed = settings.get("IPAMConfig") or {}
            connect = partial(
                self.engine.api.connect_container_to_network,
                new,
                network,
                aliases=settings.get("Aliases"),
                links=settings.get("Links"),
                ipv4_address=fixed.get("IPv4Address"),
                ipv6_address=fixed.get("IPv6Address"),
            )
            self.engine.call(f"connect {temporary} to {network}", connect)
        try:
            report.check()  # cancelled or out of time while creating: nothing changed yet
        except ProviderError as error:
            error.args = (f"{error}; {self._discard(new, temporary)}, nothing changed",)
            raise
        report.progress(at(1), f"{name}: stop (SIGTERM, then SIGKILL after {self.stop_timeout} s)")
        self._stop(old, new, temporary, report)
        report.progress(at(2), f"{name}: remove the old container {old['Id'][:12]}")
        self.engine.call(
            f"remove {name}",
            lambda: self.engine.api.remove_container(old["Id"], v=False, force=False),
        )
        report.progress(at(3), f"{name}: rename {temporary} → {name}")
        self.engine.call(f"rename {temporary}", lambda: self.engine.api.rename(new, name))
        report.progress(at(4), f"{name}: start {new[:12]}")
        try:
            self.engine.call(f"start {name}", lambda: self.engine.api.start(new))
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
            self.engine.call(
                f"stop {name}",
                lambda: self.engine.api.stop(old["Id"], timeout=self.stop_timeout),
            )
        except ProviderError as error:
            failure = str(error)
        took = time.monotonic() - started
        try:
            state = self.engine.inspect(old["Id"])["State"]
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
        elif code == 137 and took >= self.stop_timeout - 0.5:
            report.log(
                f"{name}: did not stop on SIGTERM within {self.stop_timeout} s; Docker "
                f"killed it (SIGKILL, exit 137) after {took:.1f} s"
            )
        else:
            report.log(f"{name}: stopped (exit {code}) in {took:.1f} s")

    def _discard(self, new: str, temporary: str) -> str:
        """Remove the new container (never started); say what became of it."""
        try:
            self.engine.call(
                f"remove {temporary}",
                lambda: self.engine.api.remove_container(new, v=False, force=True),
            )
        except ProviderError as error:
            return f"the new container {temporary} was NOT removed ({error}): docker rm {temporary}"
        return f"the new container {temporary} (never started) was removed again"


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
