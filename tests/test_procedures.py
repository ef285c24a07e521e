"""The five built-in procedures, their Markdown rendering and `cockpit procedures`.

Faithfulness tests pin numbers a reader can find in the seed (/work/shared/seeds/00N_*.txt);
the malformed files in tests/procedures/bad/ each carry exactly one fault and must produce
exactly one `file:line: field: problem` line, through the CLI, never a traceback.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cockpit.commands.procedures import procedures
from cockpit.core.procedure import (
    TEMPLATE_FIELDS,
    OutcomeNode,
    Procedure,
    QuestionNode,
    TriggerMode,
)
from cockpit.core.procedure_loader import builtin_names, load_builtin, parse_procedure
from cockpit.core.procedure_text import render_markdown
from providers.base import ActionProvider
from providers.registry import load_provider, provider_names

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "procedures" / "bad"
BUILTINS = ["ai-saas", "five-levels", "huntaze", "pitchey", "pulse-messages"]
DEMO_METRICS = {
    "error_rate",
    "p95_latency_ms",
    "health_check_failed",
    "db_connection_failures",
    "auth_check_failed",
    "critical_bug_reports_1h",
}
VOCABULARY = DEMO_METRICS | {"memory_pct", "db_pool_exhausted"}


@pytest.fixture(scope="module")
def builtins() -> dict[str, Procedure]:
    return {name: load_builtin(name) for name in BUILTINS}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(procedures, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# --- the built-ins load, list and render ---------------------------------------------------


def test_the_five_builtins_are_the_packaged_ones() -> None:
    assert builtin_names() == BUILTINS


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_validates_through_the_cli(name: str) -> None:
    code, out, err = run("validate", str(ROOT / "checklists" / f"{name}.yaml"))
    assert (code, err) == (0, "")
    assert out.startswith(f"ok: {ROOT / 'checklists' / name}.yaml ({name}, ")


def test_list_shows_one_line_per_builtin(builtins: dict[str, Procedure]) -> None:
    code, out, err = run("list")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == BUILTINS
    for line, name in zip(lines, BUILTINS, strict=True):
        procedure = builtins[name]
        assert procedure.organisation in line and line.endswith(procedure.title)
        assert f"{len(procedure.triggers)} triggers" in line
        assert f"{len(procedure.options)} options" in line
        assert ("tree derived" if procedure.tree.derived else "tree given") in line


@pytest.mark.parametrize("name", BUILTINS)
def test_show_renders_every_part(name: str, builtins: dict[str, Procedure]) -> None:
    procedure = builtins[name]
    code, out, err = run("show", name)
    assert (code, err) == (0, "")
    assert out == render_markdown(procedure) == render_markdown(load_builtin(name))
    assert out.startswith(f"# {procedure.title}\n")
    for heading in ("## Automatic triggers", "## Decision tree", "## Rollback options"):
        assert heading in out
    for option in procedure.options:
        assert f"(`{option.id}`)" in out
        for command in option.commands:
            assert command in out
    for trigger in procedure.triggers:
        assert trigger.source_text in out
    assert "- [ ] " in out
    assert ("Derived, not in the seed:" in out) == procedure.tree.derived


def test_show_accepts_a_path() -> None:
    code, out, _ = run("show", str(ROOT / "checklists" / "huntaze.yaml"))
    assert code == 0 and out.startswith("# Huntaze rollback procedure")


def test_rendering_states_rules_in_words(builtins: dict[str, Procedure]) -> None:
    text = render_markdown(builtins["pulse-messages"])
    assert (
        "error_rate > 5 % for 5 consecutive samples (60 s each) · min 5 samples · no data: hold"
    ) in text
    assert "health_check_failed == 1 in at least 4 of the last 5 samples (60 s each)" in text
    assert "p95_latency_ms change against the median of the previous 30 samples > 50 %" in text
    assert "(auto: error_rate < 1 % for 5 samples)" in text
    assert "| P1 - High | 10-50% users | < 5 min | Feature Flag |" in text
    assert "1. **On-call Engineer**: after 5 min" in text
    assert "```bash\nvercel rollback\n```" in text
    assert "```text\n🚨 INCIDENT: Rollback Required" in text


# --- faithfulness to each seed ------------------------------------------------------------


def test_pulse_messages_follows_seed_000(builtins: dict[str, Procedure]) -> None:
    procedure = builtins["pulse-messages"]
    assert {t.metric for t in procedure.triggers} == DEMO_METRICS
    errors = next(t for t in procedure.triggers if t.metric == "error_rate")
    assert (errors.comparison, errors.threshold, errors.mode, errors.count) == (
        ">",
        5,
        TriggerMode.CONSECUTIVE,
        5,
    )
    health = next(t for t in procedure.triggers if t.metric == "health_check_failed")
    assert (health.mode, health.count, health.within) == (TriggerMode.WINDOW, 4, 5)
    p95 = next(t for t in procedure.triggers if t.metric == "p95_latency_ms")
    assert (p95.mode, p95.threshold, p95.baseline_samples) == (TriggerMode.BASELINE, 50, 30)
    bugs = next(t for t in procedure.triggers if t.metric == "critical_bug_reports_1h")
    assert (bugs.comparison, bugs.threshold) == (">", 10)
    steps = [(s.role, s.after_minutes) for s in procedure.escalation.steps]
    assert steps == [
        ("On-call Engineer", 5),
        ("Engineering Manager", 10),
        ("CTO", 15),
        ("CEO", 20),
    ]
    assert procedure.escalation.status_update_every_minutes == 5
    assert procedure.option("feature-flags").params["flags"] == [
        "splitViewLayout",
        "aiSummarization",
    ]
    assert procedure.option("blue-green").action == "alias_set"
    assert procedure.option("database").destructive
    assert procedure.matrix is not None
    assert procedure.matrix.rows[0].options == ["blue-green"]
    assert {t.metric: t.under_minutes for t in procedure.targets} == {
        "time_to_detect": 5,
        "time_to_decide": 2,
        "time_to_rollback": 5,
        "total_duration": 15,
    }
    assert (
        "Status updates will be posted every 5 minutes."
        in procedure.templates["slack-incident"].body
    )
    # "Update status page (https://status.pulsemessages.com)": the seed gives no text; ours goes
    # out through the statuspage notifier at the stage its id names (monitoring).
    status = procedure.templates["status-page-monitoring"]
    assert (status.channel, status.audience) == ("status_page", "status_page")
    assert "gives no text" in status.when


def test_huntaze_follows_seed_001(builtins: dict[str, Procedure]) -> None:
    procedure = builtins["huntaze"]
    [objective] = procedure.objectives
    assert (objective.rto_minutes, objective.rpo_minutes) == (15, 5)
    tree = procedure.tree
    assert not tree.derived
    first = tree.nodes[tree.start]
    assert isinstance(first, QuestionNode)
    assert first.question == "Is service down or data being lost?"
    immediate = tree.nodes[first.answers[0].next]
    assert isinstance(immediate, OutcomeNode)
    assert (immediate.outcome, immediate.options) == (
        "Immediate rollback (Option 1)",
        ["vercel-instant"],
    )
    error_rate = tree.nodes["error-rate"]
    assert isinstance(error_rate, QuestionNode) and error_rate.evidence is not None
    assert (error_rate.evidence.metric, error_rate.evidence.threshold) == ("error_rate", 5)
    assert [o.provider for o in procedure.options] == [
        "vercel",
        "git",
        "postgres",
        "aws_rds",
        "aws_cloudfront",
        "aws_s3",
        "manual",
    ]
    assert "data loss" in procedure.option("database").warning
    rds = procedure.option("aws-rds-snapshot")  # the seed's RDS restore: 10-15 minutes
    assert (rds.action, rds.destructive, rds.recovery_time.max_minutes) == (
        "restore_snapshot",
        True,
        15,
    )
    assert procedure.option("database").recovery_time.max_minutes == 20
    assert {t.metric: t.under_minutes for t in procedure.targets}["time_to_rollback"] == 10


def test_ai_saas_follows_seed_002(builtins: dict[str, Procedure]) -> None:
    procedure = builtins["ai-saas"]
    k8s = procedure.option("k8s-undo")
    assert (k8s.provider, k8s.action) == ("kubernetes", "rollout_undo")
    assert (k8s.recovery_time.min_minutes, k8s.recovery_time.max_minutes) == (2, 4)
    assert (k8s.params["deployment"], k8s.params["namespace"]) == ("ai-saas-web", "ai-saas-prod")
    assert procedure.option("compose-image").params["service"] == "web"
    redeploy = procedure.option("cicd-redeploy")  # Method 1: re-run the last good deployment
    assert (redeploy.provider, redeploy.action) == ("github_actions", "rerun_workflow")
    assert redeploy.params["workflow"] == "deploy.yml" and "ours" in redeploy.note
    assert any("ssh user@production-server" in c for c in redeploy.commands)  # Method 2
    tree = procedure.tree
    assert not tree.derived
    start = tree.nodes[tree.start]
    assert isinstance(start, QuestionNode) and start.question == "Is service degraded?"
    # Warning, in the runbook's order: monitor for 10 minutes (timed), can we hotfix quickly?
    # (NO → ROLLBACK), getting worse? (→ ROLLBACK; else the hotfix ships).
    severe = tree.nodes["how-severe"]
    assert isinstance(severe, QuestionNode)
    hotfix = tree.nodes[next(a.next for a in severe.answers if a.key == "w")]
    assert (
        isinstance(hotfix, QuestionNode) and hotfix.question == "Can we hotfix quickly? (<30 min)"
    )
    assert hotfix.monitor is not None and hotfix.monitor.minutes == 10
    worse, no = (tree.nodes[answer.next] for answer in hotfix.answers)
    assert isinstance(worse, QuestionNode) and worse.question == "Getting worse?"
    assert isinstance(no, OutcomeNode) and no.decision == "rollback"
    rolled, shipped = (tree.nodes[answer.next] for answer in worse.answers)
    assert isinstance(rolled, OutcomeNode) and rolled.decision == "rollback"
    assert isinstance(shipped, OutcomeNode) and shipped.decision == "fix_forward"
    critical = tree.nodes["rollback-immediately"]
    assert isinstance(critical, OutcomeNode) and critical.outcome == "ROLLBACK IMMEDIATELY"
    assert [s.after_minutes for s in procedure.escalation.steps] == [0, 5, 15]
    errors = next(t for t in procedure.triggers if t.metric == "error_rate")
    assert (errors.threshold, errors.count) == (5, 6) and "sustained" in errors.source_text
    assert procedure.matrix is not None
    assert any("Exactly 5%" in rule for rule in procedure.matrix.tie_breaks)


def test_five_levels_follows_seed_003(builtins: dict[str, Procedure]) -> None:
    procedure = builtins["five-levels"]
    by_level: dict[int, Any] = {}
    for option in procedure.options:  # each level's own option; Level 1's cache clear follows
        by_level.setdefault(option.level, option)
    clear = next(option for option in procedure.options if option.id == "cache-clear")
    assert (clear.level, clear.provider, clear.params) == (
        1,
        "cache_clear",
        {"command": "npm run cache:clear"},
    )
    assert sorted(by_level) == [1, 2, 3, 4, 5]
    assert [by_level[n].recovery_time.max_minutes for n in range(1, 6)] == [1, 5, 15, 30, 60]
    assert [by_level[n].recovery_time.text for n in range(1, 6)] == [
        "< 1 minute",
        "< 5 minutes",
        "< 15 minutes",
        "< 30 minutes",
        "< 1 hour",
    ]
    assert by_level[2].params == {"path": "config/", "ref": "HEAD~1"}
    # The runbook's v1.2.3-stable is an example: the newest stable tag is offered, asked for.
    assert by_level[3].params == {"tag": "[tag]", "tag_filter": "stable"}
    assert by_level[4].destructive and by_level[5].destructive
    assert by_level[5].provider == "manual"
    table = [(o.service, o.rto_minutes, o.rpo_minutes, o.priority) for o in procedure.objectives]
    assert table == [
        ("Core API", 5, 1, "Critical"),
        ("User Auth", 5, 1, "Critical"),
        ("Database", 15, 5, "Critical"),
        ("File Storage", 30, 15, "High"),
        ("Analytics", 120, 60, "Medium"),
    ]
    errors = next(t for t in procedure.triggers if t.metric == "error_rate")
    assert (errors.threshold, errors.count) == (10, 5)
    assert procedure.tree.derived and "Decision Matrix" in procedure.tree.derived_from


def test_pitchey_follows_seed_004(builtins: dict[str, Procedure]) -> None:
    procedure = builtins["pitchey"]
    providers = {option.provider for option in procedure.options}
    assert {"cloudflare_workers", "cloudflare_pages", "postgres", "cache"} <= providers
    assert procedure.option("pages").params["project"] == "pitchey"
    assert procedure.option("cache").action == "clear"
    secrets, values = procedure.option("config"), procedure.option("config-vars")
    assert (secrets.provider, secrets.action) == ("cloudflare_workers", "restore_secrets")
    assert secrets.params == {"names": "JWT_SECRET,DATABASE_URL"}
    assert (values.provider, values.action) == ("cloudflare_workers", "restore_vars")
    assert "FEATURE_FLAG=false" in values.commands[0]
    for node in ("critical-config", "high-config"):
        assert procedure.tree.nodes[node].options == ["config", "config-vars"]  # type: ignore[union-attr]
    revert = procedure.option("git-revert")  # the Pages procedure's "or git revert HEAD, push"
    assert (revert.provider, revert.action, revert.params["branch"]) == ("git", "revert", "main")
    stages = [t.body for t in procedure.templates.values() if t.audience == "status_page"]
    assert [body.split(" - ")[0] for body in stages] == [
        "**Investigating**",
        "**Identified**",
        "**Monitoring**",
        "**Resolved**",
    ]
    assert [(s.role, s.level) for s in procedure.escalation.steps] == [
        ("On-Call Engineer", 1),
        ("DevOps Lead", 2),
        ("CTO", 3),
    ]
    assert procedure.tree.derived


def test_the_five_are_different_procedures(builtins: dict[str, Procedure]) -> None:
    for one, two in combinations(BUILTINS, 2):
        first, second = builtins[one], builtins[two]
        rules = [
            {(t.metric, t.comparison, t.threshold, t.mode, t.count) for t in p.triggers}
            for p in (first, second)
        ]
        actions = [{(o.provider, o.action) for o in p.options} for p in (first, second)]
        commands = [{c for o in p.options for c in o.commands} for p in (first, second)]
        assert rules[0] != rules[1], (one, two)
        assert actions[0] != actions[1], (one, two)
        # Seeds share a few generic lines (git log --oneline -10), never most of their commands.
        shared = commands[0] & commands[1]
        assert len(shared) * 4 < min(len(commands[0]), len(commands[1])), (one, two, shared)
        assert first.title != second.title and first.organisation != second.organisation


# --- shape rules every built-in keeps ---------------------------------------------------------


@pytest.mark.parametrize("name", BUILTINS)
def test_tree_is_finite_and_every_node_reachable(name: str, builtins: dict[str, Procedure]) -> None:
    procedure = builtins[name]
    tree = procedure.tree
    assert tree.derived == (name not in {"huntaze", "ai-saas"})
    if tree.derived:
        assert tree.derived_from.strip()
    reached: set[str] = set()
    leaves: set[str] = set()

    def walk(node_id: str, trail: tuple[str, ...]) -> None:
        assert node_id not in trail, f"loop {trail} -> {node_id}"
        reached.add(node_id)
        node = tree.nodes[node_id]
        if isinstance(node, OutcomeNode):
            leaves.add(node_id)
            return
        for answer in node.answers:
            walk(answer.next, (*trail, node_id))

    walk(tree.start, ())
    assert reached == set(tree.nodes)
    assert leaves == {i for i, n in tree.nodes.items() if isinstance(n, OutcomeNode)}
    assert any(isinstance(n, OutcomeNode) and n.decision == "rollback" for n in tree.nodes.values())


@pytest.mark.parametrize("name", BUILTINS)
def test_templates_render_with_every_fact(name: str, builtins: dict[str, Procedure]) -> None:
    facts = {field: f"<{field}>" for field in TEMPLATE_FIELDS}
    templates = builtins[name].templates
    assert templates
    for template in templates.values():
        for text in (template.subject, template.body):
            rendered = text.format_map(facts)
            assert "{" not in rendered and "}" not in rendered
            assert "[Brief" not in rendered and "[HH:MM" not in rendered


@pytest.mark.parametrize("name", BUILTINS)
def test_trigger_and_option_conventions(name: str, builtins: dict[str, Procedure]) -> None:
    procedure = builtins[name]
    assert procedure.sample_interval_seconds == 60
    assert set(procedure.metrics) <= VOCABULARY
    assert procedure.metrics["error_rate"].unit == "%"
    for trigger in procedure.triggers:
        assert trigger.source_text
        assert trigger.min_samples <= max(trigger.count, trigger.within or 0)
    for option in procedure.options:
        assert option.provider in ACTION_PROVIDERS
        assert option.best_for and option.recovery_time.text
        if option.destructive:
            assert option.warning
    assert procedure.escalation.steps
    assert (
        all(step.after_minutes is not None for step in procedure.escalation.steps)
        or procedure.escalation.note
    )


@pytest.mark.parametrize("name", BUILTINS)
def test_user_share_ranges_do_not_overlap(name: str, builtins: dict[str, Procedure]) -> None:
    matrix = builtins[name].matrix
    assert matrix is not None
    ranges = [row.users_pct for row in matrix.rows if row.users_pct is not None]
    if not ranges:
        return
    assert matrix.tie_breaks
    for tenth in range(0, 1001):
        value = tenth / 10
        owners = [r for r in ranges if r.contains(value)]
        assert len(owners) == 1, (name, value, owners)


# --- malformed files --------------------------------------------------------------------------

KNOWN_FIELDS = ", ".join(sorted(TEMPLATE_FIELDS))
ACTION_PROVIDERS = {
    name for name in provider_names() if issubclass(load_provider(name), ActionProvider)
} | {"manual"}
ACTION_PROVIDER_LIST = ", ".join(sorted(ACTION_PROVIDERS - {"manual"}))
BAD_FILES = [
    ("syntax-error", 13, "", "YAML syntax error: expected ',' or ']', but got ':'"),
    ("unknown-key", 18, "triggers[0].colour", "unknown key"),
    (
        "wrong-type",
        15,
        "triggers[0].threshold",
        "Input should be a valid number, unable to parse string as a number",
    ),
    ("missing-key", 39, "options[0].best_for", "required key is missing"),
    ("missing-decision", 30, "tree.nodes.roll.decision", "required key is missing"),
    (
        "dangling-reference",
        30,
        "tree.nodes.down.answers[2].next",
        "'nowhere' is not a node of the tree (dangling reference)",
    ),
    ("unreachable-node", 38, "tree.nodes.orphan", "node 'orphan' cannot be reached from 'down'"),
    (
        "tree-loop",
        33,
        "tree.nodes.again.answers[0].next",
        "the tree loops: down -> again -> down",
    ),
    (
        "unknown-placeholder",
        60,
        "templates.started.body",
        f"placeholder {{reasn}} does not exist (known: {KNOWN_FIELDS})",
    ),
    ("unknown-metric", 13, "triggers[0].metric", "unknown metric 'latency'"),
    ("unknown-option", 34, "tree.nodes.roll.options[0]", "unknown option 'rollback-everything'"),
    ("unknown-severity", 33, "tree.nodes.roll.severity", "unknown severity 'p9'"),
    ("duplicate-key", 16, "triggers[0].threshold", "key repeats"),
    (
        "window-without-within",
        11,
        "triggers[0]",
        "mode 'window' needs 'within' (the number of recent samples)",
    ),
    ("count-above-within", 11, "triggers[0]", "count 5 cannot exceed within 3"),
    (
        "unknown-provider",
        42,
        "options[0].provider",
        f"provider 'aws' is not installed (installed: {ACTION_PROVIDER_LIST}; "
        "or manual, for steps a human runs)",
    ),
    (
        "bad-identifier",
        11,
        "triggers[0].id",
        "String should match pattern '^[a-z0-9][a-z0-9_.-]*$'",
    ),
    (
        "bad-enum",
        45,
        "options[0].risk",
        "Input should be 'low', 'low-medium', 'medium', 'high' or 'critical'",
    ),
    (
        "derived-without-source",
        22,
        "tree",
        "a derived tree must say what it was derived from ('derived_from')",
    ),
    ("evidence-answer", 25, "tree.nodes.down", "evidence answer 'x' is not one of ['y', 'n']"),
    (
        "rollback-without-options",
        30,
        "tree.nodes.roll.options",
        "a rollback outcome must name at least one option",
    ),
    (
        "one-answer",
        27,
        "tree.nodes.down.answers",
        "List should have at least 2 items after validation, not 1",
    ),
    ("empty", 1, "", "a procedure file must be a mapping of keys to values"),
    ("top-level-list", 1, "", "a procedure file must be a mapping of keys to values"),
]


def expected_line(name: str, line: int, field: str, message: str) -> str:
    where = f"{BAD / name}.yaml:{line}"
    return f"{where}: {field}: {message}" if field else f"{where}: {message}"


def test_every_bad_fixture_is_covered() -> None:
    assert len(BAD_FILES) >= 12
    assert sorted(path.stem for path in BAD.glob("*.yaml")) == sorted(b[0] for b in BAD_FILES)


@pytest.mark.parametrize(
    ("name", "line", "field", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_bad_file_gets_one_exact_line(name: str, line: int, field: str, message: str) -> None:
    code, out, err = run("validate", f"{BAD / name}.yaml")
    assert code == 2 and out == ""
    assert err.splitlines() == [expected_line(name, line, field, message)]
    assert f"bad/{name}.yaml:{line}: {field + ':' if field else ''}" in err


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("missing.yaml", "cannot read: No such file or directory"),
        ("a-directory", "cannot read: Is a directory"),
        ("latin1.yaml", "not UTF-8 text"),
    ],
)
def test_unreadable_files_are_one_line_too(tmp_path: Path, target: str, problem: str) -> None:
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    code, _, err = run("validate", str(tmp_path / target))
    assert code == 2
    assert err.startswith(f"{tmp_path / target}: {problem}") and len(err.splitlines()) == 1


def test_show_of_an_unknown_name_is_one_line() -> None:
    code, out, err = run("show", "no-such-procedure")
    assert code == 2 and out == ""
    assert err.startswith("no-such-procedure.yaml: no built-in procedure 'no-such-procedure'")


def test_validate_in_a_real_process_reports_all_files_and_loads_no_ui() -> None:
    """Good and bad files in one run, through a fresh interpreter: exit 2, no traceback."""
    files = [str(ROOT / "checklists" / "pitchey.yaml"), *(f"{BAD / b[0]}.yaml" for b in BAD_FILES)]
    script = (
        "import sys\n"
        "from cockpit.commands.procedures import procedures\n"
        "try:\n"
        "    procedures(['validate', *sys.argv[1:]], prog_name='cockpit procedures')\n"
        "except SystemExit as done:\n"
        # Not Rich: checking the providers imports httpx, whose CLI module imports Rich.
        "    loaded = sorted(m for m in ('textual',) if m in sys.modules)\n"
        "    print('ui modules:', loaded)\n"
        "    raise\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *files],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith(f"ok: {files[0]} (pitchey, 3 triggers, 9 options)")
    assert "ui modules: []" in result.stdout
    assert result.stderr.splitlines() == [expected_line(*bad) for bad in BAD_FILES]


def test_the_installed_command_reports_a_bad_file() -> None:
    """`python -m cockpit procedures validate` end to end, as a user runs it."""
    name, line, field, message = BAD_FILES[1]
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "procedures", "validate", f"{BAD / name}.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [expected_line(name, line, field, message)]


# --- the format's documentation -------------------------------------------------------------

FORMAT_DOC = ROOT / "docs" / "procedure-format.md"


def provider_table() -> str:
    """The table of providers, actions and parameters, as docs/procedure-format.md has it."""
    rows = ["| Provider | Action | Parameters (**required**) |", "|---|---|---|"]
    for name in sorted(ACTION_PROVIDERS - {"manual"}):
        cls = load_provider(name)
        assert issubclass(cls, ActionProvider)
        for action, params in cls.action_params.items():
            cells = []
            for param, spec in params.items():
                if any(param in other.instead for other in params.values()):
                    continue  # shown beside the parameter it stands in for
                instead = ", ".join(f"`{i}`" for i in spec.instead)
                cell = f"**`{param}`**" if spec.required else f"`{param}`"
                cells.append(cell + (f" (or {instead})" if instead else ""))
            rows.append(f"| `{name}` | `{action}` | {', '.join(cells)} |")
    return "\n".join(rows)


def test_the_documented_parameters_are_the_declared_ones() -> None:
    assert provider_table() in FORMAT_DOC.read_text(encoding="utf-8")


def test_the_documented_actions_and_parameters_are_the_providers_own() -> None:
    """docs/procedure-format.md's reference is what the providers declare (`make docs`)."""
    from cockpit.procedure_reference import provider_reference

    reference = provider_reference()
    assert reference in FORMAT_DOC.read_text(encoding="utf-8"), "run make docs"
    assert "`revert`: revert a commit" in reference  # each action's purpose is there
    assert "`commit` (required; or `commits` instead)" in reference  # and each parameter's


