"""The verification provider against a scratch folder: its evidence and its smoke test's marker.

Local (http=False): a smoke test that leaves a marker file in the working directory, and an
evidence capture whose files appear under the scratch's attachments folder.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from providers.base import ActionProvider
from providers.verification import VerificationOptions, VerificationProvider

from . import Case

EVIDENCE = {"uname": ["uname", "-a"], "greeting": "echo hello; echo to stderr >&2"}


class Scratch:
    """A temporary folder: the commands' working directory, `attachments/` for the evidence."""

    def __enter__(self) -> Scratch:
        self.tmp = tempfile.TemporaryDirectory(prefix="verification-")
        self.root = Path(self.tmp.name)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.tmp.cleanup()

    def provider(self, **overrides: Any) -> VerificationProvider:
        options = VerificationOptions.model_validate(
            {
                "attachments_dir": str(self.root / "attachments"),
                "working_dir": str(self.root),
                "timeout_seconds": 10.0,
                **overrides,
            }
        )
        return VerificationProvider(options)


def _provider(setup: Any, overrides: dict[str, Any]) -> ActionProvider:
    assert isinstance(setup, Scratch)
    return setup.provider(**overrides)


def _smoke_ran(setup: Any) -> bool:
    marker = setup.root / "smoke-ran.txt"
    return bool(marker.is_file() and marker.read_text() == "ok\n")


def _saved(setup: Any) -> bool:
    folder = setup.root / "attachments" / "incident-1" / "before-rollback"
    return all((folder / f"{name}.txt").is_file() for name in EVIDENCE)


CASES = [
    Case(
        "verification.smoke_test",
        Scratch,
        _provider,
        "smoke_test",
        {"command": "echo ok > smoke-ran.txt && cat smoke-ran.txt"},
        _smoke_ran,
        http=False,
    ),
    Case(
        "verification.capture_evidence",
        Scratch,
        _provider,
        "capture_evidence",
        {"commands": EVIDENCE, "label": "before-rollback", "incident": 1},
        _saved,
        http=False,
    ),
]
