"""The procedure model: one team's rollback runbook as validated data.

A procedure file (YAML, in checklists/ for the built-ins) is parsed by
`cockpit.core.procedure_loader`, which turns every problem into a one-line ProcedureError.
This module holds only the shapes and the cross-reference rules.
"""

from __future__ import annotations

import re
import string
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from cockpit.core.rules import Comparison, NoDataPolicy, TriggerMode

#: Incident facts a communication template may name, as `{name}`. Anything else is an error,
#: so a typo in a template is caught when the file is validated, not while sending at 3 a.m.
TEMPLATE_FIELDS: dict[str, str] = {
    "severity": "severity level id, e.g. P1",
    "affected": "affected feature, component or system",
    "component": "component rolled back (Worker, Frontend, Database, ...)",
    "feature": "the feature concerned",
    "reason": "brief description of why",
    "description": "longer description of the issue",
    "impact": "user-facing impact",
    "action": "what is being done",
    "level": "rollback level or option chosen",
    "version": "version rolled back to",
    "eta": "expected completion time",
    "timeframe": "expected time until normal service",
    "time": "current time, HH:MM UTC",
    "start_time": "incident start, HH:MM UTC",
    "end_time": "incident end, HH:MM UTC",
    "duration": "total downtime",
    "date": "incident date, YYYY-MM-DD",
    "incident_lead": "person managing the incident",
    "status_page": "status page link",
    "status_page_state": "whether the status page was updated: Updated, Updating, Not updated yet",
    "title": "incident title",
    "status": "current status",
}


class Strict(BaseModel):
    """Base for every procedure shape: unknown keys are errors, values are immutable, and a
    number is finite (NaN compares false with everything, so a NaN threshold never fires).

    The validators are built at the first validation, not at import (`defer_build`): a
    procedure read from the cache (`cockpit.core.procedure_cache`) is constructed without
    them, and building them at import cost every start about 30 ms more.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


MAX_SAMPLES = 1_000_000
"""The most samples a rule may count: eleven days at one a second. The counters are deques of
this length; a bigger number (10**20) would overflow them when the rule is built."""

MAX_MINUTES = 525_600
"""A year, the longest escalation delay or status-update period: beyond it `timedelta`
overflows, and no incident waits that long."""

Samples = Annotated[int, Field(ge=1, le=MAX_SAMPLES)]


Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]


class MetricSpec(Strict):
    """A metric the procedure talks about; sources feed it by this name."""

    title: str
    unit: str = ""
    description: str = ""


class TriggerRule(Strict):
    """An automatic rollback trigger, evaluated on the metric's samples.

    consecutive: `count` breaching samples in a row.
    window: at least `count` breaches within the last `within` samples.
    baseline: the value compared with `threshold` is the percentage change against the median of
    the `baseline_samples` samples before the evaluated ones.
    """

    id: Identifier
    title: str
    metric: Identifier
    comparison: Comparison
    threshold: float
    mode: TriggerMode = TriggerMode.CONSECUTIVE
    count: Samples = 1
    within: Samples | None = None
    baseline_samples: Samples | None = None
    min_samples: Samples = 1
    no_data: NoDataPolicy = NoDataPolicy.HOLD
    clear_after: Samples = Field(default=1, description="non-breaching samples in a row to clear")
    severity: Identifier | None = None
    action: Literal["rollback", "alert"] = "rollback"
    source_text: str = Field(description="the seed's own words for this trigger")
    note: str = ""

    @model_validator(mode="after")
    def _mode_fields(self) -> TriggerRule:
        if self.mode is TriggerMode.WINDOW:
            if self.within is None:
                raise ValueError("mode 'window' needs 'within' (the number of recent samples)")
            if self.count > self.within:
                raise ValueError(f"count {self.count} cannot exceed within {self.within}")
        elif self.within is not None:
            raise ValueError(f"'within' only applies to mode 'window', not '{self.mode}'")
        if self.mode is TriggerMode.BASELINE and self.baseline_samples is None:
            raise ValueError("mode 'baseline' needs 'baseline_samples'")
        if self.mode is not TriggerMode.BASELINE and self.baseline_samples is not None:
            raise ValueError(
                f"'baseline_samples' only applies to mode 'baseline', not '{self.mode}'"
            )
        return self


class ManualTrigger(Strict):
    """A condition the responder judges (data corruption, security breach, ...)."""

    id: Identifier
    title: str
    category: Literal["critical", "warning"] = "critical"
    signs: list[str] = []


class SeverityLevel(Strict):
    """One severity level as the team names it (P0, Critical, Warning, ...)."""

    id: Identifier
    title: str
    description: str = ""


class PercentRange(Strict):
    """A share of users, for classifying impact: lower < x <= upper, bounds optional.

    `include_lower` / `include_upper` move a boundary value in or out, so a seed's "< 10%" next
    to "10-50%" can be written without two rows both claiming exactly 10%.
    """

    above: float | None = None
    at_most: float | None = None
    include_lower: bool = False
    include_upper: bool = True

    def contains(self, value: float) -> bool:
        """Whether `value` (a percentage) falls in the range."""
        if self.above is not None and (
            value < self.above or (value == self.above and not self.include_lower)
        ):
            return False
        return not (
            self.at_most is not None
            and (value > self.at_most or (value == self.at_most and not self.include_upper))
        )


class MatrixRow(Strict):
    """One row of the seed's decision matrix, columns kept in the seed's words."""

    severity: Identifier
    cells: dict[str, str]
    users_pct: PercentRange | None = None
    respond_within_min: float | None = None
    options: list[Identifier] = []
    outcome: Literal["rollback", "fix_forward", "monitor", "scheduled_fix"] = "rollback"


class DecisionMatrix(Strict):
    """The severity matrix: the seed's table plus explicit tie-breaks."""

    columns: list[str]
    rows: list[MatrixRow]
    tie_breaks: list[str] = []

    @model_validator(mode="after")
    def _cells_match_columns(self) -> DecisionMatrix:
        known = set(self.columns)
        for index, row in enumerate(self.rows):
            unknown = sorted(set(row.cells) - known)
            if unknown:
                raise ValueError(f"rows[{index}] has cells for unknown columns {unknown}")
        return self


