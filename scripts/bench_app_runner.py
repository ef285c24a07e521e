"""Helper processes for scripts/bench_live.py: the simulated service, the live app, a 24 h soak.

Three modes, each run as its own process so that what is measured is one process only:

- `service`: a DemoService (healthy for ever) on 127.0.0.1; prints its base URL, serves until
  its stdin closes, so it dies with the benchmark even if that one is killed.
- `app`: the real CockpitApp through `launch()` (lock, hangup guard, App.run) on whatever
  terminal it is given, with metric sources built here, exactly as `cockpit` builds them.
- `soak`: CockpitApp headless (run_test, 80x24, FixedClock) fed 24 simulated hours of
  MetricsSampled messages; prints VmRSS at checkpoints as JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from cockpit.core.metrics import Sample
    from providers.base import MetricSource

#: A local source that does not answer within this is wedged; the pollers must not pile up.
SOURCE_TIMEOUT = 1.0


def serve(argv: argparse.Namespace) -> int:
    """Run DemoServices that never deploy the bad version, until stdin reaches EOF."""
    from cockpit.core.clock import SystemClock
    from cockpit.demo.scenario import Scenario
    from cockpit.demo.service import DemoService

    # Healthy for ever: the idle benchmark must not be measuring triggers firing. Several
    # services, because ThreadingHTTPServer listens with a backlog of 5: a dozen pollers
    # connecting in the same millisecond would overflow one and wait for SYN retransmits.
    services = [DemoService(Scenario(SystemClock(), bad_deploy_at=1e9)) for _ in range(argv.count)]
    try:
        print(" ".join(service.start() for service in services), flush=True)
        sys.stdin.read()  # EOF when the benchmark closes the pipe or dies
    finally:
        for service in services:
            service.stop()
    return 0


def build_sources(argv: argparse.Namespace) -> list[MetricSource]:
    """The sources named on the command line, in that order, as the demo builds them."""
    from cockpit.demo.sources import DEMO_QUERIES
    from providers.http_health import HealthProbe, HealthProbeOptions
    from providers.prometheus.scrape import MetricQuery, ScrapeOptions, ScrapeSource

    sources: list[MetricSource] = []
    for kind, url in argv.sources:
        if kind == "scrape":
            options = ScrapeOptions(
                url=f"{url}/metrics", timeout_seconds=SOURCE_TIMEOUT, metrics=list(DEMO_QUERIES)
            )
            sources.append(ScrapeSource(options))
        elif kind == "health":
            probe = HealthProbeOptions(
                url=f"{url}/health", timeout_seconds=SOURCE_TIMEOUT, body_contains='"status":"ok"'
            )
            sources.append(HealthProbe(probe))
        else:
            # One gauge read as error_rate: the detection benchmark flips it from outside.
            query = MetricQuery(name="error_rate", kind="gauge", family="bench_error_rate")
            options = ScrapeOptions(
                url=f"{url}/metrics", timeout_seconds=SOURCE_TIMEOUT, metrics=[query]
            )
            sources.append(ScrapeSource(options))
    return sources


def source_arg(kind: str) -> Callable[[str], tuple[str, str]]:
    """An argparse type that tags a URL with its kind, so sources keep the command line's order."""
    return lambda url: (kind, url)


def run_app(argv: argparse.Namespace) -> int:
    """The cockpit as `cockpit --procedure ...` runs it, with the given sources and interval."""
    from cockpit.commands.run import launch
    from cockpit.core.outline import builtin_outline, is_builtin
    from cockpit.core.procedure_loader import load_procedure
    from cockpit.core.timeline import Timeline
    from cockpit.session import Session

    db = Path(argv.db)
    timeline = Timeline(db)
    incident = timeline.open_incident("bench: live app", "P1", argv.procedure)
    builtin = is_builtin(argv.procedure)
    session = Session(
        timeline=timeline,
        incident=incident,
        # A built-in is validated in a worker after the first paint, as `cockpit` does.
        outline=builtin_outline(argv.procedure) if builtin else None,
        procedure=None if builtin else load_procedure(argv.procedure),
        sources=build_sources(argv),
        poll_interval=argv.interval,
    )
    if argv.executor_threads:
        widen_default_executor(argv.executor_threads)
    return launch(session)


