"""A whole procedure as readable Markdown: the app's procedure view and `cockpit procedures show`.

Pure Python and deterministic (same procedure, same text), so the app, the CLI and the tests
all see one rendering. The text is written to read well both raw in a terminal and through a
Markdown widget at 80 columns: little escaping, short headings, one fact per list item.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cockpit.core.checklist_state import ANY_OPTION
from cockpit.core.procedure import (
    AutoCheck,
    Checklist,
    ChecklistKind,
    DecisionMatrix,
    DecisionTree,
    OutcomeNode,
    Procedure,
    QuestionNode,
    RollbackOption,
    Template,
    TriggerRule,
)
from cockpit.core.recovery_text import recovery_summary
from cockpit.core.rules import TriggerMode

CHECKLIST_ORDER: tuple[ChecklistKind, ...] = (
    "quick",
    "pre",
    "during",
    "verification",
    "post",
    "follow_up",
    "drill",
)
CHECKLIST_KIND_TITLES: dict[str, str] = {
    "quick": "Quick",
    "pre": "Before the rollback",
    "during": "During the rollback",
    "verification": "Verification",
    "post": "After the rollback",
    "follow_up": "Follow-up",
    "drill": "Drills",
}
DECISION_WORDS = {
    "rollback": "ROLL BACK",
    "fix_forward": "FIX FORWARD",
    "monitor": "MONITOR",
    "assess": "ASSESS",
}
TARGET_TITLES = {
    "time_to_detect": "Time to detect",
    "time_to_decide": "Time to decide",
    "time_to_rollback": "Time to roll back",
    "time_to_verify": "Time to verify",
    "total_duration": "Total duration",
}

# Only what would otherwise change the meaning: an HTML-looking `<word`, and emphasis markers.
_HTML_LIKE = re.compile(r"<(?=[A-Za-z/!?])")
_LONE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md(text: str) -> str:
    """Plain text made safe to embed in Markdown, escaping as little as possible."""
    text = text.replace("\\", "\\\\").replace("*", "\\*").replace("`", "\\`")
    text = _HTML_LIKE.sub("\\<", text)
    return _LONE_UNDERSCORE.sub("\\_", text)


def _cell(text: str) -> str:
    return md(text).replace("|", "\\|").replace("\n", " ")


def num(value: float) -> str:
    """5.0 -> '5', 0.5 -> '0.5'."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _fence(body: str, info: str = "") -> list[str]:
    """A fenced block longer than any backtick run inside, so the body can never close it."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *body.splitlines(), fence]


def _unit(procedure: Procedure, metric: str) -> str:
    spec = procedure.metrics.get(metric)
    return f" {spec.unit}" if spec is not None and spec.unit else ""


def _samples(count: int) -> str:
    return "1 sample" if count == 1 else f"{count} samples"


def describe_trigger(procedure: Procedure, rule: TriggerRule) -> str:
    """One trigger rule in words, e.g. 'error_rate > 5 % for 5 consecutive samples (60 s each)'."""
    interval = f"({num(procedure.sample_interval_seconds)} s each)"
    value = f"{rule.comparison} {num(rule.threshold)}"
    if rule.mode is TriggerMode.WINDOW:
        head = (
            f"{rule.metric} {value}{_unit(procedure, rule.metric)} in at least {rule.count} of "
            f"the last {_samples(rule.within or rule.count)} {interval}"
        )
    elif rule.mode is TriggerMode.BASELINE:
        head = (
            f"{rule.metric} change against the median of the previous "
            f"{_samples(rule.baseline_samples or 1)} {value} % for {rule.count} consecutive "
            f"{'sample' if rule.count == 1 else 'samples'} {interval}"
        )
    else:
        run = "a single sample" if rule.count == 1 else f"{rule.count} consecutive samples"
        head = f"{rule.metric} {value}{_unit(procedure, rule.metric)} for {run} {interval}"
    parts = [
        head,
        f"min {_samples(rule.min_samples)}",
        f"no data: {rule.no_data.value}",
        f"clears after {rule.clear_after} healthy",
    ]
    return " · ".join(parts)


def describe_auto(procedure: Procedure, auto: AutoCheck) -> str:
    """An automatic checklist tick in words."""
    if auto.option_verified == ANY_OPTION:
        return "auto: when any rollback option is verified"
    if auto.option_verified is not None:
        return f"auto: when {auto.option_verified} is verified"
    unit = _unit(procedure, auto.metric or "")
    threshold = num(auto.threshold) if auto.threshold is not None else "?"
    return f"auto: {auto.metric} {auto.comparison} {threshold}{unit} for {_samples(auto.samples)}"


def _severity_title(procedure: Procedure, severity_id: str | None) -> str:
    if severity_id is None:
        return ""
    try:
        return procedure.severity(severity_id).title
    except KeyError:
        return severity_id


def _option_titles(procedure: Procedure, option_ids: Iterable[str]) -> str:
    titles = []
    for option_id in option_ids:
        try:
            titles.append(f"{md(procedure.option(option_id).title)} (`{option_id}`)")
        except KeyError:
            titles.append(f"`{option_id}`")
    return ", ".join(titles)


def _header(procedure: Procedure) -> list[str]:
    return [
        f"# {md(procedure.title)}",
        "",
        f"**{md(procedure.organisation)}** · procedure `{procedure.name}` · "
        f"one sample every {num(procedure.sample_interval_seconds)} s",
        "",
        md(procedure.summary),
        "",
        f"Source: {md(procedure.source)}",
    ]


def _triggers(procedure: Procedure) -> list[str]:
    lines = ["## Automatic triggers", ""]
    if not procedure.triggers:
        lines.append("None: this procedure is started by hand only.")
    for rule in procedure.triggers:
        extra = []
        if rule.severity is not None:
            extra.append(f"severity {md(_severity_title(procedure, rule.severity))}")
        if rule.action == "alert":
            extra.append("alert only, no rollback")
        suffix = f" ({'; '.join(extra)})" if extra else ""
        lines.append(f"- **{md(rule.title)}**{suffix}")
        lines.append(f"  - Rule: {md(describe_trigger(procedure, rule))}")
        lines.append(f'  - Seed: "{md(rule.source_text)}"')
        if rule.note:
            lines.append(f"  - Note: {md(rule.note)}")
    for auto in procedure.automatic:
        title = procedure.option(auto.option).title
        unattended = ", destructive plans allowed unattended" if auto.destructive_allowed else ""
        lines.append("")
        lines.append(
            f"Automatic rollback: **{md(title)}** ({md(auto.option)}) when "
            f"{md(', '.join(auto.triggers))} fires, after a {auto.countdown_seconds:g} s "
            f"countdown any responder can cancel with k{unattended}."
        )
    lines.append("")
    lines.append("## Manual triggers")
    lines.append("")
    if not procedure.manual_triggers:
        lines.append("None named by this procedure.")
    for manual in procedure.manual_triggers:
        signs = f": {md('; '.join(manual.signs))}" if manual.signs else ""
        lines.append(f"- **{md(manual.title)}** ({manual.category}){signs}")
    return lines


def _severities(procedure: Procedure) -> list[str]:
    lines = ["## Severity levels", ""]
    for level in procedure.severities:
        description = f": {md(level.description)}" if level.description else ""
        lines.append(f"- **{md(level.title)}** (`{level.id}`){description}")
    return lines


def _matrix(procedure: Procedure, matrix: DecisionMatrix) -> list[str]:
    lines = ["## Decision matrix", ""]
    lines.append("| " + " | ".join(_cell(column) for column in matrix.columns) + " |")
    lines.append("|" + "|".join("---" for _ in matrix.columns) + "|")
    for row in matrix.rows:
        lines.append(
            "| " + " | ".join(_cell(row.cells.get(column, "")) for column in matrix.columns) + " |"
        )
    if matrix.tie_breaks:
        lines += ["", "Tie-breaks:", ""]
        lines += [f"- {md(rule)}" for rule in matrix.tie_breaks]
    return lines


def _outcome_text(procedure: Procedure, node: OutcomeNode) -> str:
    parts = [f"**{DECISION_WORDS[node.decision]}**"]
    severity = _severity_title(procedure, node.severity)
    if severity and severity not in node.outcome:
        parts.append(f"({md(severity)})")
    text = " ".join(parts) + f": {md(node.outcome)}"
    if node.options:
        text += f" · options: {_option_titles(procedure, node.options)}"
    if node.within:
        text += f" · within {md(node.within)}"
    if node.explanation:
        text += f" · _{md(node.explanation)}_"
    return text


def _question_text(node: QuestionNode, node_id: str) -> str:
    text = f"**{md(node.question)}** (`{node_id}`)"
    if node.monitor is not None:
        watched = f", watching {node.monitor.metric}" if node.monitor.metric else ""
        text = f"After monitoring for {num(node.monitor.minutes)} minutes{watched}: " + text
    if node.evidence is not None:
        link = node.evidence
        text += f" · live: {link.metric} {link.comparison} {num(link.threshold)} ⇒ {link.answer}"
    if node.help:
        text += f" · _{md(node.help)}_"
    return text


def _tree(procedure: Procedure, tree: DecisionTree) -> list[str]:
    lines = ["## Decision tree", ""]
    if tree.derived:
        lines += [f"Derived, not in the seed: {md(tree.derived_from)}", ""]
    seen: set[str] = set()

    def walk(node_id: str, depth: int) -> None:
        pad = "  " * depth
        node = tree.nodes.get(node_id)
        if isinstance(node, OutcomeNode):
            lines.append(f"{pad}- {_outcome_text(procedure, node)}")
            return
        if not isinstance(node, QuestionNode):
            lines.append(f"{pad}- `{node_id}` (missing node)")
            return
        seen.add(node_id)
        for answer in node.answers:
            label = f"[{answer.key}] {md(answer.label)}"
            target = tree.nodes.get(answer.next)
            if isinstance(target, QuestionNode):
                if answer.next in seen:
                    lines.append(f"{pad}- {label} → see `{answer.next}` above")
                    continue
                lines.append(f"{pad}- {label} → {_question_text(target, answer.next)}")
                walk(answer.next, depth + 1)
            elif isinstance(target, OutcomeNode):
                lines.append(f"{pad}- {label} → {_outcome_text(procedure, target)}")
            else:
                lines.append(f"{pad}- {label} → `{answer.next}` (missing node)")

    start = tree.nodes.get(tree.start)
    if isinstance(start, QuestionNode):
        lines.append(f"Start: {_question_text(start, tree.start)}")
        lines.append("")
        walk(tree.start, 0)
    else:
        walk(tree.start, 0)
    return lines


def _option(procedure: Procedure, option: RollbackOption) -> list[str]:
    lines = [f"### Level {option.level} · {md(option.title)} (`{option.id}`)", ""]
    risk = f"risk {option.risk}" + (" · **destructive**" if option.destructive else "")
    lines.append(f"- Provider `{option.provider}`, action `{option.action}` · {risk}")
    lines.append(f"- Recovery time: {md(recovery_summary(option.recovery_time))}")
    lines.append(f"- Best for: {md(option.best_for)}")
    if option.impact:
        lines.append(f"- Impact: {md(option.impact)}")
    if option.warning:
        lines.append(f"- **Warning:** {md(option.warning)}")
    if option.note:
        lines.append(f"- Note: {md(option.note)}")
    if option.params:
        lines.append("- Parameters:")
        for key, value in option.params.items():
            shown = ", ".join(value) if isinstance(value, list) else str(value)
            lines.append(f"  - {md(key)}: `{shown}`")
    if option.steps:
        lines += ["", "Steps:", ""]
        lines += [f"{number}. {md(step)}" for number, step in enumerate(option.steps, 1)]
    if option.commands:
        lines += ["", "Commands:", ""]
        lines += _fence("\n".join(option.commands), "bash")
    return lines


def _checklist(procedure: Procedure, kind: str, checklist: Checklist) -> list[str]:
    lines = [f"### {CHECKLIST_KIND_TITLES.get(kind, kind)}: {md(checklist.title)}", ""]
    section = ""
    for item in checklist.items:
        if item.section != section:
            section = item.section
            if section:
                if lines[-1] != "":
                    lines.append("")
                lines += [f"**{md(section)}**", ""]
        auto = f" ({md(describe_auto(procedure, item.auto))})" if item.auto is not None else ""
        lines.append(f"- [ ] {md(item.text)}{auto}")
    return lines


def _template(name: str, template: Template) -> list[str]:
    lines = [f"### {md(template.title)} (`{name}`)", ""]
    facts = [f"audience {template.audience}", f"channel {template.channel}"]
    if template.when:
        facts.append(f"when: {md(template.when)}")
    lines.append(" · ".join(facts))
    if template.subject:
        lines += ["", f"Subject: {md(template.subject)}"]
    lines.append("")
    lines += _fence(template.body, "text")
    return lines


def _escalation(procedure: Procedure) -> list[str]:
    escalation = procedure.escalation
    lines = ["## Escalation", ""]
    for step in escalation.steps:
        when = (
            f"after {num(step.after_minutes)} min"
            if step.after_minutes is not None
            else "no minutes given"
        )
        contact = f" · {md(step.contact)}" if step.contact else ""
        lines.append(f"{step.level}. **{md(step.role)}**: {when}{contact}")
    if escalation.status_update_every_minutes is not None:
        every = num(escalation.status_update_every_minutes)
        lines += ["", f"Status updates every {every} min."]
    if escalation.note:
        lines += ["", md(escalation.note)]
    return lines


def _objectives(procedure: Procedure) -> list[str]:
    lines = ["## Objectives and targets", ""]
    if procedure.objectives:
        lines += ["| Service | RTO | RPO | Priority |", "|---|---|---|---|"]
        for objective in procedure.objectives:
            rpo = f"{num(objective.rpo_minutes)} min" if objective.rpo_minutes is not None else "-"
            lines.append(
                f"| {_cell(objective.service)} | {num(objective.rto_minutes)} min | {rpo} "
                f"| {_cell(objective.priority) or '-'} |"
            )
    else:
        lines.append("No RTO/RPO given.")
    lines.append("")
    if procedure.targets:
        lines += ["Rollback targets:", ""]
        for target in procedure.targets:
            name = TARGET_TITLES.get(target.metric, target.metric)
            lines.append(f"- {name} < {num(target.under_minutes)} min ({md(target.title)})")
    else:
        lines.append("No rollback time targets given.")
    return lines


def _contacts(procedure: Procedure) -> list[str]:
    lines = ["## Contacts", ""]
    if not procedure.contacts:
        lines.append("None given.")
    for contact in procedure.contacts:
        name = f" {md(contact.name)}" if contact.name else ""
        reach = f": {md(contact.reach)}" if contact.reach else ""
        vendor = " (vendor)" if contact.kind == "vendor" else ""
        lines.append(f"- **{md(contact.role)}**{vendor}{name}{reach}")
    return lines


def render_markdown(procedure: Procedure) -> str:
    """The whole procedure as Markdown, sections in the order a responder needs them."""
    blocks: list[list[str]] = [
        _header(procedure),
        _triggers(procedure),
        _severities(procedure),
    ]
    if procedure.matrix is not None:
        blocks.append(_matrix(procedure, procedure.matrix))
    blocks.append(_tree(procedure, procedure.tree))
    options = ["## Rollback options"]
    for option in procedure.options:
        options += ["", *_option(procedure, option)]
    blocks.append(options)
    checklists = ["## Checklists"]
    for kind in CHECKLIST_ORDER:
        if kind in procedure.checklists:
            checklists += ["", *_checklist(procedure, kind, procedure.checklists[kind])]
    blocks.append(checklists)
    if procedure.templates:
        templates = ["## Communication templates"]
        for name, template in procedure.templates.items():
            templates += ["", *_template(name, template)]
        blocks.append(templates)
    blocks += [_escalation(procedure), _objectives(procedure), _contacts(procedure)]
    if procedure.postmortem_sections:
        blocks.append(
            ["## Post-mortem sections", "", *(f"- {md(s)}" for s in procedure.postmortem_sections)]
        )
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"
