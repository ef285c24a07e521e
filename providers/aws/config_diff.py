"""How two CloudFront configs differ, as a plan shows it, and the paths an invalidation takes.

A plan names every leaf of the config that changes; it shows the values only of harmless ones
(a Lambda@Edge version ARN, Enabled, the comment), since origin custom headers are often shared
secrets between CloudFront and the origin.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

SHOWN = ("LambdaFunctionARN", "Enabled", "Comment", "DefaultRootObject", "PriceClass", "Id")
"""Leaves whose values a plan shows; others are named only (origin headers hold secrets)."""
HIDDEN = ("OriginCustomHeaders", "CustomHeaders")


def paths_of(value: Any) -> list[str]:
    """['/*'] from a list, or from one path or a comma-separated string."""
    if not value:
        return []
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def leaves(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, f"{path}[{index}]")
    else:
        yield path, node


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The config's leaves that change, values shown only for harmless ones (see SHOWN)."""
    old, new = dict(leaves(before)), dict(leaves(after))
    found = []
    for path in sorted(old.keys() | new.keys()):
        if old.get(path, ...) == new.get(path, ...):
            continue
        last = path.rsplit(".", 1)[-1].split("[")[0]
        if last in SHOWN and not any(hidden in path for hidden in HIDDEN):
            found.append(f"{path}: {show(old.get(path))} → {show(new.get(path))}")
        else:
            found.append(f"{path}: changed")
    return found


def show(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value, default=str)[:80]
