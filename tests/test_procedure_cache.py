"""The procedure cache: a text validated once is read back, not validated, and equal to a fresh
validation; anything that could make it stale names another entry; a bad entry is rebuilt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from cockpit.core import procedure_cache, procedure_json, procedure_loader
from cockpit.core.errors import ProcedureFileError
from cockpit.core.procedure import Procedure
from cockpit.core.procedure_copy import load, read_copy
from cockpit.core.procedure_file import read_builtin
from cockpit.core.procedure_loader import load_builtin, parse_procedure
from providers import installed

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "tests" / "procedures" / "minimal.yaml"
BAD = ROOT / "tests" / "procedures" / "bad"
BUILTINS = ["ai-saas", "five-levels", "huntaze", "pitchey", "pulse-messages"]


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The `shown` of every full validation the cache asks the loader for."""
    seen: list[str] = []

    def counting(text: str, shown: str, **kwargs: Any) -> Procedure:
        seen.append(shown)
        return parse_procedure(text, shown, **kwargs)

    monkeypatch.setattr(procedure_loader, "parse_procedure", counting)
    return seen


def entries() -> list[Path]:
    folder = procedure_cache.cache_dir()
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def same(found: Any, expected: Any, where: str = "procedure") -> None:
    """Equal, and of the same types all the way down (5 == 5.0 and a list == a list of
    another type's items would pass ==), with the same fields set."""
    assert type(found) is type(expected), where
    if isinstance(expected, BaseModel):
        assert found.model_fields_set == expected.model_fields_set, where
        for name in type(expected).model_fields:
            same(getattr(found, name), getattr(expected, name), f"{where}.{name}")
    elif isinstance(expected, list):
        assert len(found) == len(expected), where
        for position, (a, b) in enumerate(zip(found, expected, strict=True)):
            same(a, b, f"{where}[{position}]")
    elif isinstance(expected, dict):
        assert list(found) == list(expected), where
        for key in expected:
            same(found[key], expected[key], f"{where}[{key!r}]")
    else:
        assert found == expected, where


# --- a second load reads, and reads what validation gives -------------------------------------


@pytest.mark.parametrize("name", BUILTINS)
def test_a_builtin_read_back_equals_a_fresh_validation(name: str, validations: list[str]) -> None:
    first = procedure_cache.load_builtin(name)
    second = procedure_cache.load_builtin(name)
    assert validations == [f"checklists/{name}.yaml"]  # the second was read, not validated
    assert second is not first
    fresh = load_builtin(name)
    assert second == fresh
    same(second, fresh)


def test_a_second_load_does_not_validate(validations: list[str]) -> None:
    text = MINIMAL.read_text()
    first = procedure_cache.parse(text, "minimal.yaml")
    second = procedure_cache.parse(text, "minimal.yaml")
    assert validations == ["minimal.yaml"]
    assert second == first
    assert len(entries()) == 1


