"""Hostile procedure files through every command that loads one: one line, exit 2, no hang.

The corpus is generated here (a FIFO, a sparse 50 MB file and a 10^7 alias bomb cannot be
committed sensibly): files that attack the reader (alias bomb, recursive alias, deep nesting,
huge numbers, bad and unknown tags, control characters and a terminal escape, binary, not
UTF-8, a FIFO, a directory, a huge file, an empty file) and files that used to validate and
then break (a bad template conversion, decreasing escalation minutes, a NaN threshold, an
action, parameter or provider that does not exist, a required parameter missing). Each goes
through the real `cockpit` command line, in a process of its own with a timeout:
`procedures validate` and `show`, `backtest`, `export` and `postmortem` of an incident bound
to it, `incident open --procedure` and the bare `cockpit --procedure` start. Every run must
end in time, without a traceback and before Textual is imported, with one line naming the
file (and the line and field where there is one), and create nothing.

`procedures validate` takes the whole corpus in one `python -m cockpit`; the 120 single-file
command lines are forked from one helper that imported the modules once (tests/forked_cli.py:
each still a process of its own, killed at its timeout), and a few of them are run again
through `python -m cockpit` itself to show the helper changes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.commands.run import resolve_incident
from cockpit.core.errors import ProcedureFileError
from cockpit.core.procedure_loader import parse_procedure
from cockpit.core.timeline import Timeline
from cockpit.procedure_check import provider_problems

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = (ROOT / "tests" / "procedures" / "minimal.yaml").read_text(encoding="utf-8")
TIMEOUT_S = 20.0
"""Per command; a bounded refusal takes a fraction of a second."""


@dataclass(frozen=True)
class Hostile:
    """One corpus file and the one line every command must give about it."""

    name: str
    line: int | None
    field: str
    says: str


def _line_of(text: str, marker: str) -> int:
    return text[: text.index(marker)].count("\n") + 1


def _variant(old: str, new: str) -> str:
    assert MINIMAL.count(old) == 1, old
    return MINIMAL.replace(old, new)


def _write_corpus(folder: Path) -> dict[str, tuple[Path, Hostile]]:
    """Every hostile file in `folder`, with what must be said about it."""
    texts: dict[str, tuple[str, Hostile]] = {}

    def add(name: str, text: str, marker: str | None, field: str, says: str) -> None:
        line = _line_of(text, marker) if marker is not None else None
        texts[name] = (text, Hostile(name, line, field, says))

    bomb = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    bomb += [f"lol{n}: &lol{n} [{', '.join([f'*lol{n - 1}'] * 10)}]" for n in range(1, 7)]
    add("alias-bomb", MINIMAL + "\n".join(bomb) + "\n", "lol4:", "", "an alias bomb?")
    add("recursive-alias", MINIMAL + "loop: &loop [*loop]\n", "loop:", "", "recursive alias")
    add(
        "deep-nesting",
        MINIMAL + "deep: " + "[" * 10_000 + "]" * 10_000 + "\n",
        "deep:",
        "",
        "nested more than 32 levels deep",
    )
    huge = _variant("threshold: 5\n", "threshold: " + "9" * 5000 + "\n")
    add("huge-integer", huge, "threshold:", "", "a number 5,000 characters long")
    bad_int = _variant("threshold: 5\n", "threshold: !!int abc\n")
    add("bad-int-tag", bad_int, "threshold:", "", "!!int value 'abc' cannot be read")
    unknown = _variant("threshold: 5\n", "threshold: !ratio 5\n")
    add("unknown-tag", unknown, "threshold:", "", "constructor for the tag '!ratio'")
    add("control-characters", "name: bad\x07bell\n", "name:", "", "unacceptable character #x0007")
    escape = _variant("title: Minimal procedure", 'title: "\\e[2J\\ud800"')
    add("terminal-escape", escape, "title:", "", "'\\x1b', which a terminal must not get")
    texts["empty"] = ("", Hostile("empty", 1, "", "a procedure file must be a mapping"))

    conversion = _variant("ETA {eta}.", "ETA {eta!z}.")
    add("bad-conversion", conversion, "    body:", "templates.started.body", "conversion !z")
    escalation = _variant(
        "level: 1}\n", "level: 1}\n    - {role: Manager, after_minutes: 3, level: 2}\n"
    )
    add(
        "decreasing-escalation",
        escalation,
        "role: Manager",
        "escalation.steps[1].after_minutes",
        "must not decrease",
    )
    nan = _variant("threshold: 5\n", "threshold: .nan\n")
    add("nan-threshold", nan, "threshold:", "triggers[0].threshold", "finite number")
    action = _variant("action: revert\n", "action: rewind\n")
    add("unknown-action", action, "action: rewind", "options[0].action", "no action 'rewind'")
    param = _variant('{commit: "[commit-hash]"}', '{commit: "[commit-hash]", sha: abc}')
    add("unknown-param", param, "params:", "options[0].params.sha", "no parameter 'sha'")
    provider = _variant("provider: git\n", "provider: argo_rollouts\n")
    add(
        "uninstalled-provider",
        provider,
        "provider: argo",
        "options[0].provider",
        "'argo_rollouts' is not installed",
    )
    required = _variant('    params: {commit: "[commit-hash]"}\n', "")
    add("missing-parameter", required, "- id: revert", "options[0].params", "needs commit")

    corpus: dict[str, tuple[Path, Hostile]] = {}
    for name, (text, hostile) in texts.items():
        path = folder / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        corpus[name] = (path, hostile)

    def special(name: str, says: str) -> Path:
        corpus[name] = (folder / f"{name}.yaml", Hostile(name, None, "", says))
        return corpus[name][0]

    special("binary", "not UTF-8 text").write_bytes(bytes(range(256)) * 16)
    special("not-utf8", "not UTF-8 text: byte 0xe9").write_bytes(
        "name: caf\xe9\n".encode("latin-1")
    )
    os.mkfifo(special("fifo", "not a regular file but a named pipe"))
    special("directory", "cannot read: Is a directory").mkdir()
    with special("huge-file", "the file is 50.0 MiB; the limit is 1.0 MiB").open("wb") as big:
        big.truncate(50 * 1024 * 1024)  # sparse: refused by its size, never read
    return corpus


@dataclass(frozen=True)
class Ran:
    """One finished (or stopped) command."""

    code: int | None
    """None: killed at the timeout."""
    stdout: str
    stderr: str
    textual: bool = False
    """Whether Textual had been imported when the command ended."""


def _env(home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "COCKPIT_CONFIG": str(home / "no-cockpit.toml"),
        "COCKPIT_DATA_DIR": str(home / "data"),
    }
    env.pop("COCKPIT_DB", None)
    return env


def _cockpit(argv: list[str], env: dict[str, str]) -> Ran:
    """`python -m cockpit ARGV`, as a user runs it, saying whether Textual was loaded."""
    code = (
        "import atexit, runpy, sys\n"
        "atexit.register(lambda: print('TEXTUAL' if 'textual' in sys.modules else '',"
        " end='', file=sys.__stdout__))\n"
        f"sys.argv = ['cockpit', *{argv!r}]\n"
        "runpy.run_module('cockpit', run_name='__main__', alter_sys=True)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Ran(None, "", "")
    out = done.stdout.removesuffix("TEXTUAL")
    return Ran(done.returncode, out, done.stderr, textual=out != done.stdout)


def _forked(jobs: list[list[str]], env: dict[str, str]) -> list[Ran]:
    """Each command line in its own process, forked from one that did the imports once."""
    asked = json.dumps({"jobs": jobs, "timeout": TIMEOUT_S, "workers": 2})
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "forked_cli.py")],
        input=asked,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S * len(jobs),  # a backstop; each job has its own timeout
        cwd=ROOT,
        env=env,
        check=True,
    )
    return [
        Ran(found["code"], found["stdout"], found["stderr"], found["textual"])
        for found in json.loads(done.stdout)
    ]


COMMANDS = ["show", "backtest", "export", "postmortem", "incident-open", "start"]


@dataclass
class Corpus:
    """The files, the timeline their incidents live in, and every command's run."""

    folder: Path
    files: dict[str, tuple[Path, Hostile]]
    db: Path
    incidents: dict[str, int]
    env: dict[str, str]
    validate: Ran
    runs: dict[tuple[str, str], Ran]

    def fresh(self, command: str, name: str) -> Path:
        """The database an incident open or a start with this file was pointed at."""
        return self.folder / f"fresh-{command}-{name}.db"

    def argv(self, command: str, name: str) -> list[str]:
        """The command line of `command` on the file `name`."""
        path = str(self.files[name][0])
        incident = str(self.incidents[name])
        fresh = str(self.fresh(command, name))
        return {
            "show": ["procedures", "show", path],
            "backtest": ["backtest", "--procedure", path, "--samples", str(self.samples)],
            "export": ["--db", str(self.db), "export", incident],
            "postmortem": ["--db", str(self.db), "postmortem", incident],
            "incident-open": [
                *("--db", fresh, "incident", "open", "--title", "x"),
                "--procedure",
                path,
            ],
            "start": ["--db", fresh, "--procedure", path],
        }[command]

    @property
    def samples(self) -> Path:
        return self.folder / "samples.csv"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    folder = tmp_path_factory.mktemp("hostile")
    files = _write_corpus(folder)
    env = _env(tmp_path_factory.mktemp("home"))
    db = folder / "bound.db"
    incidents: dict[str, int] = {}
    with Timeline(db) as timeline:
        for name, (path, _) in files.items():
            opened = timeline.open_incident(f"bound to {name}", "P1", str(path))
            timeline.close_incident(opened.id, "closed for its post-mortem")
            incidents[name] = opened.id
    found = Corpus(folder, files, db, incidents, env, Ran(None, "", ""), {})
    found.samples.write_text(
        "at,metric,value\n2026-01-15T03:00:00Z,error_rate,1.0\n", encoding="utf-8"
    )
    keys = [(command, name) for command in COMMANDS for name in files]
    everything = ["procedures", "validate", *(str(path) for path, _ in files.values())]
    with ThreadPoolExecutor(max_workers=1) as pool:
        validating = pool.submit(_cockpit, everything, env)  # meanwhile, the forks
        found.runs = dict(zip(keys, _forked([found.argv(*key) for key in keys], env), strict=True))
        found.validate = validating.result()
    return found


