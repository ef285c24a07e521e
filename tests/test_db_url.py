"""A database URL given as --db (or COCKPIT_DB): the cockpit itself and the headless commands
that share a PostgreSQL timeline (incident, timeline, export, stats, backtest) open it; every
other command (`demo`, `drill`, `paths`, `postmortem`) refuses it with a clear error, naming
neither its host nor its password, and no file is made: taken as a path, `postgresql://host/db`
once made a SQLite file under ./postgresql:/ while the team believed it shared one database.

Opening a real PostgreSQL timeline from the CLI is tests/test_pg_timeline_cli.py's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.commands.common import URL_COMMANDS

URL = "postgresql://responder:s3cret-pw@db.internal:5432/cockpit"
# Nothing listens on port 1: a command that opens the URL fails at once, without DNS.
UNREACHABLE = "postgresql://responder:s3cret-pw@127.0.0.1:1/cockpit"


@pytest.mark.parametrize(
    "args",
    [
        ["--db", URL, "paths"],
        ["paths", "--db", URL],
        ["--db", URL, "demo"],
        ["demo", "--db", URL],
        ["--db", URL, "drill", "pulse-messages"],
        ["--db", URL, "postmortem", "1"],
        ["paths"],
    ],
)
def test_a_database_url_is_refused_where_unsupported_and_no_file_is_made(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"COCKPIT_DB": URL} if "--db" not in args else {}
    done = CliRunner().invoke(cli, args, env=env)
    assert done.exit_code == 2, done.output
    assert "postgresql://…" in done.output and "SQLite file" in done.output
    assert "s3cret-pw" not in done.output and "db.internal" not in done.output
    assert list(tmp_path.iterdir()) == [], "nothing was created"


@pytest.mark.parametrize(
    "args",
    [
        ["--db", UNREACHABLE, "incident", "list"],
        ["incident", "list", "--db", UNREACHABLE],
        ["timeline", "verify", "--db", UNREACHABLE],
        ["--db", UNREACHABLE, "export", "1"],
        ["stats", "--db", UNREACHABLE],
        ["backtest", "--procedure", "pulse-messages", "--incident", "1", "--db", UNREACHABLE],
        ["incident", "list"],
        ["--db", UNREACHABLE],
        [],
    ],
)
def test_the_shared_timeline_commands_open_the_url_and_never_show_its_password(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cockpit itself (no command) or one of the commands that share a timeline.
    assert set(args) & {*URL_COMMANDS} or args in ([], ["--db", UNREACHABLE])
    monkeypatch.chdir(tmp_path)
    env = {"COCKPIT_DB": UNREACHABLE} if UNREACHABLE not in args else {}
    done = CliRunner().invoke(cli, args, env=env)
    assert done.exit_code == 2, done.output
    assert "cannot connect to the timeline at responder@127.0.0.1:1/cockpit" in done.output
    assert "s3cret-pw" not in done.output
    assert list(tmp_path.iterdir()) == [], "nothing was created"


def test_another_scheme_is_refused_by_the_shared_timeline_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(cli, ["incident", "list", "--db", "mysql://u:s3cret-pw@h/db"])
    assert done.exit_code == 2, done.output
    assert "mysql://…: not a timeline database" in done.output
    assert "s3cret-pw" not in done.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (URL, "postgresql://responder@db.internal:5432/cockpit"),
        ("postgresql://db.internal/cockpit", "postgresql://db.internal/cockpit"),
        (
            "postgres://u:s3cret-pw@a:5432,b:5433/db?sslmode=require&password=s3cret-pw",
            "postgres://u@a:5432,b:5433/db?sslmode=require",
        ),
    ],
)
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    from cockpit.core.timeline_open import public_url

    assert public_url(url) == shown


def test_the_password_comes_from_the_url_then_the_file_then_pgpassword(tmp_path: Path) -> None:
    from cockpit.core.errors import TimelineError
    from cockpit.core.timeline_open import _password

    secret = tmp_path / "pw"
    secret.write_text("from-file\nignored\n")
    bare = "postgresql://responder@db.internal/cockpit"
    env = {"PGPASSWORD": "from-env", "COCKPIT_DB_PASSWORD_FILE": str(secret)}
    assert _password(URL, None, env) is None  # the URL's own: PgTarget takes it from there
    assert _password(bare + "?password=x", None, env) is None
    assert _password(bare, None, env) == "from-file"
    assert _password(bare, None, {"PGPASSWORD": "from-env"}) == "from-env"
    assert _password(bare, None, {}) is None  # libpq's own means (~/.pgpass)
    with pytest.raises(TimelineError, match="cannot read the timeline's password file"):
        _password(bare, tmp_path / "missing", {})
