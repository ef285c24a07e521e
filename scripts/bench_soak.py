"""Idle memory of the real TUI (issue 17, "Idle cost"): `cockpit` in tmux for an hour.

One row in scripts/bench.py's shape (label, measured, detail, goal, met). The `cockpit`
command itself, not a harness, runs in a 120x40 tmux session of its own (a private socket),
reading 12 sources polled at 1 Hz (a /metrics scrape and a /health probe of each of six
healthy simulated services, in a process of their own) from a cockpit.toml written here.
The cockpit's VmRSS is read from /proc every SAMPLE_S seconds; after WARM_UP_S a
least-squares slope gives the growth over one hour, reported with the values first and last.

The headless soak of scripts/bench_live.py feeds a day of samples in minutes and stayed flat
while a responder's terminal grew ~0.35 MiB a minute: only real time on a real terminal
measures timers, repaints and the database growing as they do in an incident.

Run alone: `python scripts/bench_soak.py [--quick] [--minutes M] [--probe DIR]`; --probe
has the cockpit write what its memory is made of (Python's, SQLite's, malloc's) to DIR every
--probe-every seconds, with --tracemalloc a snapshot too (a sitecustomize on the cockpit's
PYTHONPATH: the cockpit itself is unchanged).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench_cli import QUICK
from bench_live import bench_env, cpu_seconds, demo_services, polled

ROOT = Path(__file__).resolve().parent.parent
COCKPIT = str(Path(sys.executable).parent / "cockpit")

Row = tuple[str, str, str, str, bool]

SOAK_MINUTES = float(os.environ.get("COCKPIT_BENCH_SOAK_MINUTES", "60"))
"""The issue asks for one hour; COCKPIT_BENCH_SOAK_MINUTES shortens it for a look (the row
then says how long it ran, and its slope still judges growth per hour)."""
QUICK_SECONDS = 20.0
WARM_UP_S = 600.0
"""The slope starts after the caches that fill in the first minutes and then stay full, each
with a bound: SQLite's page cache (2 MiB a connection by default; the writer's fills as the
samples table grows, ~7 KiB/s here: full after ~5 min) and Rich's cell-length cache (4,096
texts; the clock, the countdown and the bars are new texts every second: full after ~9 min).
Measured (--probe, 60 min): RSS +1.9 MiB from 2 to 10 min, then +1.35 MiB/h, +0.7 MiB/h over
the last half hour. What the user saw, ~0.35 MiB a minute over 10 minutes, was that filling."""
SAMPLE_S = 10.0
QUICK_WARM_UP_S, QUICK_SAMPLE_S = 5.0, 1.0
GOAL_MIB = 2.0
"""Flat: at most this much growth over one hour."""
SOURCES = 12
INTERVAL_S = 1.0
COLUMNS, LINES = 120, 40
PAINTED = "Error rate"
"""A pane's title: the dashboard is on screen."""
TMUX_TIMEOUT_S = 20.0
LABEL = f"RSS over 1 h idle, real TUI in tmux, {SOURCES} sources at 1 Hz"
GOAL = f"flat: ≤ {GOAL_MIB:g} MiB over 1 h"


def toml_value(value: object) -> str:
    """A TOML value for the plain types a source's options hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string of printable text is a TOML basic string
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def write_config(path: Path, urls: list[str]) -> Path:
    """A cockpit.toml as a responder writes one: the demo's scrape and probe of each service."""
    from cockpit.demo.sources import DEMO_QUERIES

    lines = ['procedure = "pulse-messages"', f"poll_interval_seconds = {INTERVAL_S}", ""]
    for url in urls:
        lines += ["[[sources]]", 'provider = "prometheus_scrape"', "[sources.options]"]
        lines += [f'url = "{url}/metrics"', "timeout_seconds = 1.0", ""]
        for query in DEMO_QUERIES:
            lines.append("[[sources.options.metrics]]")
            fields = query.model_dump(exclude_defaults=True, mode="json")
            lines += [f"{key} = {toml_value(value)}" for key, value in fields.items()]
            lines.append("")
        lines += ["[[sources]]", 'provider = "http_health"', "[sources.options]"]
        lines += [f'url = "{url}/health"', "timeout_seconds = 1.0", ""]
    path.write_text("\n".join(lines))
    return path


