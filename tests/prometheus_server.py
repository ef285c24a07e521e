"""A private, real Prometheus (Debian's 2.42) for integration tests, and the fixtures built on it.

Each server runs on 127.0.0.1 on a free port with its own storage directory and
--web.enable-lifecycle, so it stops in ~0.1 s with POST /-/quit (SIGTERM takes ~2 s; kill is the
last resort). Nothing here can hang: every subprocess wait and HTTP call has a timeout, and every
poll has a deadline. History can be backfilled before start with `promtool tsdb
create-blocks-from openmetrics`, which gives exact values to assert on.

Prometheus' first scrape comes ~6 s after start whatever the interval (its discovery throttle),
so the module-scoped `prometheus_demo` fixture pays that once for a test module.

Test modules load the fixtures with `pytest_plugins = ["prometheus_server"]`.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from cockpit.core.clock import SystemClock
from cockpit.demo.scenario import Scenario
from cockpit.demo.service import DemoService

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
MISSING = (
    "needs a real Prometheus at /usr/bin/prometheus "
    "(Debian package `prometheus`; `make test` as root installs it via scripts/services.sh)"
)

HTTP_TIMEOUT = 2.0
"""Seconds for any one HTTP call the helper makes."""
FIRST_SAMPLE_TIMEOUT = 15.0
"""Prometheus needs 5.6–6 s for its first scrape here; 15 s leaves room for a loaded machine."""


def prometheus_missing() -> bool:
    # promtool ships in the same package; if it alone is missing, backfill() fails loudly.
    return not PROMETHEUS.exists()


def free_port() -> int:
    """A port the kernel just handed out; the caller retries if someone takes it meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape_config(targets: dict[str, str], interval: str = "1s") -> str:
    """A prometheus.yml scraping `job -> host:port` targets (JSON is valid YAML, and safe)."""
    jobs = [
        {"job_name": job, "static_configs": [{"targets": [address]}]}
        for job, address in targets.items()
    ]
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": jobs,
    }
    return json.dumps(config, indent=2)


