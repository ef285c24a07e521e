"""A database URL given as --db (or COCKPIT_DB) is refused with a clear error, naming neither
its host nor its password, and no file is made: taken as a path, `postgresql://host/db` once
made a SQLite file under ./postgresql:/ while the team believed it shared one database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.cli import cli

URL = "postgresql://responder:s3cret-pw@db.internal:5432/cockpit"


@pytest.mark.parametrize(
    "args",
    [["--db", URL], ["--db", URL, "stats"], ["stats", "--db", URL], ["incident", "list"]],
)
def test_a_database_url_is_refused_and_no_file_is_made(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"COCKPIT_DB": URL} if "--db" not in args else {}
    done = CliRunner().invoke(cli, args, env=env)
    assert done.exit_code == 2, done.output
    assert "postgresql://…" in done.output and "SQLite file" in done.output
    assert "s3cret-pw" not in done.output and "db.internal" not in done.output
    assert list(tmp_path.iterdir()) == [], "nothing was created"