class Answer(Strict):
    """One answer to a wizard question: a key to press and where it leads."""

    key: Annotated[str, Field(min_length=1, max_length=1)]
    label: str
    next: Identifier


class MetricLink(Strict):
    """Lets the wizard prefill a question from live evidence: answer `key` when it holds."""

    metric: Identifier
    comparison: Comparison
    threshold: float
    answer: str


class Monitor(Strict):
    """A timed watch the runbook asks for before a question ("Monitor for 10 minutes"): the
    wizard counts it down with the metric on screen; an earlier answer says how long it was."""

    minutes: float = Field(gt=0, le=MAX_MINUTES)
    metric: Identifier | None = None


class QuestionNode(Strict):
    """A question in the decision tree."""

    question: str
    help: str = ""
    evidence: MetricLink | None = None
    monitor: Monitor | None = None
    answers: list[Answer] = Field(min_length=2)

    @model_validator(mode="after")
    def _distinct_keys(self) -> QuestionNode:
        keys = [answer.key for answer in self.answers]
        if len(keys) != len(set(keys)):
            raise ValueError(f"answer keys repeat: {keys}")
        if self.evidence is not None and self.evidence.answer not in keys:
            raise ValueError(f"evidence answer {self.evidence.answer!r} is not one of {keys}")
        return self


class OrderedStep(Strict):
    """A step the runbook orders before the rollback ("Notify stakeholders"), settled by
    Enter (done) or a typed reason (skipped) on the action screen, or by its checklist items."""

    text: str
    items: list[str] = Field(
        default=[],
        description="checklist items, as list.item (during.notified), that settle this step "
        "once each is ticked or skipped; settling the step on the action screen ticks them",
    )


class OutcomeNode(Strict):
    """A leaf of the decision tree: what to do, and with which rollback options."""

    outcome: str
    decision: Literal["rollback", "fix_forward", "monitor", "assess"]
    severity: Identifier | None = None
    options: list[Identifier] = []
    within: str = ""
    explanation: str = ""
    before: list[OrderedStep] = Field(
        default=[],
        description="steps this outcome orders before any rollback (notify stakeholders, then "
        "capture evidence), each done or skipped with a reason, in order, before a rollback "
        "option can run or be done by hand",
    )


def _node_kind(value: Any) -> str | None:
    """A node with a `question` key is a question; anything else is read as an outcome."""
    if isinstance(value, dict):
        return "question" if "question" in value else "outcome"
    if isinstance(value, QuestionNode):
        return "question"
    return "outcome" if isinstance(value, OutcomeNode) else None