def openmetrics(series: dict[str, list[tuple[float, float]]], kind: str = "gauge") -> str:
    """OpenMetrics text for promtool: `name{labels}` -> [(unix seconds, value)], then # EOF.

    Families are the text before `{`; promtool wants seconds (not ms) and the final `# EOF`.
    """
    lines: list[str] = []
    typed: set[str] = set()
    for selector, points in series.items():
        family = selector.split("{", 1)[0]
        if family not in typed:
            lines.append(f"# TYPE {family} {kind}")
            typed.add(family)
        for at, value in points:
            text = "NaN" if math.isnan(value) else repr(value)
            lines.append(f"{selector} {text} {at:.3f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def backfill(storage: Path, text: str) -> float:
    """Write OpenMetrics `text` into `storage` as TSDB blocks; returns the seconds it took."""
    storage.mkdir(parents=True, exist_ok=True)
    source = storage.parent / "backfill.om"
    source.write_text(text)
    started = time.monotonic()
    done = subprocess.run(
        [str(PROMTOOL), "tsdb", "create-blocks-from", "openmetrics", str(source), str(storage)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"promtool backfill failed: {done.stderr.strip() or done.stdout}")
    return time.monotonic() - started


@dataclass
class PrometheusServer:
    """One private Prometheus process; `start()` returns once /-/ready answers."""

    workdir: Path
    targets: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def storage(self) -> Path:
        return self.workdir / "data"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "prometheus.log"

    def start(self, attempts: int = 3) -> PrometheusServer:
        config = self.workdir / "prometheus.yml"
        config.write_text(scrape_config(self.targets))
        started = time.monotonic()
        for _ in range(attempts):
            self.port = free_port()
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(
                    [
                        str(PROMETHEUS),
                        f"--config.file={config}",
                        f"--storage.tsdb.path={self.storage}",
                        f"--web.listen-address=127.0.0.1:{self.port}",
                        "--web.enable-lifecycle",
                        "--log.level=warn",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            if self._wait_ready(deadline=time.monotonic() + 10.0):
                self.timings["ready"] = time.monotonic() - started
                return self
            self.stop()  # most likely the port was taken between free_port() and the bind
        raise RuntimeError(f"Prometheus did not become ready; log:\n{self._log_tail()}")

    def _wait_ready(self, deadline: float) -> bool:
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.base_url}/-/ready", timeout=HTTP_TIMEOUT).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        return False

    def query(self, promql: str) -> list[Any]:
        """The raw `result` of an instant query at the server's now."""
        response = httpx.get(
            f"{self.base_url}/api/v1/query", params={"query": promql}, timeout=HTTP_TIMEOUT
        )
        response.raise_for_status()
        result: list[Any] = response.json()["data"]["result"]
        return result

    def wait_for(self, promql: str, timeout: float = FIRST_SAMPLE_TIMEOUT) -> float:
        """Poll until `promql` returns a series; the seconds waited. Bounded by `timeout`."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"Prometheus exited; log:\n{self._log_tail()}")
            if self.query(promql):
                return time.monotonic() - started
            time.sleep(0.1)
        raise TimeoutError(
            f"{promql!r} still empty after {timeout} s; targets: {self._targets_health()}"
        )

    def stop(self) -> float:
        """POST /-/quit, then terminate, then kill; returns the seconds it took to exit."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return 0.0
        started = time.monotonic()
        try:
            httpx.post(f"{self.base_url}/-/quit", timeout=HTTP_TIMEOUT)
            process.wait(timeout=5)
        except (httpx.HTTPError, subprocess.TimeoutExpired):
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.timings["stop"] = time.monotonic() - started
        return self.timings["stop"]

    def _targets_health(self) -> str:
        try:
            response = httpx.get(f"{self.base_url}/api/v1/targets", timeout=HTTP_TIMEOUT)
            active = response.json()["data"]["activeTargets"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            return f"unknown ({exc})"
        return ", ".join(f"{t['scrapeUrl']}: {t['health']} {t['lastError']}" for t in active)

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# -- history that is known exactly ---------------------------------------------------------------

BACKFILL_STEP = 15.0
BACKFILL_RATIOS = [0.4, 0.5, 0.4, 1.2, 3.5, 6.0, math.nan, 9.1, 8.7, 2.0, 0.6, 0.4]
"""error_ratio_percent every 15 s; the NaN is a scrape of a window without requests."""


@dataclass(frozen=True)
class Backfilled:
    """What was written: the first timestamp (unix seconds) and the points of each series."""

    start: float
    series: dict[str, list[tuple[float, float]]]

    @property
    def end(self) -> float:
        return self.start + BACKFILL_STEP * (len(BACKFILL_RATIOS) - 1)


def backfill_history(storage: Path, now: float) -> tuple[Backfilled, float]:
    """Deterministic history two hours back (whole minute), clear of the live head block."""
    start = (now // 60) * 60 - 2 * 3600
    times = [start + BACKFILL_STEP * i for i in range(len(BACKFILL_RATIOS))]
    series = {
        'backfill_error_ratio_percent{service="api"}': list(
            zip(times, BACKFILL_RATIOS, strict=True)
        ),
        # Two series of one family: a range over the bare name must ask to aggregate.
        'backfill_replicas{zone="a"}': [(t, 3.0) for t in times],
        'backfill_replicas{zone="b"}': [(t, 2.0) for t in times],
    }
    seconds = backfill(storage, openmetrics(series))
    return Backfilled(start, series), seconds


# -- fixtures ------------------------------------------------------------------------------------


@dataclass
class PrometheusDemo:
    """A Prometheus scraping the demo service every second, with backfilled history."""

    server: PrometheusServer
    service: DemoService
    history: Backfilled
    timings: dict[str, float]

    @property
    def base_url(self) -> str:
        return self.server.base_url


def _served(targets: Iterable[str]) -> None:
    for url in targets:
        httpx.get(url, timeout=HTTP_TIMEOUT).raise_for_status()


@pytest.fixture(scope="module")
def prometheus_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusDemo]:
    """Prometheus scraping the demo service (healthy for the whole module), plus history.

    The scenario's bad deploy is pushed out of reach so the live values are known: 200 requests
    per second, 0.4 % of them errors. Waits until two scrapes are stored, so rates exist.
    """
    if prometheus_missing():
        pytest.skip(MISSING)
    workdir = tmp_path_factory.mktemp("prometheus")
    timings: dict[str, float] = {}
    scenario = Scenario(SystemClock(), bad_deploy_at=1e9)
    with DemoService(scenario) as service:
        _served([f"{service.base_url}/metrics"])
        history, timings["backfill"] = backfill_history(workdir / "data", time.time())
        server = PrometheusServer(workdir, {"demo": service.base_url.removeprefix("http://")})
        with server:
            timings["ready"] = server.timings["ready"]
            timings["first_sample"] = server.wait_for('up{job="demo"} == 1')
            timings["second_sample"] = server.wait_for(
                'count_over_time(up{job="demo"}[1m]) >= 2', timeout=5.0
            )
            yield PrometheusDemo(server, service, history, timings)
        timings["stop"] = server.timings.get("stop", 0.0)


@pytest.fixture
def prometheus_bare(tmp_path: Path) -> Iterator[PrometheusServer]:
    """A Prometheus with nothing to scrape, ready in ~0.1 s: for start/stop behaviour."""
    if prometheus_missing():
        pytest.skip(MISSING)
    with PrometheusServer(tmp_path) as server:
        yield server