def _expected(path: Path, hostile: Hostile) -> str:
    """The start of the one line: file, line and field where the problem has them."""
    where = f"{path}:{hostile.line}" if hostile.line is not None else str(path)
    return f"{where}: {hostile.field}: " if hostile.field else f"{where}: "


NAMES = [
    "alias-bomb",
    "recursive-alias",
    "deep-nesting",
    "huge-integer",
    "bad-int-tag",
    "unknown-tag",
    "control-characters",
    "terminal-escape",
    "binary",
    "not-utf8",
    "fifo",
    "directory",
    "huge-file",
    "empty",
    "bad-conversion",
    "decreasing-escalation",
    "nan-threshold",
    "unknown-action",
    "unknown-param",
    "uninstalled-provider",
    "missing-parameter",
]


def test_the_corpus_is_what_the_tests_name(corpus: Corpus) -> None:
    assert sorted(corpus.files) == sorted(NAMES)


def test_validate_gives_one_located_line_per_file(corpus: Corpus) -> None:
    ran = corpus.validate
    assert ran.code == 2, ran.stderr
    assert ran.stdout == "" and "Traceback" not in ran.stderr
    lines = ran.stderr.splitlines()
    assert len(lines) == len(corpus.files), lines
    for (path, hostile), line in zip(corpus.files.values(), lines, strict=True):
        assert line.startswith(_expected(path, hostile)), line
        assert hostile.says in line, line


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", NAMES)
def test_every_command_refuses_in_one_line(corpus: Corpus, command: str, name: str) -> None:
    path, hostile = corpus.files[name]
    ran = corpus.runs[command, name]
    assert ran.code is not None, f"{command} hung on {name} ({ran.seconds:.0f} s)"
    assert "Traceback" not in ran.stderr, ran.stderr
    [line] = ran.stderr.splitlines()
    if command == "export":
        # The post-mortem still exports without its procedure (a warning, as for a missing
        # one): the incident's record must not be held hostage by its runbook file.
        assert ran.code == 0 and "# Incident Report:" in ran.stdout
        assert line.startswith(f"cockpit: warning: procedure {str(path)!r} not loaded (")
        located = line.split(" not loaded (", 1)[1]
    elif command == "show":  # `cockpit procedures` prints the problem lines as they are
        assert ran.code == 2 and ran.stdout == "", ran.stdout
        located = line
    else:
        assert ran.code == 2, (ran.stdout, ran.stderr)
        assert line.startswith("cockpit: "), line
        located = line.removeprefix("cockpit: ")
    assert located.startswith(_expected(path, hostile)), line
    assert hostile.says in located, line
    assert not ran.textual, "Textual was loaded before the refusal"