TreeNode = Annotated[
    Annotated[QuestionNode, Tag("question")] | Annotated[OutcomeNode, Tag("outcome")],
    Discriminator(_node_kind),
]


class DecisionTree(Strict):
    """The decision tree: from `start`, questions lead to outcomes."""

    derived: bool = False
    derived_from: str = ""
    start: Identifier
    nodes: dict[Identifier, TreeNode]

    @model_validator(mode="after")
    def _derivation_stated(self) -> DecisionTree:
        if self.derived and not self.derived_from:
            raise ValueError("a derived tree must say what it was derived from ('derived_from')")
        return self


class RecoveryTime(Strict):
    """Expected recovery time in minutes, plus the seed's own wording."""

    min_minutes: float = Field(ge=0)
    max_minutes: float = Field(ge=0)
    text: str

    @model_validator(mode="after")
    def _ordered(self) -> RecoveryTime:
        if self.max_minutes < self.min_minutes:
            raise ValueError("max_minutes is below min_minutes")
        return self


PLACEHOLDER = re.compile(r"^\[[^\]]+\]$")
"""A parameter the procedure leaves to the responder: "[commit-hash]"."""


def is_placeholder(value: object) -> bool:
    """Whether a parameter's value is a placeholder the action screen asks for."""
    return isinstance(value, str) and PLACEHOLDER.match(value) is not None


class RollbackOption(Strict):
    """A way to roll back: which provider action, how long, how risky, when it fits."""

    id: Identifier
    level: int = Field(ge=1)
    title: str
    provider: Identifier
    action: Identifier
    params: dict[str, str | int | float | bool | list[str]] = {}
    recovery_time: RecoveryTime
    risk: Literal["low", "low-medium", "medium", "high", "critical"]
    impact: str = ""
    best_for: str
    destructive: bool = False
    warning: str = ""
    note: str = Field(default="", description="where a value is ours, not the seed's, and why")
    steps: list[str] = []
    commands: list[str] = []
    before: list[str] = Field(
        default=[],
        description="steps the responder does before the provider acts (stop the app), each "
        "done or skipped with a reason, in order, before the plan can be confirmed",
    )
    after: list[str] = Field(
        default=[],
        description="steps the responder does once the provider's action succeeded (restart "
        "the app), each done or skipped with a reason, in order, on the action screen",
    )


class AutomaticRollback(Strict):
    """A rollback the cockpit starts by itself when named triggers fire, where the runbook asks
    for one ("the system executes the rollback automatically"): announced with a countdown any
    responder can cancel, then planned, run and verified like any other."""

    option: Identifier
    triggers: list[Identifier] = Field(min_length=1)
    """Rule ids: the first of them to fire starts the countdown."""
    countdown_seconds: float = Field(default=60.0, ge=10, le=3600)
    """Between the announcement and the start, on the incident's clock."""
    destructive_allowed: bool = False
    """Whether a plan the provider (or the option) marks destructive may run unattended."""


class AutoCheck(Strict):
    """Ticks a checklist item by itself: a metric rule holding, or an option's verified result."""

    metric: Identifier | None = None
    comparison: Comparison | None = None
    threshold: float | None = None
    samples: Samples = 1
    option_verified: Identifier | None = None
    """Ticks when this option's rollback is verified; `any`: any option's."""

    @model_validator(mode="after")
    def _one_kind(self) -> AutoCheck:
        metric_rule = (self.metric, self.comparison, self.threshold)
        has_metric = any(part is not None for part in metric_rule)
        if has_metric and None in metric_rule:
            raise ValueError("a metric check needs metric, comparison and threshold")
        if has_metric == (self.option_verified is not None):
            raise ValueError("an automatic check is either a metric rule or option_verified")
        return self


class ItemRun(Strict):
    """What the cockpit can run for a checklist item (a health check, a smoke test); its
    verified result ticks the item."""

    provider: Identifier
    action: Identifier
    params: dict[str, str | int | float | bool | list[str] | dict[str, str]] = {}


