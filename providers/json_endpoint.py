"""Read metrics out of any JSON document served over HTTP (status pages, health endpoints, ...).

Each sample() is one GET; every configured metric picks one number out of the document by a
dotted path, where a segment that is an integer indexes a list: `checks.database.latency_ms`,
`items.0.value`, `items.-1.value` (the last item). On an object a segment is always a key, so
`{"0": ...}` is reachable too.

Booleans count as 1 / 0, so an "up" flag can feed a rule; `invert` turns it into a failure flag.
Strings are not numbers, even when they look like one: a field that changes type is a change in
the endpoint worth seeing, not something to paper over. A missing path or a non-number is that
metric's Sample error naming the path and what was found; only the endpoint failing as a whole
(refused, timeout, an HTTP error status, a body that is not JSON or over `max_body_bytes`) raises
(RateLimited for a 429, or a 503 with Retry-After).

JSON as Python reads it has NaN and Infinity, and 1e999 is Infinity: none is ever a value, nor a
result that overflows after scale; each is that metric's no data with the reason.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import Field, field_validator

from cockpit.core.errors import ProviderUnavailable
from cockpit.core.metrics import Sample
from providers.http import NoValue, Query, QueryOptions, QuerySource, finite_sample, show
from providers.http_read import MiB


class JsonQuery(Query):
    """One cockpit metric read from one place in the document."""

    path: str
    """Dotted path; integer segments index lists (negative from the end)."""
    scale: float = Field(default=1.0, allow_inf_nan=False)
    invert: bool = False
    """Report 1 - value (before scaling): turns an `up: true` flag into a failure flag."""

    @field_validator("path")
    @classmethod
    def _check_path(cls, path: str) -> str:
        if not path or any(segment == "" for segment in path.split(".")):
            raise ValueError(f"empty segment in path {path!r}")
        return path


class JsonOptions(QueryOptions):
    """`url` is the document's full URL."""

    metrics: list[JsonQuery] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1 * MiB, gt=0)
    """A status or health document is a few KiB; a megabyte is already a wrong URL."""


def _describe(found: Any) -> str:
    """What was found instead of a number, briefly."""
    if found is None:
        return "null"
    if isinstance(found, dict):
        keys = ", ".join(list(found)[:8]) + (", ..." if len(found) > 8 else "")
        return f"an object (keys: {keys})" if found else "an empty object"
    if isinstance(found, list):
        return f"a list of {len(found)} items"
    if isinstance(found, str):
        return f"the string {found[:40]!r}"
    return repr(found)


def lookup(document: Any, path: str) -> Any:
    """The node at `path`; NoValue naming the first segment that does not resolve."""
    node = document
    walked: list[str] = []
    for segment in path.split("."):
        where = ".".join(walked) or "the document"
        if isinstance(node, dict):
            if segment not in node:
                raise NoValue(f"{path}: no key {segment!r} in {where} ({_describe(node)})")
            node = node[segment]
        elif isinstance(node, list):
            try:
                index = int(segment)
            except ValueError:
                raise NoValue(
                    f"{path}: {where} is {_describe(node)}, {segment!r} is not an index"
                ) from None
            if not -len(node) <= index < len(node):
                raise NoValue(f"{path}: index {index} out of range, {where} has {len(node)} items")
            node = node[index]
        else:
            raise NoValue(f"{path}: {where} is {_describe(node)}, not an object or a list")
        walked.append(segment)
    return node


def number_at(document: Any, path: str) -> float:
    """The number at `path` (booleans as 1 / 0); NoValue naming the path and what was found."""
    found = lookup(document, path)
    if isinstance(found, bool):
        return 1.0 if found else 0.0
    if not isinstance(found, int | float):
        raise NoValue(f"{path}: expected a number, found {_describe(found)}")
    try:
        value = float(found)
    except OverflowError:  # an integer past 1.8e308
        raise NoValue(f"{path}: {str(found)[:20]}… is too large for a number") from None
    if not math.isfinite(value):
        raise NoValue(f"{path} is {show(value)}")
    return value


class JsonSource(QuerySource):
    """GETs a JSON document and reads the configured metrics out of it."""

    name = "json_endpoint"
    title = "JSON endpoint"
    Options = JsonOptions

    def __init__(self, options: JsonOptions, **seams: Any) -> None:
        super().__init__(options, **seams)
        self.opts = options

    def fetch(self) -> Any:
        """One GET and JSON parse; raises ProviderUnavailable / ProviderTimeout / RateLimited."""
        url = self.opts.url
        response = self.get(url, self.deadline(), headers={"Accept": "application/json"})
        if not 200 <= response.status_code < 300:
            raise ProviderUnavailable(
                f"GET {url}: HTTP {response.status_code} {response.reason_phrase}".rstrip()
            )
        try:
            return json.loads(response.content)
        except RecursionError as exc:
            raise ProviderUnavailable(f"GET {url}: JSON nested too deep to read") from exc
        except ValueError as exc:
            snippet = response.text[:60]
            raise ProviderUnavailable(f"GET {url}: not JSON: {snippet!r}") from exc

    def sample(self) -> list[Sample]:
        document = self.fetch()
        at = self.clock.now()
        samples = []
        for query in self.opts.metrics:
            try:
                value = number_at(document, query.path)
            except NoValue as why:
                samples.append(Sample(query.name, None, at, self.name, str(why)))
                continue
            if query.invert:
                value = 1.0 - value
            samples.append(finite_sample(query.name, value * query.scale, at, self.name))
        return samples
