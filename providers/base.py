"""The provider contract: class-level identity and capabilities, a pydantic Options model.

Methods are synchronous and blocking; the app runs them in thread workers. Every network or
subprocess call has an explicit timeout. Methods raise only `cockpit.core.errors.ProviderError`
subclasses and return core dataclasses; nothing here imports Textual.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from cockpit.core.metrics import Sample


class Capability(enum.Flag):
    """What a provider can do; the UI hides what a provider cannot."""

    METRICS = enum.auto()
    HEALTH = enum.auto()
    ROLLBACK = enum.auto()
    FLAGS = enum.auto()
    NOTIFY = enum.auto()


class ProviderOptions(BaseModel):
    """Base of every provider's Options: unknown keys are errors, so typos are caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Provider(ABC):
    """Base of every adapter to the outside world."""

    name: ClassVar[str]
    """Entry-point name, e.g. `prometheus_scrape`."""
    title: ClassVar[str]
    """Shown in panes and the timeline."""
    capabilities: ClassVar[Capability]
    Options: ClassVar[type[ProviderOptions]]

    def __init__(self, options: ProviderOptions) -> None:
        self.options = options

    def close(self) -> None:  # noqa: B027 - an optional hook with a safe default, not abstract
        """Release connections; default does nothing."""


class MetricSource(Provider):
    """A provider that samples metrics."""

    capabilities: ClassVar[Capability] = Capability.METRICS

    @abstractmethod
    def sample(self) -> list[Sample]:
        """Take one reading of every configured metric.

        A metric that cannot be read comes back as a Sample with value None and an error,
        so the pane shows why; ProviderError is raised only when the whole source is down.
        """

    @property
    @abstractmethod
    def metric_names(self) -> list[str]:
        """The metrics this source feeds."""