def test_a_second_start_builds_no_validator_and_imports_no_provider(tmp_path: Path) -> None:
    # A new process each time, as a start is: the second has the models' classes, but
    # pydantic never builds their validators and no provider is imported for the check.
    script = (
        "import sys\n"
        "from cockpit.core.procedure import Procedure\n"
        "from cockpit.core.procedure_copy import read_copy\n"
        "from cockpit.procedure_check import check_copy\n"
        "procedure = check_copy(read_copy(sys.argv[1]))\n"
        "print(procedure.name, Procedure.__pydantic_complete__,"
        " any(m.startswith('providers.') and m != 'providers.installed' for m in sys.modules))\n"
    )
    env = {**os.environ, "COCKPIT_DATA_DIR": str(tmp_path / "data")}

    def start() -> str:
        done = subprocess.run(
            [sys.executable, "-c", script, str(MINIMAL)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout.strip()

    assert start() == "minimal True True"  # validated, and checked against the providers
    assert start() == "minimal False False"


def test_a_changed_text_misses(validations: list[str]) -> None:
    text = MINIMAL.read_text()
    procedure_cache.parse(text, "minimal.yaml")
    edited = text.replace("title: Minimal procedure", "title: Minimal, edited")
    found = procedure_cache.parse(edited, "minimal.yaml")
    assert found.title == "Minimal, edited"
    assert validations == ["minimal.yaml", "minimal.yaml"]
    assert len(entries()) == 2


def test_the_same_text_from_another_path_is_read(validations: list[str]) -> None:
    text = MINIMAL.read_text()
    procedure_cache.parse(text, "one/minimal.yaml")
    procedure_cache.parse(text, "two/minimal.yaml")
    assert validations == ["one/minimal.yaml"]


# --- what invalidates an entry -------------------------------------------------------------


def test_another_schema_fingerprint_misses(
    validations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = MINIMAL.read_text()
    procedure_cache.parse(text, "minimal.yaml")
    monkeypatch.setattr(procedure_cache, "schema_fingerprint", lambda: "another model")
    procedure_cache.parse(text, "minimal.yaml")
    assert validations == ["minimal.yaml", "minimal.yaml"]


def test_the_fingerprint_follows_the_version_and_the_sources(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import cockpit

    procedure_cache.schema_fingerprint.cache_clear()
    before = procedure_cache.schema_fingerprint()
    assert before == procedure_cache.schema_fingerprint()
    procedure_cache.schema_fingerprint.cache_clear()
    monkeypatch.setattr(cockpit, "__version__", "99.0")
    assert procedure_cache.schema_fingerprint() != before
    procedure_cache.schema_fingerprint.cache_clear()
    monkeypatch.undo()

    # The same modules, one of them edited: a copy of cockpit/core with a changed model.
    folder = tmp_path / "core"
    folder.mkdir()
    for name in procedure_cache.SCHEMA_MODULES:
        source = ROOT / "cockpit" / "core" / f"{name}.py"
        (folder / source.name).write_bytes(source.read_bytes())
    monkeypatch.setattr(procedure_cache, "__file__", str(folder / "procedure_cache.py"))
    assert procedure_cache.schema_fingerprint() == before
    procedure_cache.schema_fingerprint.cache_clear()
    with (folder / "procedure.py").open("a") as model:
        model.write("\n# a changed model\n")
    assert procedure_cache.schema_fingerprint() != before
    procedure_cache.schema_fingerprint.cache_clear()
    (folder / "rules.py").unlink()
    assert procedure_cache.schema_fingerprint() is None  # sources unreadable: no cache
    procedure_cache.schema_fingerprint.cache_clear()


def test_nothing_is_cached_without_the_sources(
    validations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(procedure_cache, "schema_fingerprint", lambda: None)
    text = MINIMAL.read_text()
    procedure_cache.parse(text, "minimal.yaml")
    procedure_cache.parse(text, "minimal.yaml")
    assert validations == ["minimal.yaml", "minimal.yaml"]
    assert entries() == []


def test_the_schema_modules_are_every_module_the_loader_imports() -> None:
    # Validating and caching one, so that what the loader imports only when used counts too.
    script = (
        "import sys\n"
        "from cockpit.core import procedure_cache, procedure_json, procedure_loader\n"
        "from cockpit.core.procedure_file import read_builtin\n"
        "procedure = procedure_loader.parse_procedure(read_builtin('pulse-messages'), 'p')\n"
        "procedure_json.loads(procedure_json.dumps(procedure))\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('cockpit.'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    imported = set(done.stdout.split()) - {"cockpit.core"}
    assert imported <= {f"cockpit.core.{name}" for name in procedure_cache.SCHEMA_MODULES}


def test_another_check_key_misses_and_a_check_without_one_always_runs(
    validations: list[str],
) -> None:
    text = MINIMAL.read_text()
    checks: list[str] = []

    def check(procedure: Procedure) -> list[tuple[tuple[str | int, ...], str]]:
        checks.append(procedure.name)
        return []

    procedure_cache.parse(text, "m.yaml", check=check, check_key=lambda: "providers 1")
    procedure_cache.parse(text, "m.yaml", check=check, check_key=lambda: "providers 1")
    assert checks == ["minimal"]
    procedure_cache.parse(text, "m.yaml", check=check, check_key=lambda: "providers 2")
    assert checks == ["minimal", "minimal"]
    procedure_cache.parse(text, "m.yaml")  # unchecked: an entry of its own
    assert len(validations) == 3
    procedure_cache.parse(text, "m.yaml", check=check)
    procedure_cache.parse(text, "m.yaml", check=check)
    assert checks == ["minimal"] * 4


def test_a_copy_checked_against_the_providers_is_checked_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cockpit import procedure_check

    checked: list[str] = []
    real = procedure_check.provider_problems

    def counting(procedure: Procedure) -> Any:
        checked.append(procedure.name)
        return real(procedure)

    monkeypatch.setattr(procedure_check, "provider_problems", counting)
    copy = read_copy(str(MINIMAL))
    assert procedure_check.check_copy(copy) == procedure_check.check_copy(copy)
    assert procedure_check.load_copy(copy).procedure == load_builtin_free(copy.text)
    assert checked == ["minimal"]
    # The providers change (one installed, removed, upgraded or edited): checked again.
    monkeypatch.setattr(installed, "fingerprint", lambda: "other providers")
    procedure_check.check_copy(copy)
    assert checked == ["minimal", "minimal"]


def load_builtin_free(text: str) -> Procedure:
    return parse_procedure(text, "fresh.yaml")


def test_the_provider_fingerprint_follows_what_is_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    package = site / "acme_rollback"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "provider.py").write_text("ACTIONS = {'undo': 'undo it'}\n")
    dist = site / "acme_rollback-1.0.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text(
        f"[{installed.GROUP}]\nacme = acme_rollback.provider:Acme\n"
    )
    monkeypatch.syspath_prepend(str(site))
    base = installed.fingerprint()
    assert installed.fingerprint() == base

    (package / "provider.py").write_text("ACTIONS = {'undo': 'undo it', 'redo': 'redo it'}\n")
    edited = installed.fingerprint()
    assert edited != base
    dist.rename(site / "acme_rollback-1.1.dist-info")  # upgraded
    upgraded = installed.fingerprint()
    assert upgraded != edited
    (site / "acme_rollback-1.1.dist-info" / "entry_points.txt").write_text("")  # unregistered
    assert installed.fingerprint() != upgraded
    (site / "requests_extra-2.0.dist-info").mkdir()  # anything else installed
    assert len({base, edited, upgraded, installed.fingerprint()}) == 4


def test_the_built_in_providers_are_fingerprinted_by_their_source() -> None:
    assert installed._packages(
        f"[console_scripts]\nx = other:main\n[{installed.GROUP}]\n"
        "git = providers.git:GitProvider\nk8s = providers.kubernetes:KubernetesProvider\n"
    ) == {"providers"}
    sources = installed._sources("providers")
    assert str(ROOT / "providers" / "git.py") in sources
    assert str(ROOT / "providers" / "kubernetes" / "provider.py") in sources


# --- a bad entry is rebuilt, never an error -----------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        "empty",
        "truncated",
        "garbage",
        "another key",
        "unknown class",
        "missing field",
        "not a procedure",
        "deep",
        "directory",
        "world-writable",
        "binary",
    ],
)
def test_a_damaged_entry_is_validated_again_and_rewritten(
    damage: str, validations: list[str]
) -> None:
    text = MINIMAL.read_text()
    expected = procedure_cache.parse(text, "minimal.yaml")
    [entry] = entries()
    head, _, body = entry.read_text().partition("\n")
    if damage == "empty":
        entry.write_text("")
    elif damage == "truncated":
        entry.write_text(f"{head}\n{body[: len(body) // 2]}")
    elif damage == "garbage":
        entry.write_text(f"{head}\nnot json at all")
    elif damage == "another key":
        entry.write_text(f"{'0' * 64}\n{body}")
    elif damage == "unknown class":
        entry.write_text(head + "\n" + body.replace('"RollbackOption"', '"os.system"'))
    elif damage == "missing field":
        entry.write_text(head + "\n" + body.replace('"organisation":', '"organisations":'))
    elif damage == "not a procedure":
        entry.write_text(f"{head}\n{json.dumps(['l', [1, 2]])}")
    elif damage == "deep":
        entry.write_text(f"{head}\n{'[' * 100_000}{']' * 100_000}")
    elif damage == "directory":
        entry.unlink()
        entry.mkdir()
    elif damage == "world-writable":
        entry.chmod(0o666)
    elif damage == "binary":
        entry.write_bytes(b"\xff\xfe\x00" * 100)

    again = procedure_cache.parse(text, "minimal.yaml")
    assert again == expected
    assert validations == ["minimal.yaml", "minimal.yaml"]
    if damage != "directory":  # a directory in the way is left to the user; no error either
        assert procedure_cache.parse(text, "minimal.yaml") == expected
        assert validations == ["minimal.yaml", "minimal.yaml"]  # rewritten: read again


def test_an_unwritable_cache_is_no_error(validations: list[str], tmp_path: Path) -> None:
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    text = MINIMAL.read_text()
    for _ in range(2):
        assert procedure_cache.parse(text, "minimal.yaml", folder=blocked / "procedures").name
    assert validations == ["minimal.yaml", "minimal.yaml"]


def test_an_invalid_procedure_is_never_cached(validations: list[str]) -> None:
    bad = next(BAD.glob("*.yaml"))
    text = bad.read_text()
    with pytest.raises(ProcedureFileError) as direct:
        parse_procedure(text, str(bad))
    for _ in range(2):
        with pytest.raises(ProcedureFileError) as cached:
            procedure_cache.parse(text, str(bad))
        assert str(cached.value) == str(direct.value)
    assert entries() == []
    assert validations == [str(bad), str(bad)]


def test_a_procedure_the_check_refuses_is_never_cached() -> None:
    text = MINIMAL.read_text()

    def refuse(procedure: Procedure) -> list[tuple[tuple[str | int, ...], str]]:
        return [(("options", 0, "provider"), "provider 'git' is not installed")]

    for _ in range(2):
        with pytest.raises(ProcedureFileError, match="not installed"):
            procedure_cache.parse(text, "m.yaml", check=refuse, check_key=lambda: "k")
    assert entries() == []


def test_a_recorded_copy_that_no_longer_validates_still_falls_back(tmp_path: Path) -> None:
    # The error path of procedure_copy.load is unchanged by the cache around it.
    path = tmp_path / "runbook.yaml"
    path.write_text(MINIMAL.read_text())
    copy = read_copy(str(path))
    broken = type(copy)(copy.name, copy.source, copy.text.replace("schema: 1", "schema: 2"), "x")
    loaded = load(broken)
    assert loaded.procedure == load_builtin_free(copy.text)
    assert loaded.fallback is not None and "no longer validates" in loaded.fallback


# --- bounded, atomic, private ---------------------------------------------------------------


def test_only_the_most_recently_used_entries_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(procedure_cache, "KEEP", 3)
    text = MINIMAL.read_text()
    for n in range(5):
        one = text.replace("title: Minimal procedure", f"title: Minimal {n}")
        procedure_cache.parse(one, "m.yaml")
        # Used at distinct times, however coarse the file system's clock.
        os.utime(procedure_cache.cache_dir() / f"{procedure_cache.key(one)}.json", (n, n))
    kept = [procedure_cache.read_entry(path, path.stem) for path in entries()]
    assert sorted(found.title for found in kept if found is not None) == [
        "Minimal 2",
        "Minimal 3",
        "Minimal 4",
    ]


def test_a_read_entry_counts_as_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    text = MINIMAL.read_text()
    procedure_cache.parse(text, "m.yaml")
    [entry] = entries()
    os.utime(entry, (1, 1))
    procedure_cache.parse(text, "m.yaml")
    assert entry.stat().st_mtime > 1


def test_a_temporary_file_left_by_a_dead_writer_is_removed() -> None:
    text = MINIMAL.read_text()
    procedure_cache.parse(text, "m.yaml")
    folder = procedure_cache.cache_dir()
    left = folder / ".abc.json.0123.tmp"
    left.write_text("half")
    fresh = folder / ".def.json.4567.tmp"
    fresh.write_text("being written")
    os.utime(left, (1, 1))
    procedure_cache.prune(folder)
    assert not left.exists()
    assert fresh.exists()
    assert len(entries()) == 1


def test_entries_are_private_and_in_the_data_directory(tmp_path: Path) -> None:
    assert procedure_cache.cache_dir() == Path(os.environ["COCKPIT_DATA_DIR"]) / "cache" / (
        "procedures"
    )
    procedure_cache.load_builtin("pulse-messages")
    [entry] = entries()
    assert entry.stat().st_mode & 0o777 == 0o600
    assert procedure_cache.cache_dir().stat().st_mode & 0o777 == 0o700
    assert [p.name for p in procedure_cache.cache_dir().iterdir()] == [entry.name]  # no temp


# --- the format ---------------------------------------------------------------------------


def test_the_format_refuses_what_it_cannot_read_back() -> None:
    procedure = load_builtin("pulse-messages")
    odd = procedure.model_copy(update={"postmortem_sections": ("a", "b")})
    with pytest.raises(procedure_json.NotEncodable):
        procedure_json.dumps(odd)
    nan = procedure.model_copy(update={"sample_interval_seconds": float("nan")})
    with pytest.raises(procedure_json.NotEncodable):
        procedure_json.dumps(nan)
    # A value the format refuses is not cached, and the procedure is still returned.
    folder = procedure_cache.cache_dir()
    procedure_cache.write_entry(folder, folder / "x.json", "x", odd)
    assert entries() == []


def test_the_format_names_only_the_procedures_classes() -> None:
    body = procedure_json.dumps(load_builtin("pulse-messages"))
    classes = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list) and value[0] == "l":
            for item in value[1]:
                walk(item)
        elif isinstance(value, list):
            classes.add(value[1])
            if value[0] == "m":
                walk(value[2])

    walk(json.loads(body))
    assert "Procedure" in classes and "TriggerMode" in classes
    assert classes <= set(procedure_json._models()) | set(procedure_json._enums())


def test_the_builtins_read_back_from_text_equal_their_validation() -> None:
    for name in BUILTINS:
        fresh = parse_procedure(read_builtin(name), name)
        same(procedure_json.loads(procedure_json.dumps(fresh)), fresh)