@pytest.mark.parametrize("name", ["alias-bomb", "fifo", "unknown-param"])
@pytest.mark.parametrize("command", COMMANDS)
def test_the_installed_entry_point_refuses_the_same(
    corpus: Corpus, command: str, name: str
) -> None:
    """`python -m cockpit` itself (not forked from a helper) says the same, in the same time."""
    alone = _cockpit(corpus.argv(command, name), corpus.env)
    forked = corpus.runs[command, name]
    assert (alone.code, alone.stderr, alone.textual) == (forked.code, forked.stderr, False)


def test_nothing_is_created(corpus: Corpus) -> None:
    for name in corpus.files:
        opened = corpus.fresh("incident-open", name)
        assert not opened.exists(), f"incident open --procedure {name} created {opened}"
        started = corpus.fresh("start", name)
        if started.exists():
            with Timeline(started, create=False) as timeline:
                assert timeline.incidents() == [], f"the start with {name} created an incident"
    with Timeline(corpus.db, create=False) as timeline:
        assert len(timeline.incidents()) == len(corpus.files)
        for incident_id in corpus.incidents.values():
            kinds = [event.kind for event in timeline.events(incident_id)]
            assert kinds == ["incident.opened", "incident.closed"], kinds


# --- the bounds themselves --------------------------------------------------------------------


