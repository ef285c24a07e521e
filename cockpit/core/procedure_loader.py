"""Loads procedure files and turns every problem into one line: file, line, field, problem.

The text is read and its YAML composed within bounds (`cockpit.core.procedure_file`); the
composed node tree keeps the line of every key and item, and the data constructed from the
same nodes is what pydantic validates. Errors from pydantic and from the cross-reference checks
below are located through the node tree. Checks that need more than the file (the installed
providers, which the core may not import) come in as `check`: see `cockpit.procedure_check`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cockpit.core.checklist_state import ANY_OPTION
from cockpit.core.errors import Problem, ProcedureFileError
from cockpit.core.procedure import (
    TEMPLATE_FIELDS,
    OutcomeNode,
    Procedure,
    QuestionNode,
    Template,
)
from cockpit.core.procedure_file import (
    builtin_names,
    construct,
    names_a_file,
    parse_yaml,
    read_builtin,
    read_text,
)

__all__ = [
    "Check",
    "Problem",
    "ProcedureFileError",
    "builtin_names",
    "format_field",
    "load_builtin",
    "load_procedure",
    "load_procedure_file",
    "parse_procedure",
]

Path_ = tuple[str | int, ...]

Check = Callable[[Procedure], Iterable[tuple[Path_, str]]]
"""More checks of a valid procedure: (data path, problem) pairs, located like the others."""


def format_field(path: Iterable[str | int]) -> str:
    """('tree', 'nodes', 'q1', 'answers', 0, 'next') -> 'tree.nodes.q1.answers[0].next'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


class _LineIndex:
    """Maps a data path to the line (1-based) where YAML wrote it."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.lines: dict[Path_, int] = {}
        self.duplicates: list[Problem] = []
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: Path_) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                child = (*path, key)
                if key in seen:
                    self.duplicates.append(
                        Problem(key_node.start_mark.line + 1, format_field(child), "key repeats")
                    )
                seen.add(key)
                self.lines[child] = key_node.start_mark.line + 1
                self._walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                self._walk(item, (*path, index))

    def line(self, path: Path_) -> int | None:
        """The line of the deepest part of `path` that the file contains."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None


#: Tags of the tree-node union, which pydantic puts in an error's location after the node id.
_NODE_TAGS = frozenset({"question", "outcome"})


def _data_path(data: Any, loc: tuple[str | int, ...]) -> Path_:
    """Drop pydantic's union tags and '[key]' markers: keep only segments present in the data."""
    kept: list[str | int] = []
    current = data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if position == 3 and loc[:2] == ("tree", "nodes") and part in _NODE_TAGS:
            continue  # the tree node union's tag; it is also a key of the node, so skip by place
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            kept.append(part)
            current = current[part]
        elif last and part != "[key]" and not isinstance(current, list):
            kept.append(part)  # a missing field: name it, at its parent's line
    return tuple(kept)


def _pydantic_problems(error: ValidationError, data: Any, index: _LineIndex) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        path = _data_path(data, item["loc"])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(Problem(index.line(path), format_field(path), message))
    return problems


def _reference_problems(procedure: Procedure) -> Iterator[tuple[Path_, str]]:
    """Cross-references pydantic cannot see: ids, tree shape, placeholders, providers."""
    metrics = set(procedure.metrics)
    severities = {level.id for level in procedure.severities}
    options = [option.id for option in procedure.options]
    option_set = set(options)

    for path, ids in (
        (("options",), options),
        (("triggers",), [t.id for t in procedure.triggers]),
        (("severities",), [s.id for s in procedure.severities]),
    ):
        seen: set[str] = set()
        for position, item_id in enumerate(ids):
            if item_id in seen:
                yield (*path, position, "id"), f"id {item_id!r} repeats"
            seen.add(item_id)

    for position, trigger in enumerate(procedure.triggers):
        if trigger.metric not in metrics:
            yield ("triggers", position, "metric"), f"unknown metric {trigger.metric!r}"
        if trigger.severity is not None and trigger.severity not in severities:
            yield ("triggers", position, "severity"), f"unknown severity {trigger.severity!r}"

    if procedure.matrix is not None:
        for position, row in enumerate(procedure.matrix.rows):
            if row.severity not in severities:
                yield ("matrix", "rows", position, "severity"), f"unknown severity {row.severity!r}"
            for pick, option_id in enumerate(row.options):
                if option_id not in option_set:
                    yield (
                        ("matrix", "rows", position, "options", pick),
                        f"unknown option {option_id!r}",
                    )

    yield from _tree_problems(procedure, severities, option_set)

    for kind, checklist in procedure.checklists.items():
        for position, item in enumerate(checklist.items):
            auto = item.auto
            if auto is None:
                continue
            where = ("checklists", kind, "items", position, "auto")
            if auto.metric is not None and auto.metric not in metrics:
                yield (*where, "metric"), f"unknown metric {auto.metric!r}"
            verified = auto.option_verified
            if verified is not None and verified != ANY_OPTION and verified not in option_set:
                yield (*where, "option_verified"), f"unknown option {auto.option_verified!r}"

    for name, template in procedure.templates.items():
        for part in ("subject", "body"):
            for message in _template_problems(template, part):
                yield ("templates", name, part), message

    yield from _escalation_problems(procedure)
    yield from _automatic_problems(procedure, option_set)