def test_the_documented_example_validates() -> None:
    text = FORMAT_DOC.read_text(encoding="utf-8")
    example = text.split("## A minimal file, annotated\n\n```yaml\n", 1)[1].split("```", 1)[0]
    from cockpit.procedure_check import provider_problems

    procedure = parse_procedure(example, "docs/procedure-format.md", check=provider_problems)
    assert procedure.name == "minimal"


#: Values the runbooks give as examples ("e.g."), never the thing to roll back to.
RUNBOOK_EXAMPLES = (
    "huntaze-def456.vercel.app",
    "abc1234",
    "backup-YYYYMMDD-HHMMSS.sql",
    "problematic_feature",
    "v1.2.3-stable",
    "20240101120000",
    "20240115120000",
    "db/backup_20240115_020000.sql.gz",
    "/backups/ai_saas_20251009.sql.gz",
    "pre-migration-backup.sql",
    "your-registry/ai-saas-web",
    "huntaze-db-snapshot-YYYYMMDD",
)

#: (procedure, option, parameter) the responder picks from the provider's candidates.
ASKED = (
    ("huntaze", "vercel-instant", "deployment"),
    ("huntaze", "git-revert", "commit"),
    ("huntaze", "database", "backup_file"),
    ("pulse-messages", "git-revert", "commit"),
    ("pulse-messages", "blue-green", "deployment"),
    ("ai-saas", "compose-image", "image"),
    ("ai-saas", "cicd-redeploy", "run_id"),
    ("ai-saas", "db-partial-migration", "backup_file"),
    ("ai-saas", "db-corruption", "backup_file"),
    ("five-levels", "feature-flag", "flags"),
    ("five-levels", "code", "tag"),
    ("five-levels", "database", "to"),
    ("pitchey", "db-schema", "to"),
    ("pitchey", "db-data", "backup"),
    ("pitchey", "git-revert", "commit"),
    ("huntaze", "aws-rds-snapshot", "instance"),
    ("huntaze", "aws-rds-snapshot", "snapshot"),
)


