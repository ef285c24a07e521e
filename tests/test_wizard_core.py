"""The wizard's logic: every leaf of every built-in tree, evidence, back, replay from events."""

from __future__ import annotations

import pytest

from cockpit.core.outline import is_builtin
from cockpit.core.procedure import OutcomeNode
from cockpit.core.procedure_loader import builtin_names, load_builtin
from cockpit.core.recovery_text import recovery_words
from cockpit.core.wizard import ANSWERED, BACK, DECIDED, Wizard, WizardError, walks


@pytest.mark.parametrize("name", builtin_names())
def test_every_leaf_of_every_builtin_tree_is_reached_with_a_recommendation(name: str) -> None:
    procedure = load_builtin(name)
    outcomes = {
        node_id for node_id, node in procedure.tree.nodes.items() if isinstance(node, OutcomeNode)
    }
    reached = set()
    for route in walks(procedure):
        wizard = Wizard(procedure)
        for node_id, key in route:
            assert wizard.current == node_id
            wizard.answer(key)
        assert wizard.done
        reached.add(wizard.current)
        recommendation = wizard.recommendation()
        assert recommendation.outcome.outcome in recommendation.explanation
        for option in recommendation.options:  # level, recovery time, risk, best-for, named
            assert f"Level {option.level} · {option.title}" in recommendation.explanation
            assert recovery_words(option.recovery_time) in recommendation.explanation
    assert reached == outcomes and is_builtin(name)


def test_evidence_suggests_and_the_responder_may_override() -> None:
    procedure = load_builtin("ai-saas")
    wizard = Wizard(procedure)
    # walk to the first question linked to error_rate
    for route in walks(procedure):
        probe = Wizard(procedure)
        for _node, key in route:
            question = probe.question
            assert question is not None
            if question.evidence is not None and question.evidence.metric == "error_rate":
                break
            probe.answer(key)
        else:
            continue
        wizard = probe
        break
    question = wizard.question
    assert question is not None and question.evidence is not None
    suggestion = wizard.suggest({"error_rate": 9.0})
    assert suggestion is not None and suggestion.key == question.evidence.answer
    assert "error_rate is 9: > 5 holds" in suggestion.reason
    assert wizard.suggest({"error_rate": None}) is None  # no value, no suggestion
    other = next(a.key for a in question.answers if a.key != suggestion.key)
    step = wizard.answer(other, suggestion)
    assert step.overrode_evidence and step.suggested == suggestion.key


def test_back_changes_an_answer_and_bad_keys_are_refused() -> None:
    procedure = load_builtin("huntaze")
    wizard = Wizard(procedure)
    first = wizard.current
    question = wizard.question
    assert question is not None
    with pytest.raises(WizardError, match="is not an answer to"):
        wizard.answer("z")
    wizard.answer(question.answers[0].key)
    assert wizard.back() is not None and wizard.current == first
    assert wizard.back() is None


def test_the_path_rebuilds_from_timeline_events() -> None:
    procedure = load_builtin("huntaze")
    route = next(iter(walks(procedure)))
    live = Wizard(procedure)
    events = []
    for _, key in route:
        events.append((ANSWERED, Wizard.payload(live.answer(key))))
    events.append((BACK, {"node": live.back().node}))  # type: ignore[union-attr]
    resumed = Wizard(procedure)
    resumed.replay(events)
    assert [s.key for s in resumed.path] == [s.key for s in live.path]
    assert resumed.current == live.current
    resumed.replay([*events, (DECIDED, {})])
    assert resumed.path == [] and resumed.current == procedure.tree.start
    # a decided walk is closed: the next answer starts a new walk
    resumed.replay(
        [*events, (DECIDED, {}), (ANSWERED, {"node": procedure.tree.start, "key": route[0][1]})]
    )
    assert len(resumed.path) == 1
