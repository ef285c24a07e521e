"""Reading an action's parameters as numbers, with an error that names the parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.core.errors import ProviderError


def number_param(params: Mapping[str, Any], key: str, default: float, least: float) -> float:
    """`params[key]` as a number of at least `least` (`default` when absent)."""
    try:
        value = float(params.get(key, default))
    except (TypeError, ValueError):
        raise ProviderError(f"{key} must be a number, not {params.get(key)!r}") from None
    if value < least:
        raise ProviderError(f"{key} must be at least {least:g}, not {value:g}")
    return value