def test_an_alias_bomb_is_refused_fast_and_small() -> None:
    """10^9 values if expanded: refused after counting a few hundred events."""
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]
    text = MINIMAL + "\n".join(lines) + "\n"
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ProcedureFileError, match="alias bomb"):
        parse_procedure(text, "bomb.yaml")
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seconds < 0.5 and peak < 2 * 1024 * 1024, (seconds, peak)


def test_aliases_and_merge_keys_within_the_budget_still_load() -> None:
    text = _variant(
        "  quick:\n    title: Quick checklist\n", "  quick: &quick\n    title: Quick checklist\n"
    ).replace("templates:\n", "  post: {<<: *quick, title: After}\ntemplates:\n", 1)
    procedure = parse_procedure(text, "merge.yaml")
    assert procedure.checklists["post"].title == "After"
    assert procedure.checklists["post"].items == procedure.checklists["quick"].items


def test_template_conversions_and_specs_that_render_are_accepted() -> None:
    text = _variant("ETA {eta}.", "ETA {eta!r:>12} at {time!s}.")
    assert parse_procedure(text, "ok.yaml").templates["started"].body.endswith("{time!s}.")
    for bad, says in [
        ("{eta:=10}", "'=' alignment not allowed"),
        ("{eta:{time}}", "a placeholder inside a format spec"),
        ("{eta:99999999}", "a width over 1000 characters"),
        ("{eta!}", "bad placeholder syntax"),
    ]:
        with pytest.raises(ProcedureFileError, match=says):
            parse_procedure(_variant("ETA {eta}.", bad), "bad.yaml")


def test_escalation_levels_must_not_repeat() -> None:
    text = _variant(
        "level: 1}\n", "level: 1}\n    - {role: Manager, after_minutes: 10, level: 1}\n"
    )
    with pytest.raises(ProcedureFileError) as raised:
        parse_procedure(text, "levels.yaml")
    assert raised.value.lines() == [
        f"levels.yaml:{_line_of(text, 'role: Manager')}: escalation.steps[1].level: level 1 "
        "repeats (steps[0]): only one of them would ever be announced"
    ]


# --- the providers' own schemas ---------------------------------------------------------------


def _checked(text: str) -> list[str]:
    try:
        parse_procedure(text, "p.yaml", check=provider_problems)
    except ProcedureFileError as error:
        return error.lines()
    return []


