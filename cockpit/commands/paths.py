"""`cockpit paths`: where this cockpit keeps everything, for a newcomer and a script.

One rule: every command reads and writes the one timeline (`--db`, `$COCKPIT_DB`, else
`timeline.db` in the data directory), drills included; what the cockpit writes beside it
(exports, drafts, crash reports, attachments) lives in the timeline's folder.
"""

from __future__ import annotations

import click

from cockpit.commands.common import db_option, db_path


@click.command()
@db_option
@click.pass_context
def paths(ctx: click.Context, db: str | None) -> None:
    """Where the timeline, exports, drafts, crash reports and configuration are."""
    from cockpit.core.paths import config_file, data_dir

    timeline = db_path(ctx, db)
    folder = timeline.parent
    rows = [
        ("data directory", data_dir(), "$COCKPIT_DATA_DIR overrides it"),
        ("timeline", timeline, "every incident and drill; --db or $COCKPIT_DB chooses another"),
        ("exports", folder / "exports", "the post-mortem screen's ctrl+o"),
        ("drafts", folder / "drafts", "the drafts screen's ctrl+s, one folder per incident"),
        ("crash reports", folder / "crashes", "tracebacks, scrubbed, owner-only"),
        ("configuration", config_file(), "$COCKPIT_CONFIG overrides it"),
    ]
    for name, path, why in rows:
        state = "" if path.exists() else " (not created yet)"
        click.echo(f"{name + ':':16}{path}{state}\n{'':16}{why}")
