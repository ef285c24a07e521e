"""The provider contract: class-level identity and capabilities, a pydantic Options model.

Methods are synchronous and blocking; the app runs them in thread workers. Every network or
subprocess call has an explicit timeout. Methods raise only `cockpit.core.errors.ProviderError`
subclasses and return core dataclasses; nothing here imports Textual.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from cockpit.core.actions import Delivered, Executed, Outgoing, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from cockpit.core.metrics import Sample


class Capability(enum.Flag):
    """What a provider can do; the UI hides what a provider cannot."""

    METRICS = enum.auto()
    HEALTH = enum.auto()
    ROLLBACK = enum.auto()
    FLAGS = enum.auto()
    NOTIFY = enum.auto()


@dataclass(frozen=True)
class Param:
    """One parameter an action reads from a procedure's `params` (or cockpit.toml's)."""

    what: str
    """What it is, in a few words."""
    required: bool = False
    """The action cannot run without it (or one of `instead`). A procedure may leave it as
    "[placeholder]", for the responder to fill in on the action screen."""
    instead: tuple[str, ...] = ()
    """Parameters that stand in for a required one (`commits` for `commit`)."""


Params = dict[str, Param]
"""The parameters of one action, by name."""


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

    @property
    def source_id(self) -> str:
        """This source's own id, what its failures and recoveries are keyed by: its provider's
        name, numbered when a session reads two sources of one type (`prometheus_query#2`),
        so one hung source cannot make the other look as if it failed and recovered."""
        return str(getattr(self, "_source_id", self.name))

    @source_id.setter
    def source_id(self, value: str) -> None:
        self._source_id = value


class ActionProvider(Provider):
    """A provider that changes something: a rollback, a flag, a cache clear.

    Each action goes preflight → plan → (confirm, by the runner) → execute → verify. Preflight
    reads only, and raises a ProviderError saying what is wrong when the action cannot run
    (no such target, nothing to roll back to, a limit of the provider). Plan is pure: the exact
    calls, what will change and the equivalent CLI line. Execute and verify run in a worker
    thread; they report progress and obey cancel and the deadline through `report`.
    """

    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    actions: ClassVar[dict[str, str]]
    """Action name → one line on what it does (the names procedures use)."""
    action_params: ClassVar[dict[str, Params]] = {}
    """Action name → every parameter its preflight (and choices) reads, so a procedure is
    checked before it runs: a parameter no action reads is a typo or a fact in the wrong
    place, a missing required one an action that cannot run. An action without an entry is
    not checked (a provider that declares nothing); the built-ins declare every action."""
    extra_params: ClassVar[dict[str, str]] = {}
    """Action name → what any parameter it does not declare is, for an action whose
    parameters are partly someone else's names (a workflow's inputs, which only its file
    declares: the provider checks them at preflight). Elsewhere an undeclared one is a typo."""

    def __init__(self, options: ProviderOptions) -> None:
        super().__init__(options)
        self.fixed_params: dict[str, Any] = {}
        """Parameters cockpit.toml sets for this environment; they win over the procedure's
        (a procedure names production's health URL, a staging cockpit its own)."""

    @abstractmethod
    def health(self) -> str:
        """One line on whether the provider answers and accepts our credentials; raises if not."""

    @abstractmethod
    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        """Check the action is feasible and return its plan; reads only."""

    @abstractmethod
    def execute(self, plan: Plan, report: Report) -> Executed:
        """Make the change the plan describes."""

    @abstractmethod
    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        """Poll until the change has taken (or the deadline passes)."""

    def fixed_for(self, action: str) -> dict[str, Any]:
        """The fixed parameters `action` reads (all of them when it declares none): a folder
        configured for restores is no parameter of a migration's undo."""
        declared = self.action_params.get(action)
        if declared is None:
            return dict(self.fixed_params)
        return {key: value for key, value in self.fixed_params.items() if key in declared}

    def warm(self) -> None:
        """Import what the first action needs, off the UI thread, while nothing waits for it
        (the cockpit calls it in a worker once the provider is configured). Reads nothing,
        changes nothing, never raises; the default does nothing."""

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Values a responder may pick for one parameter, as (value, label), best first.

        The action screen asks for a parameter the procedure left as a placeholder
        ("[blue-deployment-url]"); a provider that can list candidates (deployments,
        versions, tags) offers them here. Reads only; [] when there is nothing to offer.
        """
        return []

    def require(self, action: str) -> None:
        """Refuse an action this provider does not have, naming the ones it has."""
        if action not in self.actions:
            raise ProviderError(
                f"{self.name} has no action {action!r}; it has: {', '.join(sorted(self.actions))}"
            )


class Notifier(Provider):
    """A provider that sends messages: chat, paging, status page.

    `send` raises Undeliverable when the platform refused the message for good (4xx other than
    429), and any other ProviderError when it may work later (timeout, 429, 5xx): the outbox
    retries those with backoff and never loses the message.
    """

    capabilities: ClassVar[Capability] = Capability.NOTIFY

    @abstractmethod
    def health(self) -> str:
        """One line on whether the platform answers (without sending a message)."""

    @abstractmethod
    def send(self, message: Outgoing) -> Delivered:
        """Deliver one message, or raise."""
