"""What the Workers provider remembers of a Worker's secrets and vars, in the data directory.

Cloudflare keeps no history of a Worker's plain-text vars and never returns a secret's value,
so the cockpit records, per script (and account and API, by a digest of them): the sets of vars
it saw, with their values, so an earlier set can be put back, as the Compose provider keeps the
images it saw; and for secrets only the sha256 digest of each value it put, so a plan can say
whether a name changes. The file is owner-only; secret values are never written anywhere.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.core.paths import data_dir, ensure_private_dir, write_atomically

HISTORY = 20
"""Var sets remembered per script."""


def digest(text: str) -> str:
    """The sha256 of a value, the only form of it the cockpit records or shows."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def short(full: str) -> str:
    return f"sha256:{full[:12]}"


def var_value(binding: dict[str, Any]) -> str:
    """A var's value as text: plain_text as is, json canonically encoded."""
    if binding.get("type") == "json":
        return json.dumps(binding.get("json"), sort_keys=True)
    return str(binding.get("text", ""))


def vars_digest(bindings: list[dict[str, Any]]) -> str:
    """One digest for a whole set of vars, whatever order the API lists them in."""
    canonical = sorted((b["name"], b.get("type", ""), var_value(b)) for b in bindings)
    return digest(json.dumps(canonical))


class WorkerState:
    """The recorded var sets and secret digests of one Worker."""

    def __init__(self, base_url: str, account_id: str, script: str) -> None:
        self.where = f"{base_url.rstrip('/')} {account_id}"
        self.script = script

    def path(self) -> Path:
        """The state file (read where the data directory is now, as tests move it)."""
        key = hashlib.sha256(self.where.encode()).hexdigest()[:10]
        return data_dir() / "cloudflare" / f"{self.script}-{key}.json"

    def _load(self) -> dict[str, Any]:
        try:
            state = json.loads(self.path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _save(self, state: dict[str, Any]) -> None:
        path = self.path()
        ensure_private_dir(path.parent)
        write_atomically(path, json.dumps(state, indent=1), private=True)

    # -- secrets: digests only ---------------------------------------------------------------

    def secret_digest(self, name: str) -> dict[str, str] | None:
        """{digest, at} of the value the cockpit last put for `name`, or None."""
        found = self._load().get("secrets", {}).get(name)
        return found if isinstance(found, dict) and "digest" in found else None

    def record_secret(self, name: str, value_digest: str) -> None:
        state = self._load()
        state.setdefault("secrets", {})[name] = {"digest": value_digest, "at": _now()}
        self._save(state)

    # -- vars: whole sets --------------------------------------------------------------------

    def var_sets(self) -> list[dict[str, Any]]:
        """The recorded sets, oldest first: digest, at, why, bindings."""
        sets = self._load().get("vars", [])
        return [s for s in sets if isinstance(s, dict) and "digest" in s]

    def remember_vars(self, bindings: list[dict[str, Any]], why: str) -> str:
        """Record the set when it differs from the last one; its digest."""
        found = vars_digest(bindings)
        state = self._load()
        sets = self.var_sets()
        if not sets or sets[-1]["digest"] != found:
            sets.append({"digest": found, "at": _now(), "why": why, "bindings": bindings})
            state["vars"] = sets[-HISTORY:]
            self._save(state)
        return found

    def find_vars(self, wanted: str) -> dict[str, Any] | None:
        """The last recorded set whose digest starts with `wanted` (sha256: prefix allowed)."""
        wanted = wanted.removeprefix("sha256:")
        return next((s for s in reversed(self.var_sets()) if s["digest"].startswith(wanted)), None)

    def previous_vars(self, current: str) -> dict[str, Any] | None:
        """The last recorded set that is not the one in place now."""
        return next((s for s in reversed(self.var_sets()) if s["digest"] != current), None)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
