"""The command cache clear against a scratch folder: its command leaves a marker.

Local (http=False): the command is an argv list run with no shell; Redis is covered by
tests/test_cache_clear.py against a real redis-server.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from providers.base import ActionProvider
from providers.cache_clear import CacheClearOptions, CacheClearProvider

from . import Case

CLEAR = [sys.executable, "-c", "open('cache-cleared.txt', 'w').write('ok'); print('cleared 4')"]


class Scratch:
    """A temporary folder: the command's working directory."""

    def __enter__(self) -> Scratch:
        self.tmp = tempfile.TemporaryDirectory(prefix="cache-clear-")
        self.root = Path(self.tmp.name)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.tmp.cleanup()


def _provider(setup: Any, overrides: dict[str, Any]) -> ActionProvider:
    options = CacheClearOptions.model_validate(
        {"working_dir": str(setup.root), "timeout_seconds": 10.0, **overrides}
    )
    return CacheClearProvider(options)


def _cleared(setup: Any) -> bool:
    return bool((setup.root / "cache-cleared.txt").is_file())


CASES = [
    Case("cache_clear.command", Scratch, _provider, "command", {"command": CLEAR}, _cleared, False)
]
