"""Boundaries from DESIGN.md §3, checked at run time: headless paths never load Textual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from textual.binding import Binding

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["cockpit", "widgets", "providers", "checklists"]


def loaded_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_core_providers_and_demo_never_import_textual_or_rich() -> None:
    modules = [
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for folder in ("cockpit/core", "providers", "cockpit/demo")
        for path in sorted((ROOT / folder).rglob("*.py"))  # the providers' packages too
    ]
    loaded = loaded_after("\n".join(f"import {module}" for module in modules))
    assert "textual" not in loaded
    # httpx's own CLI module imports Rich when Rich is installed, so Rich may be loaded here;
    # that our code never imports it is the import-linter contract's job (`make contracts`).


def test_the_first_paint_path_imports_neither_pydantic_nor_httpx() -> None:
    """The dashboard's first paint is budgeted (make bench): validation and sources come after."""
    loaded = loaded_after(
        "import cockpit.cli, cockpit.commands.demo, cockpit.app\n"
        "from cockpit.core.outline import builtin_outline\n"
        "builtin_outline('pulse-messages')\n"
    )
    assert "pydantic" not in loaded
    assert "httpx" not in loaded


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["procedures", "list"], ["timeline", "verify"], ["incident", "list"]],
)
def test_headless_commands_never_import_textual(argv: list[str], tmp_path: Path) -> None:
    from cockpit.core.timeline import Timeline

    with Timeline(tmp_path / "t.db") as timeline:
        timeline.open_incident("probe", "P2", "pulse-messages")
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('LOADED' if 'textual' in sys.modules else 'CLEAN'))\n"
        f"sys.argv = ['cockpit', '--db', {str(tmp_path / 't.db')!r}] + {argv!r}\n"
        "from cockpit.cli import main\nmain()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("CLEAN")


def python_files() -> list[Path]:
    files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    return sorted(files + list((ROOT / "scripts").glob("*.py")))


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_starts_with_a_docstring(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{path.relative_to(ROOT)} has no module docstring"


def test_every_binding_has_an_id_a_description_and_a_tooltip() -> None:
    from cockpit.app import CockpitApp
    from cockpit.screens.modals import HelpScreen, NoteScreen
    from cockpit.screens.procedure import ProcedureScreen

    for owner in (CockpitApp, ProcedureScreen, HelpScreen, NoteScreen):
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding), owner
            assert binding.id and binding.description, (owner.__name__, binding.key)
    for binding in CockpitApp.BINDINGS:
        assert isinstance(binding, Binding) and binding.tooltip, binding.key


def test_every_screen_routes_its_failed_workers() -> None:
    """Textual tells only the node that started a worker that it failed: a screen without the
    route left "loading…" on screen for ever. Every screen derives from the cockpit's bases,
    which send each failure to IncidentApp.worker_failed (shown and recorded)."""
    import importlib
    import inspect

    from textual.screen import Screen

    from cockpit.screens.base import CockpitModal, CockpitScreen

    found = []
    for path in sorted((ROOT / "cockpit" / "screens").glob("*.py")):
        module = importlib.import_module(f"cockpit.screens.{path.stem}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Screen) and cls.__module__ == module.__name__:
                found.append(cls)
                assert issubclass(cls, CockpitScreen | CockpitModal), cls
    assert len(found) >= 10


def test_every_worker_reports_failure_instead_of_ending_the_app() -> None:
    """exit_on_error=True (Textual's default) ends the App on any exception in a worker."""
    for folder in ("cockpit", "widgets"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                if name not in ("run_worker", "work"):
                    continue
                keywords = {k.arg: k.value for k in node.keywords}
                value = keywords.get("exit_on_error")
                assert isinstance(value, ast.Constant) and value.value is False, (
                    f"{path.relative_to(ROOT)}:{node.lineno}: {name} needs exit_on_error=False"
                )