class ChecklistItem(Strict):
    """One checkbox."""

    id: Identifier
    text: str
    section: str = ""
    auto: AutoCheck | None = None
    run: ItemRun | None = None
    within_hours: float | None = Field(
        default=None,
        gt=0,
        le=720,
        description="due this many hours after the incident opened (the runbook's "
        "'post-mortem within 24h'): shown with its deadline, reminded once if it passes open",
    )
    drill: Literal["rollback", "full"] | None = Field(
        default=None,
        description="a practice-drill item a scored drill (`cockpit drill`) does: ticked by "
        "itself when the drill is scored, `rollback` if its rollback succeeded, `full` if "
        "that rollback was also verified",
    )


ChecklistKind = Literal["quick", "pre", "during", "post", "verification", "follow_up", "drill"]


class Checklist(Strict):
    """A named list of checkboxes of one kind."""

    title: str
    items: list[ChecklistItem] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Checklist:
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"item id {item.id!r} repeats")
            seen.add(item.id)
        return self


class Template(Strict):
    """A communication template; `{placeholders}` must be names from TEMPLATE_FIELDS."""

    title: str
    audience: Literal["internal", "customer", "status_page", "stakeholders"]
    channel: Literal["slack", "email", "in_app", "status_page", "chat", "document"]
    when: str = ""
    subject: str = ""
    body: str

    def placeholders(self) -> list[str]:
        """The field names the subject and body use, in order of appearance."""
        names: list[str] = []
        for text in (self.subject, self.body):
            for _, field, _, _ in string.Formatter().parse(text):
                if field is not None and field not in names:
                    names.append(field)
        return names


class EscalationStep(Strict):
    """Who is pulled in, and after how many minutes from incident start."""

    role: str
    after_minutes: float | None = Field(default=None, ge=0, le=MAX_MINUTES)
    level: int = Field(ge=1)
    contact: str = ""


class Escalation(Strict):
    """The escalation path and the status-update cadence."""

    steps: list[EscalationStep]
    status_update_every_minutes: float | None = Field(default=None, ge=1, le=MAX_MINUTES)
    """At least a minute: the updates owed are counted in periods since the opening, and a
    tiny period (or one that rounds to zero microseconds) would count without end."""
    note: str = ""


class Objective(Strict):
    """A recovery objective: RTO and RPO in minutes, for a service or the whole procedure."""

    service: str
    rto_minutes: float = Field(gt=0)
    rpo_minutes: float | None = Field(default=None, ge=0)
    priority: str = ""


class Target(Strict):
    """A rollback metric target, e.g. time to decision < 2 minutes."""

    metric: Literal[
        "time_to_detect", "time_to_decide", "time_to_rollback", "time_to_verify", "total_duration"
    ]
    under_minutes: float = Field(gt=0)
    title: str


class Contact(Strict):
    """Someone to call: a role, maybe a name, how to reach them."""

    role: str
    name: str = ""
    reach: str = ""
    kind: Literal["person", "vendor"] = "person"


class Procedure(Strict):
    """One team's rollback procedure."""

    schema_version: Literal[1] = Field(alias="schema")
    name: Identifier
    title: str
    organisation: str
    source: str
    summary: str
    sample_interval_seconds: float = Field(gt=0)
    metrics: dict[Identifier, MetricSpec]
    triggers: list[TriggerRule]
    manual_triggers: list[ManualTrigger] = []
    severities: list[SeverityLevel] = Field(min_length=1)
    matrix: DecisionMatrix | None = None
    tree: DecisionTree
    options: list[RollbackOption] = Field(min_length=1)
    checklists: dict[ChecklistKind, Checklist]
    templates: dict[Identifier, Template] = {}
    escalation: Escalation
    objectives: list[Objective] = []
    targets: list[Target] = []
    contacts: list[Contact] = []
    postmortem_sections: list[str] = []
    automatic: list[AutomaticRollback] = Field(
        default=[],
        description="rollbacks the cockpit starts by itself when named triggers fire (opt-in; "
        "at most one per incident)",
    )
    short_confirmation: bool = Field(
        default=False,
        description="a destructive option may be confirmed by typing the last four letters or "
        "digits of its target's name (shown in full beside it) instead of the whole name",
    )

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False, defer_build=True
    )

    def option(self, option_id: str) -> RollbackOption:
        """The rollback option with this id (KeyError if none)."""
        for option in self.options:
            if option.id == option_id:
                return option
        raise KeyError(option_id)

    def severity(self, severity_id: str) -> SeverityLevel:
        """The severity level with this id (KeyError if none)."""
        for level in self.severities:
            if level.id == severity_id:
                return level
        raise KeyError(severity_id)
