"""What a start loads before its first frame (issue 17: the first frame at the floor).

Each start runs in a child process up to the point where the TUI would start, with `launch`
replaced by a report of what is imported by then: pydantic (~0.15 s with the providers), PyYAML
(~20 ms, and its parse) and the provider modules are not needed for the first frame when the
procedure's outline was read before and no cockpit.toml exists.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.core.outline import Outline, text_outline
from cockpit.core.outline_cache import cached_outline
from cockpit.core.procedure_copy import read_copy

CHILD = """
import gc, json, sys
import cockpit.commands.run as run

def report(session):
    heavy = ("pydantic", "yaml", "providers", "cockpit.procedure_check")
    print(json.dumps({
        "loaded": sorted(m for m in heavy if m in sys.modules),
        "triggers": list(session.trigger_titles()),
        "gc": gc.isenabled(),
    }))
    return 0

run.launch = report
from cockpit.cli import main
sys.argv = ["cockpit", *sys.argv[1:]]
main()
"""


def start(tmp_path: Path, *argv: str) -> dict[str, object]:
    env = {
        **os.environ,
        "COCKPIT_DATA_DIR": str(tmp_path / "data"),
        "COCKPIT_CONFIG": str(tmp_path / "no-such-cockpit.toml"),
    }
    env.pop("COCKPIT_DB", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("first", ["demo", "resume"])
def test_a_second_start_loads_no_pydantic_yaml_or_providers_before_its_first_frame(
    tmp_path: Path, first: str
) -> None:
    db = str(tmp_path / "timeline.db")
    if first == "resume":
        subprocess.run(
            [sys.executable, "-m", "cockpit", "--db", db, "incident", "open", "--title", "t",
             "--procedure", "pulse-messages"],
            env={**os.environ, "COCKPIT_DATA_DIR": str(tmp_path / "data")},
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    argv = ["demo", "--db", db] if first == "demo" else ["--db", db]
    opened = start(tmp_path, *argv)  # the first start reads the YAML once
    again = start(tmp_path, *argv)
    assert again["loaded"] == [], f"imported before the first frame: {again['loaded']}"
    assert again["triggers"] == opened["triggers"] and len(again["triggers"]) >= 3  # type: ignore[arg-type]
    assert again["gc"] is False, "no collection before the first frame (the app settles it)"


def test_a_command_without_the_tui_runs_with_the_garbage_collector_on(tmp_path: Path) -> None:
    script = (
        "import gc, sys, click\n"
        "from cockpit.cli import cli, main\n"
        "@cli.command('probe')\n"
        "def probe():\n"
        "    print('gc', gc.isenabled())\n"
        "sys.argv = ['cockpit', 'probe']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert "gc True" in done.stdout, done.stderr


async def test_the_settled_cockpit_collects_again(tmp_path: Path) -> None:
    import gc

    from cockpit.app import CockpitApp
    from cockpit.core.clock import FixedClock
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.core.timeline import Timeline
    from cockpit.session import Session

    timeline = Timeline(tmp_path / "t.db")
    incident = timeline.open_incident("t", "P1", "pulse-messages")
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=load_builtin("pulse-messages"),
        clock=FixedClock(),
    )
    app = CockpitApp(session, start_pollers=False)
    gc.disable()
    try:
        async with app.run_test(size=(80, 24)):
            app.settle()
            assert gc.isenabled()
    finally:
        gc.enable()
        timeline.close()


def test_an_outline_is_read_from_the_yaml_once_then_from_the_cache(tmp_path: Path) -> None:
    copy = read_copy("ai-saas")
    reads: list[str] = []

    def read() -> Outline:
        reads.append(copy.sha256)
        return text_outline(copy.text, copy.shown, copy.name)

    first = cached_outline(copy.sha256, read, tmp_path)
    second = cached_outline(copy.sha256, read, tmp_path)
    assert second == first and len(reads) == 1
    assert second.triggers and second.metrics


@pytest.mark.parametrize(
    "damage",
    ["", "{not json", '{"format": 1}', '{"format": 99, "name": "x"}', '[1, 2]',
     '{"format": 1, "name": 1, "title": "t", "metrics": {}, "triggers": []}'],
)  # fmt: skip
def test_a_damaged_cache_entry_is_read_again_from_the_yaml(tmp_path: Path, damage: str) -> None:
    copy = read_copy("pulse-messages")
    expected = text_outline(copy.text, copy.shown, copy.name)
    (tmp_path / f"{copy.sha256}.json").write_text(damage, encoding="utf-8")
    found = cached_outline(copy.sha256, lambda: expected, tmp_path)
    assert found == expected
    assert cached_outline(copy.sha256, lambda: pytest.fail("read again"), tmp_path) == expected


def test_an_unwritable_cache_is_no_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("", encoding="utf-8")
    copy = read_copy("huntaze")
    expected = text_outline(copy.text, copy.shown, copy.name)
    assert cached_outline(copy.sha256, lambda: expected, blocked / "outlines") == expected


def test_the_cache_keeps_a_bounded_number_of_entries(tmp_path: Path) -> None:
    from cockpit.core import outline_cache

    outline = Outline("n", "t", {}, ())
    for index in range(outline_cache.KEEP + 5):
        cached_outline(f"{index:064x}", lambda: outline, tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == outline_cache.KEEP