def widen_default_executor(threads: int) -> None:
    """Give every new event loop a default executor of `threads` threads.

    Textual runs thread workers with `loop.run_in_executor(None, ...)`, and asyncio's default
    executor has min(32, CPUs + 4) threads: with long-lived pollers, sources beyond that are
    never sampled. This is the benchmark's what-if, never what `cockpit` does.
    """
    from concurrent.futures import ThreadPoolExecutor

    class Policy(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            loop = super().new_event_loop()
            loop.set_default_executor(ThreadPoolExecutor(max_workers=threads))
            return loop

    asyncio.set_event_loop_policy(Policy())


def rss_kib() -> int:
    """This process's resident set (VmRSS), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


#: What the 12 soak sources read: the six metrics the procedure watches, and six it does not
#: (stored, skipped by the board), one reading per source per simulated second.
SOAK_METRICS: tuple[str, ...] = (
    "error_rate",
    "p95_latency_ms",
    "health_check_failed",
    "db_connection_failures",
    "auth_check_failed",
    "critical_bug_reports_1h",
    *(f"region{index}_latency_ms" for index in range(6)),
)


def soak_value(rng: random.Random, metric: str, second: int) -> float:
    """A healthy reading with noise; a 10-minute error spike every 6 h from the first hour on.

    The spike makes the error-rate and p95 triggers fire and clear, so the events list grows as
    it does in a real long incident.
    """
    spike = second >= 3600 and (second - 3600) % (6 * 3600) < 600
    if metric == "error_rate":
        return 9.0 + rng.random() if spike else 0.4 + rng.random() * 0.2
    if metric == "p95_latency_ms":
        return (650.0 if spike else 180.0) + rng.random() * 20.0
    if metric.endswith("_latency_ms"):
        return 1.0 + rng.random()
    return 0.0


async def soak_async(argv: argparse.Namespace) -> int:
    """Feed the headless app simulated minutes through posted messages; print RSS checkpoints."""
    from cockpit.app import CockpitApp
    from cockpit.core.clock import FixedClock
    from cockpit.core.metrics import Sample
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.core.timeline import Timeline
    from cockpit.messages import MetricsSampled
    from cockpit.session import Session

    clock = FixedClock()
    db = Path(argv.db)
    timeline = Timeline(db)
    incident = timeline.open_incident("bench: 24 h soak", "P1", "pulse-messages")
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=load_builtin("pulse-messages"),
        clock=clock,
        poll_interval=1.0,
    )
    app = CockpitApp(session, start_pollers=False)
    checkpoints = sorted({int(hour * 3600) for hour in argv.checkpoints})
    batch = argv.batch_seconds
    rng = random.Random(20260115)
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    messages = samples = 0
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        print(json.dumps({"second": 0, "rss_kib": rss_kib(), "wall": 0.0}), flush=True)
        for first in range(1, checkpoints[-1] + 1, batch):
            seconds = range(first, min(first + batch, checkpoints[-1] + 1))
            readings: dict[str, list[Sample]] = {name: [] for name in SOAK_METRICS}
            for second in seconds:
                clock.advance(1.0)
                at = clock.now()
                for index, metric in enumerate(SOAK_METRICS):
                    source = f"source{index}"
                    value = soak_value(rng, metric, second)
                    readings[metric].append(Sample(metric, value, at, source))
            for index, metric in enumerate(SOAK_METRICS):
                app.post_message(MetricsSampled(f"source{index}", readings[metric]))
                messages += 1
                samples += len(readings[metric])
            # Let the App work the queue off, as it does between two polls: the callback is
            # queued behind the samples, so it runs once they are all handled.
            done = loop.create_future()
            app.call_later(done.set_result, None)
            await done
            # In real time a minute of samples arrives over a minute: the writer thread has
            # all the time it needs. Here it arrives at once; wait for the writer as time would.
            app.writer.flush()
            while app.writer.samples_waiting:
                await asyncio.sleep(0.001)
            last = seconds[-1]
            if last in checkpoints:
                await pilot.pause()
                line = {
                    "second": last,
                    "rss_kib": rss_kib(),
                    "wall": round(time.perf_counter() - started, 1),
                    "events": len(app.events),
                    "messages": messages,
                    "samples": samples,
                }
                print(json.dumps(line), flush=True)
        stored = len(timeline.samples(incident.id, metric="auth_check_failed"))
        print(json.dumps({"done": True, "auth_samples": stored, "events": len(app.events)}))
    return 0


def soak(argv: argparse.Namespace) -> int:
    """Run the soak in a fresh event loop."""
    return asyncio.run(soak_async(argv))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    modes = parser.add_subparsers(dest="mode", required=True)
    service = modes.add_parser("service")
    service.add_argument("--count", type=int, default=1)
    service.set_defaults(run=serve)
    app = modes.add_parser("app")
    app.add_argument("--db", required=True)
    app.add_argument("--procedure", default="pulse-messages")
    app.add_argument("--interval", type=float, default=1.0)
    for kind, what in (
        ("scrape", "scrape a DemoService's /metrics"),
        ("health", "probe a DemoService's /health"),
        ("gauge", "read the flip server's gauge as error_rate"),
    ):
        app.add_argument(
            f"--{kind}", dest="sources", action="append", type=source_arg(kind), help=what
        )
    app.add_argument(
        "--executor-threads",
        type=int,
        default=0,
        help="size of the event loop's default executor (0: asyncio's own, as shipped)",
    )
    app.set_defaults(run=run_app)
    soaker = modes.add_parser("soak")
    soaker.add_argument("--db", default=None)
    soaker.add_argument("--checkpoints", type=float, nargs="+", default=[1, 6, 12, 24])
    soaker.add_argument(
        "--batch-seconds", type=int, default=60, help="simulated seconds per source message"
    )
    soaker.set_defaults(run=soak)
    argv = parser.parse_args()
    if argv.mode == "app" and not argv.sources:
        argv.sources = []
    if argv.mode == "soak" and argv.db is None:
        argv.db = str(Path(tempfile.mkdtemp(prefix="cockpit-soak-")) / "soak.db")
    return int(argv.run(argv))


if __name__ == "__main__":
    sys.exit(main())
