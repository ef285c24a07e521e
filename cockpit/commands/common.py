"""Helpers shared by the CLI commands."""

from __future__ import annotations

from pathlib import Path

import click


def db_path(ctx: click.Context, explicit: str | None = None) -> Path:
    """The timeline database: the command's own --db, the group's --db, or the default."""
    chosen = explicit or (ctx.find_root().obj or {}).get("db")
    if chosen:
        return Path(chosen)
    from cockpit.core.paths import timeline_db

    return timeline_db()