def _automatic_problems(procedure: Procedure, options: set[str]) -> Iterator[tuple[Path_, str]]:
    """An automatic rollback names an option and triggers that exist, triggers that roll back."""
    rules = {rule.id: rule for rule in procedure.triggers}
    for position, auto in enumerate(procedure.automatic):
        where = ("automatic", position)
        if auto.option not in options:
            yield (*where, "option"), f"unknown option {auto.option!r}"
        elif procedure.option(auto.option).provider == "manual":
            yield (*where, "option"), f"option {auto.option!r} is done by hand: nothing to start"
        for pick, rule_id in enumerate(auto.triggers):
            rule = rules.get(rule_id)
            if rule is None:
                yield (*where, "triggers", pick), f"unknown trigger {rule_id!r}"
            elif rule.action != "rollback":
                yield (*where, "triggers", pick), f"trigger {rule_id!r} does not ask for a rollback"


#: The conversions str.format knows; anything else fails only when a draft is rendered.
_CONVERSIONS = frozenset({"r", "s", "a"})
#: Widths above this would build a huge string at every render.
_MAX_WIDTH = 1000


def _template_problems(template: Template, part: str) -> Iterator[str]:
    """What in a template's subject or body would fail when a draft is rendered from it."""
    text: str = getattr(template, part)
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as error:
        yield f"bad placeholder syntax: {error}"
        return
    for _, field, spec, conversion in fields:
        if field is None:
            continue
        if field not in TEMPLATE_FIELDS:
            yield (
                f"placeholder {{{field}}} does not exist"
                f" (known: {', '.join(sorted(TEMPLATE_FIELDS))})"
            )
            continue
        if conversion is not None and conversion not in _CONVERSIONS:
            yield (
                f"placeholder {{{field}!{conversion}}} has an unknown conversion"
                f" !{conversion} (there are !r, !s and !a)"
            )
        if not spec:
            continue
        if "{" in spec:
            yield f"placeholder {{{field}:{spec}}}: a placeholder inside a format spec"
        elif any(int(number) > _MAX_WIDTH for number in re.findall(r"\d+", spec)):
            yield f"placeholder {{{field}:{spec}}}: a width over {_MAX_WIDTH} characters"
        else:
            try:
                format("", spec)  # every fact is text: what fails here fails on every draft
            except ValueError as error:
                yield f"placeholder {{{field}:{spec}}} has a bad format spec: {error}"


def _escalation_problems(procedure: Procedure) -> Iterator[tuple[Path_, str]]:
    """Steps are announced once per level, and read in the order of their minutes."""
    last: tuple[int, float] | None = None
    levels: dict[int, int] = {}
    for position, step in enumerate(procedure.escalation.steps):
        where: Path_ = ("escalation", "steps", position)
        if step.level in levels:
            yield (
                (*where, "level"),
                f"level {step.level} repeats (steps[{levels[step.level]}]): only one of them "
                "would ever be announced",
            )
        levels.setdefault(step.level, position)
        if step.after_minutes is None:
            continue
        if last is not None and step.after_minutes < last[1]:
            yield (
                (*where, "after_minutes"),
                f"{step.after_minutes:g} minutes is earlier than steps[{last[0]}] "
                f"({last[1]:g} minutes): the minutes of the escalation path must not decrease",
            )
        last = (position, step.after_minutes)


def _item_exists(procedure: Procedure, ref: str) -> bool:
    """Whether `list.item` names an item of one of the procedure's checklists."""
    kind, _, item_id = ref.partition(".")
    checklist = procedure.checklists.get(kind)  # type: ignore[call-overload]
    return checklist is not None and any(item.id == item_id for item in checklist.items)