def test_no_provider_option_is_pinned_to_a_runbook_example(
    builtins: dict[str, Procedure],
) -> None:
    """An example value copied in as a parameter made preflight fail ("Nothing was changed")
    in a real incident: the option asks instead, offering the provider's candidates."""
    for name, option_id, param in ASKED:
        value = builtins[name].option(option_id).params[param]
        assert isinstance(value, str) and re.fullmatch(r"\[[^\]]+\]", value), (name, option_id)
    for name, procedure in builtins.items():
        for option in procedure.options:
            if option.provider == "manual":
                continue  # shown to a responder who does it by hand, not run
            text = json.dumps(option.params)
            found = [example for example in RUNBOOK_EXAMPLES if example in text]
            assert not found, f"{name}/{option.id} is pinned to {found}"


def test_procedures_list_reads_the_files_without_validating_them() -> None:
    """Five lines that agree with the validated procedures, printed without building a pydantic
    model (it validated all five to print five lines: 0.8 s)."""
    import subprocess
    import sys

    from click.testing import CliRunner

    from cockpit.cli import cli

    listed = CliRunner().invoke(cli, ["procedures", "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    for name in BUILTINS:
        procedure = load_builtin(name)
        (line,) = [line for line in lines if line.startswith(f"{name} ")]
        assert f"{len(procedure.triggers)} triggers" in line
        assert f"{len(procedure.options)} options" in line
        assert line.endswith(procedure.title)
    probe = (
        "import sys; from cockpit.cli import main; sys.argv = ['cockpit', 'procedures', 'list']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('pydantic' in sys.modules, file=sys.stderr)"
    )
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert ran.stderr.strip().splitlines()[-1] == "False", ran.stderr