PROBE_HOOK = '''"""Bench-only (scripts/bench_soak.py): what this process's memory is made of, every
COCKPIT_BENCH_PROBE_EVERY seconds, as JSON lines in COCKPIT_BENCH_PROBE_DIR/probe.jsonl:
VmRSS, the Python allocator's blocks, SQLite's and malloc's own; with
COCKPIT_BENCH_TRACEMALLOC=1 also a tracemalloc snapshot each time (of
COCKPIT_BENCH_TRACE_FRAMES frames)."""
import ctypes, ctypes.util, gc, json, os, sys, threading, time

folder = os.environ.get("COCKPIT_BENCH_PROBE_DIR")
if folder:
    every = float(os.environ.get("COCKPIT_BENCH_PROBE_EVERY", "60"))
    traced = os.environ.get("COCKPIT_BENCH_TRACEMALLOC") == "1"
    if traced:
        import tracemalloc

        tracemalloc.start(int(os.environ.get("COCKPIT_BENCH_TRACE_FRAMES", "12")))

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    sqlite = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    sqlite.sqlite3_memory_used.restype = ctypes.c_int64

    def rss_kib():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def probe():
        started = time.monotonic()
        with open(os.path.join(folder, "probe.jsonl"), "a") as out:
            while True:
                time.sleep(every)
                second = int(time.monotonic() - started)
                info = libc.mallinfo2()
                line = {
                    "second": second,
                    "rss_kib": rss_kib(),
                    "py_blocks": sys.getallocatedblocks(),
                    "gc_objects": len(gc.get_objects()),
                    "sqlite_kib": sqlite.sqlite3_memory_used() // 1024,
                    "malloc_used_kib": info.uordblks // 1024,
                    "malloc_free_kib": info.fordblks // 1024,
                    "malloc_mmap_kib": info.hblkhd // 1024,
                    "threads": threading.active_count(),
                }
                if traced:
                    line["traced_kib"] = tracemalloc.get_traced_memory()[0] // 1024
                    snapshot = tracemalloc.take_snapshot()
                    snapshot.dump(os.path.join(folder, f"snap-{second:06d}.pickle"))
                out.write(json.dumps(line) + "\\n")
                out.flush()

    threading.Thread(target=probe, name="bench-probe", daemon=True).start()
'''


class Tmux:
    """A tmux server of its own (private socket, no user config) holding one session."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.socket = name
        self.env = env

    def __call__(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TMUX_TIMEOUT_S,
            check=True,
        ).stdout

    def start(self, command: str) -> int:
        """Run `command` in a COLUMNS x LINES session; the pid of the pane's process."""
        self("new-session", "-d", "-s", "soak", "-x", str(COLUMNS), "-y", str(LINES), command)
        # A cockpit that dies stays on screen, so the row can say why.
        self("set-option", "-t", "soak", "remain-on-exit", "on")
        return int(self("display-message", "-p", "-t", "soak", "#{pane_pid}").strip())

    def screen(self) -> str:
        try:
            return self("capture-pane", "-p", "-t", "soak")
        except (subprocess.SubprocessError, OSError):
            return ""

    def kill(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                ["tmux", "-L", self.socket, "kill-server"],
                capture_output=True,
                timeout=TMUX_TIMEOUT_S,
            )


def rss_kib(pid: int) -> int:
    """VmRSS of `pid`, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid} (a zombie?)")


def alive(pid: int) -> bool:
    """Whether `pid` still runs (a dead pane's process is gone, or a zombie without VmRSS)."""
    try:
        return "VmRSS:" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def slope_per_s(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, y): y's change per unit of t."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (y - mean_y) for t, y in points) / spread


@contextlib.contextmanager
def cockpit_in_tmux(
    work: Path, env: dict[str, str], config: Path, probe: Path | None
) -> Iterator[tuple[Tmux, int, Path]]:
    """`cockpit` on its own timeline in a fresh tmux server: (tmux, the cockpit's pid, db)."""
    db = work / "soak.db"
    child = {
        **env,
        "COCKPIT_CONFIG": str(config),
        "TERM": "tmux-256color",
        "COLUMNS": str(COLUMNS),
        "LINES": str(LINES),
    }
    if probe is not None:
        # A sitecustomize only the cockpit's interpreter finds: nothing in the cockpit changes.
        hook = work / "probe-hook"
        hook.mkdir(exist_ok=True)
        (hook / "sitecustomize.py").write_text(PROBE_HOOK)
        child |= {"PYTHONPATH": str(hook), "COCKPIT_BENCH_PROBE_DIR": str(probe)}
    keys = ["COCKPIT_DATA_DIR", "COCKPIT_CONFIG", "TERM", "HOME", "PATH", "PYTHONPATH"]
    keys += [key for key in child if key.startswith("COCKPIT_BENCH_")]
    exports = " ".join(f"{key}={shlex.quote(child[key])}" for key in keys if key in child)
    # exec: the pane's process is the cockpit itself, so its pid is the one measured.
    command = f"cd {shlex.quote(str(work))} && exec env {exports} {COCKPIT} --db {db}"
    tmux = Tmux(f"cockpit-soak-{os.getpid()}", child)
    try:
        pid = tmux.start(command)
        if "cockpit" not in Path(f"/proc/{pid}/cmdline").read_text():
            raise RuntimeError(f"pid {pid} in the pane is not the cockpit")
        deadline = time.monotonic() + 60
        while PAINTED not in tmux.screen():
            if time.monotonic() > deadline or not alive(pid):
                raise RuntimeError(f"the cockpit did not paint: {tmux.screen()[-600:]!r}")
            time.sleep(0.2)
        yield tmux, pid, db
    finally:
        tmux.kill()


def soak(
    seconds: float,
    quick: bool = QUICK,
    probe: Path | None = None,
    probe_every: float = 60.0,
    tracemalloc: bool = False,
) -> dict[str, Any]:
    """Run the cockpit for `seconds` after its first paint; its RSS samples and what it did."""
    warm_up, every = (QUICK_WARM_UP_S, QUICK_SAMPLE_S) if quick else (WARM_UP_S, SAMPLE_S)
    work = Path(tempfile.mkdtemp(prefix="cockpit-bench-soak-"))
    env = bench_env(work)
    if probe is not None:
        env["COCKPIT_BENCH_PROBE_EVERY"] = str(probe_every)
        env["COCKPIT_BENCH_TRACEMALLOC"] = "1" if tracemalloc else "0"
    samples: list[tuple[float, int]] = []
    try:
        with (
            demo_services(env, SOURCES // 2) as (urls, _service_pid),
            cockpit_in_tmux(work, env, write_config(work / "cockpit.toml", urls), probe) as (
                tmux,
                pid,
                db,
            ),
        ):
            started = time.monotonic()
            cpu0 = cpu_seconds(pid)
            scrapes = probes = None
            while (now := time.monotonic() - started) <= seconds:
                if not alive(pid):
                    raise RuntimeError(f"the cockpit ended after {now:.0f} s: {tmux.screen()!r}")
                samples.append((now, rss_kib(pid)))
                if scrapes is None and now >= warm_up:
                    scrapes, probes = polled(db, "error_rate"), polled(db, "health_check_failed")
                time.sleep(max(0.0, every - (time.monotonic() - started - now)))
            cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - started) * 100
            sources = (scrapes() + probes()) if scrapes and probes else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "samples": samples,
        "cpu": cpu,
        "sources": sources,
        "seconds": seconds,
        "warm_up": warm_up,
        "every": every,
    }


