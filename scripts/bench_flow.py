"""The one-flow benchmarks of issue 14, the timeline on a real disk with fsync (not /dev/shm).

- Keys: the real CockpitApp (headless, 100x30) with 12 sources polled at 1 Hz (healthy demo
  services, in a process of their own), while another process appends to the same incident
  continuously (its events reach this cockpit through the change feed): each screen switch's
  time to its screen.
- Seen by a second cockpit: a process appends an event and notes when its commit returned; the
  App's change feed delivers it; the time between the two.
- Two writers: two processes appending as fast as they can to one incident: throughput, p99 and
  the slowest single append.

`--quick` runs each briefly, so `make test` can run it and a crash fails CI.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_actions import wait_for  # noqa: E402
from bench_cli import QUICK  # noqa: E402

Row = tuple[str, str, str, str, bool]
KEY_P99_GOAL_MS = 50.0
POLL_INTERVAL = 1.0
"""The sources' poll interval: 12 sources at 1 Hz."""
APPEND_MAX_GOAL_MS = 100.0

_APPENDER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from cockpit.core.timeline import Timeline

timeline = Timeline(sys.argv[2])
incident, count, pause = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
took, committed = [], []
for n in range(count):
    started = time.perf_counter()
    timeline.record(incident, "note", f"from another process {n}", {"n": n})
    took.append(time.perf_counter() - started)
    committed.append(time.time())
    if pause:
        time.sleep(pause)
print(json.dumps({"took": took, "committed": committed}), flush=True)
"""


def appender(db: Path, incident: int, count: int, pause: float) -> subprocess.Popen[str]:
    """Another process appending `count` notes, `pause` seconds apart."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            _APPENDER,
            str(ROOT),
            str(db),
            str(incident),
            str(count),
            str(pause),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def _ms(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * quantile))] * 1000


async def keys_and_feed(folder: Path, presses: int) -> tuple[list[float], list[float]]:
    """(seconds per key, seconds from another process's commit to this cockpit's state)."""
    from bench_live import bench_env, demo_services

    with demo_services(bench_env(folder), 12) as (urls, _):
        return await _keys_and_feed(folder, presses, urls)


async def _keys_and_feed(
    folder: Path, presses: int, urls: list[str]
) -> tuple[list[float], list[float]]:
    from cockpit.app import CockpitApp
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.core.timeline import Timeline
    from cockpit.demo.sources import DEMO_QUERIES
    from cockpit.incident_app import SETTLE_SECONDS
    from cockpit.session import Session
    from providers.prometheus.scrape import ScrapeOptions, ScrapeSource

    db = folder / "flow.db"
    timeline = Timeline(db)
    incident = timeline.open_incident("bench: one flow", "P1", "pulse-messages")
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=load_builtin("pulse-messages"),
        sources=[
            ScrapeSource(ScrapeOptions(url=f"{url}/metrics", metrics=list(DEMO_QUERIES)))
            for url in urls
        ],
        poll_interval=POLL_INTERVAL,
    )
    app = CockpitApp(session)
    arrived: dict[int, float] = {}
    latencies: list[float] = []
    try:
        async with app.run_test(size=(100, 30)):
            app.event_recorded.subscribe(
                app,
                lambda event: arrived.setdefault(int(event.payload.get("n", -1)), time.time()),
            )
            for key, mode in (("t", "timeline"), ("p", "procedure"), ("d", "dashboard")):
                app.simulate_key(key)
                await wait_for(lambda mode=mode: app.current_mode == mode)
            await asyncio.sleep(SETTLE_SECONDS + 0.5)
            other = appender(db, incident.id, presses * 4, 0.02)  # ~50 events a second
            cycle = (("t", "timeline"), ("d", "dashboard"), ("p", "procedure"))
            for index in range(presses):
                key, mode = cycle[index % len(cycle)]
                started = time.perf_counter()
                app.simulate_key(key)
                await wait_for(lambda mode=mode: app.current_mode == mode)
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.05)
            while other.poll() is None:
                await asyncio.sleep(0.05)
            assert other.stdout is not None
            committed = json.loads(other.stdout.read())["committed"]
            await wait_for(lambda: len(arrived) >= len(committed), 10.0)
    finally:
        app.stop_sources()
    seen = [arrived[n] - at for n, at in enumerate(committed) if n in arrived]
    return latencies, seen


def two_writers(folder: Path, count: int) -> tuple[float, list[float]]:
    """(appends a second, every append's seconds) for two processes writing flat out."""
    from cockpit.core.timeline import Timeline

    db = folder / "writers.db"
    with Timeline(db) as timeline:
        incident = timeline.open_incident("bench: two writers", "P1", "x").id
    started = time.perf_counter()
    procs = [appender(db, incident, count, 0.0) for _ in range(2)]
    took: list[float] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        took += json.loads(out)["took"]
    return len(took) / (time.perf_counter() - started), took


def rows(quick: bool = QUICK) -> list[Row]:
    """The benchmark rows for scripts/bench.py."""
    presses, appends = (12, 300) if quick else (120, 3000)
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-flow-", dir=ROOT) as folder:
        keys, seen = asyncio.run(keys_and_feed(Path(folder), presses))
        rate, took = two_writers(Path(folder), appends)
    from cockpit.core.feed import FEED_PERIOD

    # The issue's goal: within one poll interval (the sources' 1 s here) + 50 ms. The feed
    # looks every FEED_PERIOD, so a fifth of that is what to expect; the detail says it.
    seen_goal = POLL_INTERVAL + 0.05
    return [
        (
            "keys, 12 sources at 1 Hz, another process writing",
            f"p99 {_ms(keys, 0.99):.0f} ms",
            f"p50 {_ms(keys, 0.5):.0f} ms over {len(keys)} screen switches; ~50 events/s "
            "written by another process into the same incident",
            f"p99 ≤ {KEY_P99_GOAL_MS:.0f} ms",
            _ms(keys, 0.99) <= KEY_P99_GOAL_MS,
        ),
        (
            "another process's event seen by this cockpit",
            f"p99 {_ms(seen, 0.99):.0f} ms, max {max(seen) * 1000:.0f} ms",
            f"median {_ms(seen, 0.5):.0f} ms over {len(seen)} events; the feed looks every "
            f"{FEED_PERIOD * 1000:.0f} ms, so about {(FEED_PERIOD + 0.05) * 1000:.0f} ms at most "
            "is expected",
            f"≤ {seen_goal * 1000:.0f} ms (one {POLL_INTERVAL:g} s poll interval + 50 ms)",
            max(seen) <= seen_goal,
        ),
        (
            "two processes appending to one incident",
            f"max {max(took) * 1000:.1f} ms",
            f"{rate:,.0f} appends/s, p50 {_ms(took, 0.5):.2f} ms, p99 {_ms(took, 0.99):.1f} ms "
            f"over {len(took):,} durable appends",
            f"no append over {APPEND_MAX_GOAL_MS:.0f} ms",
            max(took) * 1000 <= APPEND_MAX_GOAL_MS,
        ),
    ]


if __name__ == "__main__":
    from bench_cli import standalone

    sys.exit(standalone(__doc__, rows))
