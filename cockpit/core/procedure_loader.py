"""Loads procedure files and turns every problem into one line: file, line, field, problem.

Parsing happens twice on purpose: `yaml.compose` keeps the line of every key and item, and the
plain load gives the data pydantic validates. Errors from pydantic and from the cross-reference
checks below are located through the composed node tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cockpit.core.errors import ProcedureError
from cockpit.core.procedure import (
    TEMPLATE_FIELDS,
    OutcomeNode,
    Procedure,
    QuestionNode,
)

#: Providers a rollback option may name. `manual` means the cockpit shows the steps and a human
#: runs them (the AWS console, a disaster-recovery script); the others get adapters over time.
KNOWN_PROVIDERS = frozenset(
    {
        "feature_flags",
        "cache",
        "vercel",
        "cloudflare_workers",
        "cloudflare_pages",
        "git",
        "github_actions",
        "kubernetes",
        "docker_compose",
        "postgres",
        "manual",
        "verification",
    }
)

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a procedure file."""

    line: int | None
    field: str
    message: str


class ProcedureFileError(ProcedureError):
    """All problems found in one file; `str()` is one line per problem."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        first = problems[0]
        super().__init__(path, first.line, first.field, first.message)
        self.problems = problems

    def lines(self) -> list[str]:
        """One `file:line: field: problem` line per problem, in file order."""
        out = []
        for problem in self.problems:
            where = f"{self.path}:{problem.line}" if problem.line else self.path
            out.append(
                f"{where}: {problem.field}: {problem.message}"
                if problem.field
                else f"{where}: {problem.message}"
            )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


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

    for position, option in enumerate(procedure.options):
        if option.provider not in KNOWN_PROVIDERS:
            yield (
                ("options", position, "provider"),
                f"unknown provider {option.provider!r}"
                f" (known: {', '.join(sorted(KNOWN_PROVIDERS))})",
            )

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
            if item.run is not None and item.run.provider not in KNOWN_PROVIDERS:
                yield (
                    ("checklists", kind, "items", position, "run", "provider"),
                    f"unknown provider {item.run.provider!r}"
                    f" (known: {', '.join(sorted(KNOWN_PROVIDERS))})",
                )
            auto = item.auto
            if auto is None:
                continue
            where = ("checklists", kind, "items", position, "auto")
            if auto.metric is not None and auto.metric not in metrics:
                yield (*where, "metric"), f"unknown metric {auto.metric!r}"
            if auto.option_verified is not None and auto.option_verified not in option_set:
                yield (*where, "option_verified"), f"unknown option {auto.option_verified!r}"

    for name, template in procedure.templates.items():
        try:
            fields = template.placeholders()
        except ValueError as error:
            yield ("templates", name, "body"), f"bad placeholder syntax: {error}"
            continue
        for field in fields:
            if field not in TEMPLATE_FIELDS:
                yield (
                    ("templates", name, "body"),
                    f"placeholder {{{field}}} does not exist"
                    f" (known: {', '.join(sorted(TEMPLATE_FIELDS))})",
                )


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
        elif isinstance(node, OutcomeNode):
            if node.severity is not None and node.severity not in severities:
                yield (*base, "severity"), f"unknown severity {node.severity!r}"
            for position, option_id in enumerate(node.options):
                if option_id not in options:
                    yield (*base, "options", position), f"unknown option {option_id!r}"
            if node.decision == "rollback" and not node.options:
                yield (*base, "options"), "a rollback outcome must name at least one option"

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


#: libyaml parses a procedure about ten times faster than the pure-Python loader (0.02 s
#: against 0.2 s), which matters for start-up and for `procedures list` loading all built-ins.
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The composed node tree (for line marks) and the plain data, or a YAMLError."""
    try:
        return yaml.compose(text, Loader=_FAST_LOADER), yaml.load(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        pass  # libyaml words errors its own way; the pure-Python parser says the same everywhere
    return yaml.compose(text, Loader=yaml.SafeLoader), yaml.load(text, Loader=yaml.SafeLoader)


def parse_procedure(text: str, path: str) -> Procedure:
    """Validate procedure text; raise ProcedureFileError naming file, line and field."""
    try:
        root, data = _parse_yaml(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ProcedureFileError(
            path, [Problem(line, "", f"YAML syntax error: {error.problem or error}")]
        ) from None
    except yaml.YAMLError as error:
        raise ProcedureFileError(path, [Problem(None, "", f"YAML error: {error}")]) from None
    index = _LineIndex(root)
    if index.duplicates:
        raise ProcedureFileError(path, index.duplicates)
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
    problems = [
        Problem(index.line(where), format_field(where), message)
        for where, message in _reference_problems(procedure)
    ]
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.field))
        raise ProcedureFileError(path, problems)
    return procedure


def load_procedure_file(path: Path) -> Procedure:
    """Read and validate one procedure file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ProcedureFileError(
            str(path), [Problem(None, "", f"cannot read: {error.strerror}")]
        ) from None
    except UnicodeDecodeError as error:
        raise ProcedureFileError(
            str(path), [Problem(None, "", f"not UTF-8 text: {error}")]
        ) from None
    return parse_procedure(text, str(path))


def builtin_names() -> list[str]:
    """Names of the built-in procedures (file stems in the checklists package)."""
    folder = resources.files("checklists")
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    )


def load_builtin(name: str) -> Procedure:
    """Load a built-in procedure by name."""
    entry = resources.files("checklists") / f"{name}.yaml"
    if not entry.is_file():
        raise ProcedureFileError(
            f"{name}.yaml",
            [
                Problem(
                    None, "", f"no built-in procedure {name!r} (have: {', '.join(builtin_names())})"
                )
            ],
        )
    return parse_procedure(entry.read_text(encoding="utf-8"), f"checklists/{name}.yaml")


def load_procedure(name_or_path: str) -> Procedure:
    """A built-in name, or a path to a procedure file."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        return load_procedure_file(candidate)
    return load_builtin(name_or_path)
