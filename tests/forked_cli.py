"""Many `cockpit` command lines, each in its own process with a timeout, for the cost of one start.

`python -m cockpit` spends about 0.3 s of CPU importing before it does anything; a corpus of
twenty files through six commands would spend most of a minute on imports alone. This helper
is started once (`python tests/forked_cli.py`), imports what the commands import, then forks
one child per command line: the child runs the real `cockpit.cli.main()` with that argv, its
stdout and stderr in files, and is killed if it outlives the timeout. Nothing but imports is
shared: each command runs in a fresh process, so a hang, a crash or an exit is its own.

Protocol: a JSON object on stdin, {"jobs": [[arg, ...], ...], "timeout": s, "workers": n};
a JSON list on stdout, one {"code", "stdout", "stderr", "seconds", "textual"} per job, in
order, where code is null for a job killed at its timeout and textual says whether Textual
had been imported by the time the command ended.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import traceback
from typing import Any, BinaryIO


def _preload() -> None:
    """What the commands import in their bodies (never Textual: the children must load it)."""
    import cockpit.cli
    import cockpit.commands.export
    import cockpit.commands.run
    import cockpit.core.backtest
    import cockpit.core.export
    import cockpit.core.timeline
    import cockpit.procedure_check
    from providers.registry import load_provider, provider_names

    for name in provider_names():
        load_provider(name)
    for command in cockpit.cli.COMMANDS:  # each imported when invoked: here once for all
        cockpit.cli.cli.get_command(None, command)  # type: ignore[arg-type]
    del cockpit
    assert "textual" not in sys.modules, "the helper must not import Textual itself"


def _child(argv: list[str], out: BinaryIO, err: BinaryIO, marker: BinaryIO) -> None:
    """Run one command line and leave the process (never returns)."""
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        from cockpit.cli import main

        sys.argv = ["cockpit", *argv]
        try:
            main()
            code = 0
        except SystemExit as done:
            if done.code is None or isinstance(done.code, int):
                code = done.code or 0
            else:  # SystemExit("message"): Python prints it and exits 1
                print(done.code, file=sys.stderr)
                code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            marker.write(b"TEXTUAL" if "textual" in sys.modules else b"CLEAN")
            marker.flush()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _read(handle: BinaryIO) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def run(jobs: list[list[str]], timeout: float, workers: int) -> list[dict[str, Any]]:
    """Every job in its own forked child, `workers` at a time."""
    results: list[dict[str, Any]] = [{} for _ in jobs]
    queue = list(enumerate(jobs))
    running: dict[int, tuple[int, float, tuple[BinaryIO, BinaryIO, BinaryIO]]] = {}
    while queue or running:
        while queue and len(running) < workers:
            index, argv = queue.pop(0)
            # Closed when the child is reaped, below: they outlive this loop.
            files = (
                tempfile.TemporaryFile(),  # noqa: SIM115
                tempfile.TemporaryFile(),  # noqa: SIM115
                tempfile.TemporaryFile(),  # noqa: SIM115
            )
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(argv, *files)
            running[pid] = (index, time.monotonic(), files)
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.monotonic()
            for late, (index, started, _) in list(running.items()):
                if now - started > timeout:
                    os.kill(late, signal.SIGKILL)
                    results[index]["killed"] = True
            time.sleep(0.005)
            continue
        index, started, (out, err, marker) = running.pop(pid)
        killed = results[index].pop("killed", False)
        results[index] = {
            "code": None if killed else os.waitstatus_to_exitcode(status),
            "stdout": _read(out),
            "stderr": _read(err),
            "seconds": time.monotonic() - started,
            "textual": _read(marker) == "TEXTUAL",
        }
        for handle in (out, err, marker):
            handle.close()
    return results


def main() -> None:
    """Read the jobs from stdin, print the results on stdout."""
    asked = json.load(sys.stdin)
    _preload()
    found = run(asked["jobs"], float(asked["timeout"]), int(asked["workers"]))
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    main()
