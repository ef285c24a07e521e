"""The docker_compose provider's plan: which image, which containers, and what will change.

The target is always an image id, never a tag that may have moved since: by default the image
the service ran before (providers.docker_compose.history); otherwise the responder names one by
id or digest, or by a version tag that the plan resolves and pins. Without either, the plan is
refused with the repository's local images by id, digest and creation time. Compose is not
told, so the plan warns that the next `docker compose up` undoes the rollback and gives the
`image:` line to pin, and its CLI line is `docker compose up` with an override pinning it.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cockpit.core.actions import Plan
from cockpit.core.errors import ProviderError
from providers.base import Param, Params
from providers.docker_compose.containers import (
    IMAGE_ID,
    WORKING_DIR,
    candidate_line,
    compose_files,
    describe,
    health_of,
    name_of,
    pinned,
    repository,
    short,
)
from providers.docker_compose.engine import NotThere

if TYPE_CHECKING:
    from providers.docker_compose.provider import ComposeProvider

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


def plan_rollback(compose: ComposeProvider, action: str, params: Mapping[str, Any]) -> Plan:
    """The image_rollback plan: read-only, it records the image the service runs now."""
    compose.require(action)
    service = str(params.get("service") or "").strip()
    if not service:
        services = ", ".join(sorted(compose.services())) or "none"
        raise ProviderError(f"image_rollback needs service: <name> (this project has: {services})")
    replicas = compose.replicas(service)
    current = replicas[0]["Image"]
    compose.remember(service, current, "seen")
    target, notes = _target(compose, service, params, replicas)
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
        changes = [f"{service}: image {_described(compose, undo_image)} → {describe(target)}"]
    else:
        changes = [
            f"{name_of(r)}: image {_described(compose, r['Image'])} → {describe(target)}"
            for r in old
        ]
    changes.append(
        f"{', '.join(name_of(r) for r in old)} recreated: new container id, same name, "
        "config, labels, networks and volumes"
    )
    calls = []
    for replica in old:
        calls += compose.recreator.calls(replica, target["Id"])
    healthcheck = any(health_of(r) for r in old)
    steps = 4 + len(old) * 6
    return Plan(
        provider=compose.name,
        action=action,
        target=service,
        title=f"Roll {service} back to {describe(target)}",
        calls=calls,
        changes=changes,
        cli=_cli(compose, service, pin, params, labels),
        destructive=True,
        timeout_seconds=len(old) * compose.opts.stop_timeout
        + steps * compose.opts.timeout_seconds
        + compose.opts.verify_seconds,
        verify=(
            f"each {service} container runs {short(target['Id'])}"
            + (" and is healthy" if healthcheck else "")
            + f" and keeps running {compose.opts.settle_seconds:g} s, within "
            f"{compose.opts.verify_seconds:g} s; no other {service} container runs"
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


def _target(
    compose: ComposeProvider,
    service: str,
    params: Mapping[str, Any],
    replicas: list[dict[str, Any]],
) -> tuple[dict[str, Any], list[str]]:
    """The image to roll back to (inspected) and what the plan should say about it."""
    ref = str(params.get("image") or "").strip()
    tag = str(params.get("tag") or "").strip()
    if tag:
        if not ref:
            raise ProviderError("tag needs image: <repository> beside it")
        ref = f"{repository(ref)}:{tag}"
    if not ref:
        previous = compose.previous(service, replicas[0]["Image"])
        if previous is None:
            raise ProviderError(
                f"no previous image recorded for {service}: the cockpit has not seen it on "
                f"another image than {short(replicas[0]['Image'])} (it records the image each "
                "time it looks, at health and plan, and after each rollback). Name one with "
                "image: <id or digest>. " + _listing(compose, replicas)
            )
        try:
            found = compose.image(previous["image"])
        except NotThere:
            raise ProviderError(
                f"the previous image of {service}, {short(previous['image'])} "
                f"({previous.get('ref') or 'no tag'}, recorded {previous.get('at', '?')}), is "
                "no longer on this Docker host (pruned?): pull it by digest or name another. "
                + _listing(compose, replicas)
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
                f"(image: sha256:… or repo@sha256:…). " + _listing(compose, replicas)
            )
    try:
        found = compose.image(ref)
    except NotThere:
        raise ProviderError(
            f"no image {ref} on this Docker host (the rollback does not pull). "
            + _listing(compose, replicas)
        ) from None
    notes = []
    if not is_id and "@" not in ref:
        notes.append(
            f"the tag {ref} is {short(found['Id'])} now; the rollback uses that id even if "
            "the tag moves"
        )
    return found, notes


def _listing(compose: ComposeProvider, replicas: list[dict[str, Any]]) -> str:
    found = compose.candidates(replicas)
    if not found:
        return "There are no other local images of its repository."
    lines = "\n".join(f"  {candidate_line(s)}" for s in found[:10])
    more = f"\n  … and {len(found) - 10} more" if len(found) > 10 else ""
    return f"Local images of its repository, newest first:\n{lines}{more}"


def _described(compose: ComposeProvider, image_id: str) -> str:
    try:
        return describe(compose.image(image_id))
    except NotThere:
        return f"{short(image_id)} (gone)"


def _cli(
    compose: ComposeProvider,
    service: str,
    pin: str,
    params: Mapping[str, Any],
    labels: dict[str, str],
) -> str:
    """`docker compose up` for this one service, with an override file pinning the image."""
    where = str(params.get("project_dir") or labels.get(WORKING_DIR) or "")
    files = compose_files(params, labels)
    override = f"printf 'services:\\n  {service}:\\n    image: %s\\n' {shlex.quote(pin)}"
    words = ["docker", "compose", "-p", shlex.quote(compose.opts.project)]
    words += [f"-f {shlex.quote(f)}" for f in files.split(",") if f]
    if files:  # with one -f Compose reads no default file, so the override joins the list
        words.append(f"-f <({override})")
    words += ["up", "-d", "--no-deps", shlex.quote(service)]
    line = " ".join(words)
    if not files:
        line = f"{line}  # after pinning `image: {pin}` for {service} in the compose file"
    if compose.opts.base_url != "unix:///var/run/docker.sock":
        line = f"DOCKER_HOST={shlex.quote(compose.opts.base_url)} {line}"
    return f"cd {shlex.quote(where)} && {line}" if where else line
