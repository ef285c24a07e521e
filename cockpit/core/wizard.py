"""The decision wizard's logic: a procedure's tree walked one question at a time, with evidence.

Pure Python; the wizard screen drives it. The state is just the path of answers, so it is
rebuilt from the timeline's `wizard.answered` / `wizard.back` events after a restart or an SSH
drop. Where a question is linked to a metric (`evidence` in the procedure), the latest value
suggests an answer; the responder always decides, and both are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cockpit.core.metrics import compare
from cockpit.core.recovery_text import recovery_words

if TYPE_CHECKING:
    from cockpit.core.procedure import (
        Answer,
        OutcomeNode,
        Procedure,
        QuestionNode,
        RollbackOption,
        SeverityLevel,
    )

ANSWERED = "wizard.answered"
BACK = "wizard.back"
DECIDED = "wizard.decided"


class WizardError(ValueError):
    """A key that is not an answer here, or a step that does not exist."""


@dataclass(frozen=True)
class Suggestion:
    """What the live evidence says the answer is, and why."""

    key: str
    reason: str


@dataclass(frozen=True)
class Answered:
    """One step taken: the question, the key chosen, and what the evidence had suggested."""

    node: str
    key: str
    label: str
    suggested: str | None = None
    reason: str = ""
    actor: str = ""
    """Who answered (known once read back from the timeline; "" for a step being taken)."""

    @property
    def overrode_evidence(self) -> bool:
        """True when the responder chose differently from the evidence."""
        return self.suggested is not None and self.suggested != self.key


@dataclass(frozen=True)
class Recommendation:
    """Where the answers lead: the outcome, its options in order, and why."""

    outcome: OutcomeNode
    options: list[RollbackOption]
    severity: SeverityLevel | None
    explanation: str


def severity_label(level: SeverityLevel) -> str:
    """The incident's severity for a procedure's level: the short form of a title such as
    "P0 - Critical" (P0, as responders and PagerDuty say it), or the title itself (Critical)."""
    head = level.title.split(" - ", 1)[0].strip()
    return head or level.id


class Wizard:
    """Walks one procedure's decision tree."""

    def __init__(self, procedure: Procedure) -> None:
        self.procedure = procedure
        self.path: list[Answered] = []

    # --- where we are -------------------------------------------------------------------------

    @property
    def current(self) -> str:
        """The id of the node the path leads to."""
        node = self.procedure.tree.start
        for step in self.path:
            node = self._answer(node, step.key).next
        return node

    @property
    def question(self) -> QuestionNode | None:
        """The question to ask now, or None when the path reached an outcome."""
        from cockpit.core.procedure import QuestionNode

        node = self.procedure.tree.nodes[self.current]
        return node if isinstance(node, QuestionNode) else None

    @property
    def done(self) -> bool:
        """Whether the path reached an outcome."""
        return self.question is None

    def _answer(self, node_id: str, key: str) -> Answer:
        from cockpit.core.procedure import QuestionNode

        node = self.procedure.tree.nodes.get(node_id)
        if not isinstance(node, QuestionNode):
            raise WizardError(f"{node_id!r} is not a question")
        for answer in node.answers:
            if answer.key == key:
                return answer
        keys = ", ".join(a.key for a in node.answers)
        raise WizardError(f"{key!r} is not an answer to {node_id!r} (answers: {keys})")

    # --- moving -------------------------------------------------------------------------------

    def suggest(self, latest: Mapping[str, float | None]) -> Suggestion | None:
        """The evidence's answer to the current question, from the latest metric values."""
        question = self.question
        if question is None or question.evidence is None:
            return None
        link = question.evidence
        value = latest.get(link.metric)
        if value is None:
            return None
        holds = compare(value, link.comparison, link.threshold)
        if holds:
            key = link.answer
        else:
            others = [a.key for a in question.answers if a.key != link.answer]
            if len(others) != 1:
                return None  # the link says when one answer holds, not which other one does
            key = others[0]
        verb = "holds" if holds else "does not hold"
        reason = f"{link.metric} is {value:g}: {link.comparison} {link.threshold:g} {verb}"
        return Suggestion(key, reason)

    def answer(self, key: str, suggestion: Suggestion | None = None) -> Answered:
        """Answer the current question with `key`; the suggestion is kept beside the choice."""
        node = self.current
        chosen = self._answer(node, key)
        step = Answered(
            node,
            key,
            chosen.label,
            suggestion.key if suggestion else None,
            suggestion.reason if suggestion else "",
        )
        self.path.append(step)
        return step

    def back(self) -> Answered | None:
        """Undo the last answer (to change it); None at the first question."""
        return self.path.pop() if self.path else None

    # --- the end ------------------------------------------------------------------------------

    def recommendation(self) -> Recommendation:
        """The outcome the answers lead to, with an explanation naming them."""
        from cockpit.core.procedure import OutcomeNode

        node = self.procedure.tree.nodes[self.current]
        if not isinstance(node, OutcomeNode):
            raise WizardError("the decision is not reached yet")
        options = [self.procedure.option(option_id) for option_id in node.options]
        severity = self.procedure.severity(node.severity) if node.severity else None
        return Recommendation(node, options, severity, self._explain(node, options, severity))

    def _explain(
        self, node: OutcomeNode, options: list[RollbackOption], severity: SeverityLevel | None
    ) -> str:
        from cockpit.core.procedure import QuestionNode

        lines = []
        for step in self.path:
            question = self.procedure.tree.nodes[step.node]
            assert isinstance(question, QuestionNode)
            line = f"{question.question} → {step.label}"
            if step.suggested is not None:
                if step.overrode_evidence:
                    line += (
                        f" (overriding the evidence, which said {step.suggested}: {step.reason})"
                    )
                else:
                    line += f" (as the evidence says: {step.reason})"
            lines.append(line)
        head = node.outcome
        if severity is not None and severity.title not in head:
            head += f" — {severity.title}"
        if node.within:
            head += f", {node.within}"
        lines.append(head)
        for option in options:
            lines.append(
                f"Level {option.level} · {option.title}: {recovery_words(option.recovery_time)}, "
                f"risk {option.risk}; best for {option.best_for}"
            )
        if node.explanation:
            lines.append(node.explanation)
        return "\n".join(lines)

    # --- the timeline -------------------------------------------------------------------------

    @staticmethod
    def payload(step: Answered) -> dict[str, Any]:
        """What a `wizard.answered` event carries, enough to rebuild the path."""
        return {
            "node": step.node,
            "key": step.key,
            "label": step.label,
            "suggested": step.suggested,
            "reason": step.reason,
        }

    def replay(self, events: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        """Rebuild the path from (kind, payload) pairs of the timeline, in order.

        A `wizard.decided` event closes a walk: a later answer starts a new one.
        """
        self.path, self.closed = [], False
        for kind, payload in events:
            self.apply(kind, payload)
        if self.closed:
            self.path = []  # the last walk ended in a decision: the next one starts afresh

    closed = False
    """The last walk ended in a decision; the next answer starts a new one."""

    def apply(self, kind: str, payload: Mapping[str, Any], actor: str = "") -> Answered | None:
        """Take one wizard event as it is read back; returns the step an answer replaced
        (two responders answering the same question: the later one wins, and the earlier one
        is returned so the conflict can be shown), else None."""
        if kind == DECIDED:
            self.closed = True
            return None
        if kind == BACK:
            if self.path and not self.closed:
                self.path.pop()
            return None
        if kind != ANSWERED:
            return None
        if self.closed:
            self.path, self.closed = [], False
        step = Answered(
            str(payload.get("node", "")),
            str(payload.get("key", "")),
            str(payload.get("label", "")),
            payload.get("suggested"),
            str(payload.get("reason", "")),
            actor,
        )
        if step.node == self.current:
            self.path.append(step)
            return None
        # An answer to a question already passed: someone else answered it meanwhile.
        nodes = [earlier.node for earlier in self.path]
        if step.node not in nodes:
            return None  # the procedure changed under the incident: what no longer fits
        at = nodes.index(step.node)
        replaced = self.path[at]
        if replaced.key == step.key:
            return None  # the same answer twice
        self.path = [*self.path[:at], step]
        return replaced


def walks(procedure: Procedure) -> Iterator[list[tuple[str, str]]]:
    """Every path from the start to an outcome, as (question, key) pairs: one per leaf route."""
    from cockpit.core.procedure import QuestionNode

    def follow(node_id: str, trail: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
        node = procedure.tree.nodes[node_id]
        if not isinstance(node, QuestionNode):
            yield trail
            return
        for answer in node.answers:
            yield from follow(answer.next, [*trail, (node_id, answer.key)])

    yield from follow(procedure.tree.start, [])
