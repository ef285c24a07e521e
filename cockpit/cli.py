"""The `cockpit` command line: a click group whose bare form opens the TUI.

Only click is imported at start-up; a command's module when it is invoked, and each command
imports what it needs inside its body, so `cockpit --help` and the headless commands never load
Textual (budget: 0.25 s, see `make bench`).
"""

from __future__ import annotations

import gc

import click

from cockpit import __version__
from cockpit.commands.common import URL_COMMANDS, checked_db
from cockpit.core.errors import CockpitError

COMMANDS = {
    "procedures": ("procedures", "procedures"),
    "incident": ("timeline", "incident"),
    "timeline": ("timeline", "timeline"),
    "demo": ("demo", "demo"),
    "drill": ("drill", "drill"),
    "backtest": ("backtest", "backtest"),
    "export": ("export", "export"),
    "postmortem": ("postmortem", "postmortem"),
    "stats": ("stats", "stats"),
    "paths": ("paths", "paths"),
}
"""Command name → (module in cockpit.commands, its click command). Imported when invoked: a
start pays for its own command only (all of them were ~15 ms of `cockpit demo`'s first frame)."""


class CockpitGroup(click.Group):
    """Turns the cockpit's own errors into one line on stderr and exit code 2, never a traceback.

    Its commands are imported when named (`COMMANDS`); `--help` imports them all to list them.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        import importlib

        module, attribute = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(f"cockpit.commands.{module}"), attribute)
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CockpitError as error:
            click.echo(f"cockpit: {error}", err=True)
            ctx.exit(2)


@click.group(
    cls=CockpitGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="cockpit")
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    envvar="COCKPIT_DB",
    help="Timeline database: a file, or a team's postgresql:// URL (the cockpit itself and "
    "incident, timeline, export, stats, backtest; not demo or drill); default: the platform "
    "data directory.",
)
@click.option(
    "--procedure",
    "procedure_name",
    default=None,
    help="Procedure for a new incident: a built-in name or a YAML file.",
)
@click.option(
    "--incident",
    "incident_id",
    type=int,
    default=None,
    help="Resume this incident instead of the latest open one.",
)
@click.option(
    "--watch",
    is_flag=True,
    default=False,
    help="Follow the open incident (or INCIDENT) live without writing to it.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    db: str | None,
    procedure_name: str | None,
    incident_id: int | None,
    watch: bool,
) -> None:
    """Rollback Cockpit: watch, decide, roll back, record, export.

    Without a command, opens the cockpit on the latest open incident (or INCIDENT), or on a
    new one. `cockpit demo` runs it against a built-in simulated production.
    """
    if db is not None and ctx.invoked_subcommand not in (None, *URL_COMMANDS):
        checked_db(db)  # demo, drill, ...: a URL is refused before anything opens
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    if ctx.invoked_subcommand not in TUI_COMMANDS:
        gc.enable()  # off since `main` for the TUI's first frame only
    if ctx.invoked_subcommand is None:
        from cockpit.commands.run import open_cockpit

        open_cockpit(db=db, procedure_name=procedure_name, incident_id=incident_id, watch=watch)


TUI_COMMANDS = (None, "demo", "drill")
"""The invocations that open the TUI (None: `cockpit` without a command)."""


def main() -> None:
    """Console-script entry point."""
    # Everything a start allocates until the first frame lives as long as the process, so a
    # collection before it walks a growing heap for nothing (make bench: about 10 % of the
    # first frame). The TUI turns it back on once settled, with a collection and a freeze
    # (cockpit.incident_app.settle); every other command as it starts.
    gc.disable()
    cli(prog_name="cockpit")


if __name__ == "__main__":  # pragma: no cover
    main()