def duration(seconds: float) -> str:
    """`20 s`, `15 min`."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def soak_row(result: dict[str, Any], quick: bool = QUICK) -> Row:
    """The row for a soak's result (quick: that it ran, no goal judged)."""
    samples: list[tuple[float, int]] = result["samples"]
    warm_up = result["warm_up"]
    settled = [(t, kib / 1024) for t, kib in samples if t >= warm_up]
    if len(settled) < 2:
        raise RuntimeError(f"only {len(settled)} RSS samples after the warm-up")
    per_hour = slope_per_s(settled) * 3600
    first, warm, end = samples[0][1] / 1024, settled[0][1], settled[-1][1]
    detail = (
        f"{duration(result['seconds'])}, VmRSS every {result['every']:g} s: first"
        f" {first:.1f}, after {warm_up:g} s warm-up {warm:.1f}, last {end:.1f} MiB"
        f" ({end - warm:+.2f}); least-squares slope {per_hour / 60:+.4f} MiB/min; cockpit CPU"
        f" {result['cpu']:.1f} %; sources polled {result['sources']} of {SOURCES}"
    )
    if quick:
        return (LABEL, "quick: ran", detail, "runs", True)
    met = per_hour <= GOAL_MIB and end - warm <= GOAL_MIB and result["sources"] == SOURCES
    return (LABEL, f"{per_hour:+.2f} MiB/h", detail, GOAL, met)


def rows(quick: bool = QUICK) -> list[Row]:
    """The soak's row for scripts/bench.py: an hour (quick: QUICK_SECONDS, that it runs)."""
    if not shutil.which("tmux"):
        return [(LABEL, "failed", "tmux is not installed", GOAL, False)]
    try:
        result = soak(QUICK_SECONDS if quick else SOAK_MINUTES * 60, quick)
        return [soak_row(result, quick)]
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        return [(LABEL, "failed", str(error)[:300], GOAL, False)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="seconds: that it runs")
    parser.add_argument("--minutes", type=float, default=None, help=f"default {SOAK_MINUTES:g}")
    parser.add_argument("--probe", type=Path, default=None, help="folder for memory probes")
    parser.add_argument("--probe-every", type=float, default=60.0, help="seconds")
    parser.add_argument("--tracemalloc", action="store_true", help="probes add snapshots")
    parser.add_argument("--samples", type=Path, default=None, help="write the RSS samples here")
    argv = parser.parse_args()
    quick = argv.quick or QUICK
    seconds = argv.minutes * 60 if argv.minutes else QUICK_SECONDS if quick else SOAK_MINUTES * 60
    if argv.probe is not None:
        argv.probe.mkdir(parents=True, exist_ok=True)
    result = soak(seconds, quick, argv.probe, argv.probe_every, argv.tracemalloc)
    if argv.samples is not None:
        argv.samples.write_text(json.dumps(result))
    row = soak_row(result, quick=quick)
    print(" | ".join(str(cell) for cell in row[:4]) + f" | {'yes' if row[4] else 'NO'}")
    return 0 if row[4] else 1


if __name__ == "__main__":
    sys.exit(main())
