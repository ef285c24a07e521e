"""What is installed as a provider, fingerprinted without importing any provider.

A procedure checked against the providers (`cockpit.procedure_check`) stays valid as long as
the same providers are installed with the same actions and parameters. Asking them means
importing each one (0.2-0.4 s with their clients) and even listing the entry points through
importlib.metadata costs about 60 ms, so the procedure cache (`cockpit.core.procedure_cache`)
keys its entries by this fingerprint instead: the installed distributions (name and version,
from the names of their metadata folders), the text of the entry points of every one that
registers a provider, and the source of every package those entry points name. Installing,
removing or upgrading anything, or editing a provider's source, changes it. A few
milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import sys
from importlib.util import find_spec

GROUP = "cockpit.providers"
"""The entry-point group a provider is registered in, built-in or third-party."""

_METADATA = (".dist-info", ".egg-info")


def fingerprint() -> str:
    """The hash of the installed providers: their distributions, entry points and source."""
    digest = hashlib.sha256()
    packages: set[str] = set()
    for folder in sys.path:
        digest.update(f"path {folder}\0".encode())
        try:
            names = sorted(os.listdir(folder or "."))
        except OSError:  # a zip, or a folder that is not there
            continue
        for name in names:
            if not name.endswith(_METADATA):
                continue
            digest.update(f"dist {name}\0".encode())
            text = _read(os.path.join(folder or ".", name, "entry_points.txt"))
            if text is not None and f"[{GROUP}]" in text:
                digest.update(text.encode() + b"\0")
                packages.update(_packages(text))
    for package in sorted(packages):
        digest.update(f"package {package}\0".encode())
        for path in _sources(package):
            digest.update(path.encode() + b"\0" + (_read_bytes(path) or b"") + b"\0")
    return digest.hexdigest()


def _read(path: str) -> str | None:
    raw = _read_bytes(path)
    return None if raw is None else raw.decode("utf-8", errors="replace")


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _packages(text: str) -> set[str]:
    """The top-level modules the GROUP section of an entry_points.txt names."""
    found: set[str] = set()
    inside = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            inside = line == f"[{GROUP}]"
        elif inside and "=" in line:
            value = line.partition("=")[2].strip()
            found.add(value.partition(":")[0].strip().partition(".")[0])
    return {name for name in found if name.isidentifier()}


def _sources(package: str) -> list[str]:
    """The Python files of a top-level module or package, sorted; none if it is not found."""
    try:
        spec = find_spec(package)  # a top-level name: found, not imported
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations is None:
        return [spec.origin] if spec.origin else []
    files: list[str] = []
    for root in spec.submodule_search_locations:
        for folder, subfolders, names in os.walk(root):
            subfolders[:] = sorted(name for name in subfolders if name != "__pycache__")
            files.extend(os.path.join(folder, name) for name in names if name.endswith(".py"))
    return sorted(files)
