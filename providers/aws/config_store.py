"""The CloudFront configs the cockpit has seen, per distribution: what a rollback puts back.

CloudFront keeps no history of a distribution's configs, so the cockpit records the whole config
each time it reads one (health, plan, after each change), keyed by distribution id and the ETag
it came with, in one private JSON file per distribution in its data directory (configs can hold
origin custom headers, which are often shared secrets: they stay in that file, never in a plan).
An entry's id is `<ETag>-<digest>`: the digest tells two configs apart when the ETag does not
(moto never rotates it). The default rollback target is the last one recorded that differs from
the config live now.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.core.paths import data_dir, ensure_private_dir, write_atomically

HISTORY = 20
"""Configs remembered per distribution."""


def digest(config: dict[str, Any]) -> str:
    """A short digest of a config, the same for the same content whatever the key order."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def entry_id(etag: str, config: dict[str, Any]) -> str:
    return f"{etag}-{digest(config)}"


class ConfigStore:
    """The recorded configs of one AWS endpoint's distributions."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def path(self, distribution: str) -> Path:
        """The state file (read where the data directory is now, as tests move it)."""
        where = hashlib.sha256(self.endpoint.encode()).hexdigest()[:10]
        return data_dir() / "aws_cloudfront" / f"{distribution}-{where}.json"

    def entries(self, distribution: str) -> list[dict[str, Any]]:
        """Oldest first: id, etag, digest, at, why, config."""
        try:
            state = json.loads(self.path(distribution).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [e for e in state.get("configs", []) if isinstance(e, dict) and "config" in e]

    def get(self, distribution: str, wanted: str) -> dict[str, Any] | None:
        """The entry with id `wanted`, or the newest one whose ETag is `wanted`."""
        entries = self.entries(distribution)
        return next(
            (e for e in reversed(entries) if wanted in (e["id"], e["etag"])),
            None,
        )

    def remember(self, distribution: str, etag: str, config: dict[str, Any], why: str) -> str:
        """Record the config (unless it is the last one recorded); its entry id."""
        entries = self.entries(distribution)
        new_id = entry_id(etag, config)
        if entries and entries[-1]["id"] == new_id:
            return new_id
        entries.append(
            {
                "id": new_id,
                "etag": etag,
                "digest": digest(config),
                "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "why": why,
                "config": config,
            }
        )
        path = self.path(distribution)
        ensure_private_dir(path.parent)
        state = {"endpoint": self.endpoint, "distribution": distribution}
        state["configs"] = entries[-HISTORY:]  # type: ignore[assignment]
        write_atomically(path, json.dumps(state, indent=1, default=str), private=True)
        return new_id

    def export(self, distribution: str, entry: dict[str, Any]) -> Path:
        """The entry's config alone, in a private file the AWS CLI can read (the plan's CLI
        line names it: `--distribution-config file://…`)."""
        path = self.path(distribution).with_name(f"{distribution}-{entry['id']}.json")
        ensure_private_dir(path.parent)
        write_atomically(path, json.dumps(entry["config"], indent=1, default=str), private=True)
        return path

    def previous(self, distribution: str, current: dict[str, Any]) -> dict[str, Any] | None:
        """The last recorded config that is not the one live now."""
        live = digest(current)
        return next((e for e in reversed(self.entries(distribution)) if e["digest"] != live), None)
