"""Compose's labels and the words the docker_compose provider uses for containers and images.

Plain functions over what the Engine's inspect and list calls return: a container's name, number
and health, an image's short id and description, the repository of a reference, and the
`image:` line a compose file should pin. Nothing here talks to Docker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

LABEL = "com.docker.compose"
PROJECT = f"{LABEL}.project"
SERVICE = f"{LABEL}.service"
NUMBER = f"{LABEL}.container-number"
ONEOFF = f"{LABEL}.oneoff"
IMAGE = f"{LABEL}.image"
REPLACE = f"{LABEL}.replace"
WORKING_DIR = f"{LABEL}.project.working_dir"
CONFIG_FILES = f"{LABEL}.project.config_files"

IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{12,64}")


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
