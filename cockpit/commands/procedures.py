"""`cockpit procedures ...`: list, show and validate procedure files without the TUI.

Only click is imported at the top; the loader (PyYAML, pydantic) is imported inside each
command, and nothing on this path imports Textual or Rich. A bad file is reported as one
`file:line: field: problem` line per problem on stderr with exit code 2, never a traceback:
this is what a user runs on the file they just wrote.
"""

from __future__ import annotations

from pathlib import Path

import click


def _column(rows: list[list[str]]) -> list[str]:
    """Fixed-width columns, the last one unpadded (no Rich on the headless path)."""
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]


@click.group()
def procedures() -> None:
    """Rollback procedures: the built-ins and your own files."""


@procedures.command("list")
def list_procedures() -> None:
    """One line per built-in procedure: name, organisation, triggers, options, tree, title.

    Read from each file's YAML, not validated (the tests validate the built-ins, and
    `cockpit procedures validate` checks any file): five lines in the time of a YAML parse,
    not of five pydantic validations (0.8 s before).
    """
    from cockpit.core.errors import ProcedureFileError
    from cockpit.core.outline import text_data
    from cockpit.core.procedure_file import builtin_names, read_builtin

    rows: list[list[str]] = []
    failed = False
    for name in builtin_names():
        try:
            data = text_data(read_builtin(name), f"checklists/{name}.yaml")
        except ProcedureFileError as error:
            failed = True
            for line in error.lines():
                click.echo(line, err=True)
            continue
        found = data.get("tree")
        tree: dict[str, object] = found if isinstance(found, dict) else {}
        rows.append(
            [
                str(data.get("name", name)),
                str(data.get("organisation", "")),
                f"{len(data.get('triggers') or [])} triggers",
                f"{len(data.get('options') or [])} options",
                "tree derived" if tree.get("derived") else "tree given",
                str(data.get("title", name)),
            ]
        )
    if rows:
        for line in _column(rows):
            click.echo(line)
    if failed:
        raise SystemExit(2)


@procedures.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Print a procedure as Markdown. NAME is a built-in name or a path to a YAML file."""
    from cockpit.core.procedure_loader import ProcedureFileError
    from cockpit.core.procedure_text import render_markdown
    from cockpit.procedure_check import load_procedure

    try:
        procedure = load_procedure(name)
    except ProcedureFileError as error:
        for line in error.lines():
            click.echo(line, err=True)
        raise SystemExit(2) from None
    click.echo(render_markdown(procedure), nl=False)


@procedures.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check procedure files; every problem is printed as file:line: field: problem.

    Besides the file itself, each provider, action and parameter is checked against the
    installed providers. Exit code 0 when every file is valid, 2 when any is not.
    """
    from cockpit.core.procedure_loader import ProcedureFileError
    from cockpit.procedure_check import load_procedure_file

    bad = False
    for path in files:
        try:
            procedure = load_procedure_file(path)
        except ProcedureFileError as error:
            bad = True
            for line in error.lines():
                click.echo(line, err=True)
            continue
        except Exception as error:  # a user's file must never produce a traceback
            bad = True
            click.echo(f"{path}: cannot validate: {type(error).__name__}: {error}", err=True)
            continue
        click.echo(
            f"ok: {path} ({procedure.name}, {len(procedure.triggers)} triggers, "
            f"{len(procedure.options)} options)"
        )
    if bad:
        raise SystemExit(2)
