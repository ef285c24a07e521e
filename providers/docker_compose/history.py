"""The image history the docker_compose provider keeps: which images each service ran.

The Engine keeps no history of what a container ran before, so the cockpit records the image of
each service each time it looks (at health and plan, and after each rollback), in one small JSON
file per Compose project and Docker host in its data directory. The default rollback target is
the last image recorded that is not the one running now.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cockpit.core.paths import data_dir, ensure_private_dir, write_atomically

HISTORY = 20
"""Images remembered per service."""


class ImageHistory:
    """The recorded images of one project's services on one Docker host."""

    def __init__(self, base_url: str, project: str) -> None:
        self.base_url = base_url
        self.project = project

    def path(self) -> Path:
        """The state file (read where the data directory is now, as tests move it)."""
        host = hashlib.sha256(self.base_url.encode()).hexdigest()[:10]
        return data_dir() / "docker_compose" / f"{self.project}-{host}.json"

    def entries(self, service: str) -> list[dict[str, str]]:
        """What the cockpit recorded for the service, oldest first: image, ref, at, why."""
        try:
            state = json.loads(self.path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        entries = state.get("services", {}).get(service, [])
        return [e for e in entries if isinstance(e, dict) and "image" in e]

    def remember(self, service: str, image_id: str, why: str, tags: Callable[[str], str]) -> None:
        """Append the image to the service's history when it differs from the last one;
        `tags` names it (its RepoTags), asked only then."""
        entries = self.entries(service)
        if entries and entries[-1]["image"] == image_id:
            return
        entries.append(
            {
                "image": image_id,
                "ref": tags(image_id),
                "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "why": why,
            }
        )
        path = self.path()
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        state.update(base_url=self.base_url, project=self.project)
        state.setdefault("services", {})[service] = entries[-HISTORY:]
        ensure_private_dir(path.parent)
        write_atomically(path, json.dumps(state, indent=1))

    def previous(self, service: str, current: str) -> dict[str, str] | None:
        """The last recorded image of the service that is not the one it runs now."""
        return next((e for e in reversed(self.entries(service)) if e["image"] != current), None)