def _tree_problems(
    procedure: Procedure, severities: set[str], options: set[str]
) -> Iterator[tuple[Path_, str]]:
    tree = procedure.tree
    nodes = tree.nodes
    if tree.start not in nodes:
        yield ("tree", "start"), f"start node {tree.start!r} is not a node of the tree"
        return
    for node_id, node in nodes.items():
        base: Path_ = ("tree", "nodes", node_id)
        if isinstance(node, QuestionNode):
            for position, answer in enumerate(node.answers):
                if answer.next not in nodes:
                    yield (
                        (*base, "answers", position, "next"),
                        f"{answer.next!r} is not a node of the tree (dangling reference)",
                    )
            if node.evidence is not None and node.evidence.metric not in procedure.metrics:
                yield (*base, "evidence", "metric"), f"unknown metric {node.evidence.metric!r}"
            watched = node.monitor.metric if node.monitor is not None else None
            if watched is not None and watched not in procedure.metrics:
                yield (*base, "monitor", "metric"), f"unknown metric {watched!r}"
        elif isinstance(node, OutcomeNode):
            if node.severity is not None and node.severity not in severities:
                yield (*base, "severity"), f"unknown severity {node.severity!r}"
            for position, option_id in enumerate(node.options):
                if option_id not in options:
                    yield (*base, "options", position), f"unknown option {option_id!r}"
            if node.decision == "rollback" and not node.options:
                yield (*base, "options"), "a rollback outcome must name at least one option"
            for position, step in enumerate(node.before):
                for pick, ref in enumerate(step.items):
                    if not _item_exists(procedure, ref):
                        yield (
                            (*base, "before", position, "items", pick),
                            f"no checklist item {ref!r} (written list.item: during.notified)",
                        )

    reachable = set()
    frontier = [tree.start]
    while frontier:
        node_id = frontier.pop()
        if node_id in reachable or node_id not in nodes:
            continue
        reachable.add(node_id)
        node = nodes[node_id]
        if isinstance(node, QuestionNode):
            frontier.extend(answer.next for answer in node.answers)
    for node_id in nodes:
        if node_id not in reachable:
            yield (
                ("tree", "nodes", node_id),
                f"node {node_id!r} cannot be reached from {tree.start!r}",
            )
    yield from _cycles(procedure)


def _cycles(procedure: Procedure) -> Iterator[tuple[Path_, str]]:
    """A question that leads back to itself would trap the wizard; refuse it."""
    nodes = procedure.tree.nodes
    state: dict[str, int] = {}

    def visit(node_id: str, trail: list[str]) -> Iterator[tuple[Path_, str]]:
        state[node_id] = 1
        node = nodes.get(node_id)
        if isinstance(node, QuestionNode):
            for position, answer in enumerate(node.answers):
                if state.get(answer.next) == 1:
                    cycle = " -> ".join([*trail, node_id, answer.next])
                    yield (
                        ("tree", "nodes", node_id, "answers", position, "next"),
                        f"the tree loops: {cycle}",
                    )
                elif answer.next in nodes and answer.next not in state:
                    yield from visit(answer.next, [*trail, node_id])
        state[node_id] = 2

    if procedure.tree.start in nodes:
        yield from visit(procedure.tree.start, [])


def parse_procedure(text: str, path: str, *, check: Check | None = None) -> Procedure:
    """Validate procedure text; raise ProcedureFileError naming file, line and field.

    `check` adds the problems of a procedure that is valid on its own (see Check).
    """
    document = parse_yaml(text, path)
    index = _LineIndex(document.root)  # before construction, which flattens merge keys
    if index.duplicates:
        raise ProcedureFileError(path, index.duplicates)
    data = construct(document, path)
    if not isinstance(data, dict):
        raise ProcedureFileError(
            path, [Problem(1, "", "a procedure file must be a mapping of keys to values")]
        )
    try:
        procedure = Procedure.model_validate(data)
    except ValidationError as error:
        problems = _pydantic_problems(error, data, index)
        problems.sort(key=lambda p: (p.line or 0, p.field))
        raise ProcedureFileError(path, problems) from None
    found = list(_reference_problems(procedure))
    if check is not None:
        found += check(procedure)
    problems = [
        Problem(index.line(where), format_field(where), message) for where, message in found
    ]
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.field))
        raise ProcedureFileError(path, problems)
    return procedure


def load_procedure_file(path: Path, *, check: Check | None = None) -> Procedure:
    """Read and validate one procedure file (a regular file of at most 1 MiB)."""
    return parse_procedure(read_text(path), str(path), check=check)


def load_builtin(name: str, *, check: Check | None = None) -> Procedure:
    """Load a built-in procedure by name."""
    return parse_procedure(read_builtin(name), f"checklists/{name}.yaml", check=check)


def load_procedure(name_or_path: str, *, check: Check | None = None) -> Procedure:
    """A built-in name, or a path to a procedure file (anything with a YAML suffix, or there)."""
    if names_a_file(name_or_path):
        return load_procedure_file(Path(name_or_path), check=check)
    return load_builtin(name_or_path, check=check)