def test_manual_takes_any_action_and_words() -> None:
    text = _variant("provider: git\n", "provider: manual\n").replace(
        '{commit: "[commit-hash]"}', "{runbook: wiki/rollback, steps_url: https://x}"
    )
    assert _checked(text) == []


def test_a_stand_in_or_a_placeholder_satisfies_a_required_parameter() -> None:
    assert _checked(MINIMAL) == []  # commit: "[commit-hash]", asked for on the action screen
    assert _checked(MINIMAL.replace('{commit: "[commit-hash]"}', "{commits: a1..b2}")) == []


def test_a_notifier_is_not_an_action_provider() -> None:
    [line] = _checked(_variant("provider: git\n", "provider: slack\n"))
    assert "options[0].provider: provider 'slack' runs no actions" in line


def test_a_checklist_run_is_checked_like_an_option() -> None:
    text = _variant(
        "      - {id: confirm, text: Confirm rollback is necessary}\n",
        "      - id: confirm\n        text: Confirm rollback is necessary\n"
        "        run: {provider: verification, action: health_check, params: {urll: x}}\n",
    )
    assert _checked(text) == [
        f"p.yaml:{_line_of(text, 'urll')}: checklists.quick.items[0].run.params: verification "
        'health_check needs url (http(s)://host/path to GET): write it, or "[url]" for the '
        "responder to fill in",
        f"p.yaml:{_line_of(text, 'urll')}: checklists.quick.items[0].run.params.urll: "
        "verification health_check takes no parameter 'urll' (it takes: attempts, contains, "
        "expect_status, incident, interval_seconds, name, url)",
    ]


# --- opening an incident ----------------------------------------------------------------------


def test_incident_open_validates_before_it_records(tmp_path: Path) -> None:
    from cockpit.cli import cli

    db = tmp_path / "t.db"
    missing = CliRunner().invoke(
        cli, ["--db", str(db), "incident", "open", "--title", "x", "--procedure", "nope.yaml"]
    )
    assert missing.exit_code == 2 and not db.exists()
    assert missing.stderr == "cockpit: nope.yaml: cannot read: No such file or directory\n"
    good = tmp_path / "good.yaml"
    good.write_text(MINIMAL, encoding="utf-8")
    opened = CliRunner().invoke(
        cli, ["--db", str(db), "incident", "open", "--title", "x", "--procedure", str(good)]
    )
    assert (opened.exit_code, opened.stdout) == (0, "1\n")


def test_a_start_never_resumes_an_incident_under_another_procedure(tmp_path: Path) -> None:
    """The incident bound to a bad file is not resumed, silently, by a start with a good one."""
    db, bad, good = tmp_path / "t.db", tmp_path / "bad.yaml", tmp_path / "good.yaml"
    bad.write_text(_variant("ETA {eta}.", "ETA {eta!z}."), encoding="utf-8")
    good.write_text(MINIMAL, encoding="utf-8")
    with Timeline(db) as timeline:  # left over from before the start validated first
        timeline.open_incident("Rollback incident", "untriaged", str(bad))
    env = _env(tmp_path)
    ran = _cockpit(["--db", str(db), "--procedure", str(good)], env)
    assert ran.code == 2 and not ran.textual
    assert ran.stderr == (
        f"cockpit: incident 1 is open under procedure {str(bad)!r}, not {str(good)!r}: resume "
        "it with `cockpit --incident 1`, or close it with `cockpit incident close 1` and start "
        "again\n"
    )
    with Timeline(db, create=False) as timeline:
        assert [i.id for i in timeline.incidents()] == [1]
        timeline.close_incident(1, "bound to a bad file")
        validated: list[str] = []
        opened = resolve_incident(
            timeline,
            None,
            title="t",
            severity="P1",
            procedure=str(good),
            requested=str(good),
            validate=validated.append,
        )
        assert (opened.id, validated) == (2, [str(good)])
        # The same file under another name resumes it.
        again = resolve_incident(
            timeline,
            None,
            title="t",
            severity="P1",
            procedure="x",
            requested=str(tmp_path / "." / "good.yaml"),
            validate=validated.append,
        )
        assert again.id == 2 and validated == [str(good)]
