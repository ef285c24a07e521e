"""The docker_compose provider's verify: the new containers run the image, and keep running.

Each recreated container must run the target image (and be healthy, when it has a
healthcheck) and keep running, not restarted, for `settle_seconds`, within `verify_seconds`: a
crash loop starts too. No other container of the service may run (the old one, left over).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cockpit.core.actions import Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from providers.docker_compose.containers import (
    ONEOFF,
    PROJECT,
    SERVICE,
    health_of,
    name_of,
    short,
)
from providers.docker_compose.engine import NotThere

if TYPE_CHECKING:
    from providers.docker_compose.provider import ComposeProvider


def verify_rollback(
    compose: ComposeProvider, plan: Plan, executed: Executed, report: Report
) -> Verified:
    """Poll the service's containers until they pass, fail, or verify_seconds pass."""
    service, target = plan.data["service"], executed.data["image"]
    names = [c["name"] for c in executed.data["containers"]]
    others_ok = set(names) | {r["name"] for r in plan.data["replicas"]}
    settle = compose.opts.settle_seconds
    until = report.monotonic() + compose.opts.verify_seconds
    steady: dict[str, tuple[float, str]] = {}  # name → (first seen ok, which start)
    while True:
        now, states = report.monotonic(), []
        for name in names:
            verdict, text, run = _state(compose, name, target)
            if verdict == "ok":  # ok only once it has kept running, unrestarted, a while
                first, seen = steady.setdefault(name, (now, run))
                if seen != run:
                    steady[name] = (now, run)
                    verdict, text = "waiting", f"{name} restarted"
                elif now - first < settle:
                    verdict, text = "waiting", f"{text}, for {settle:g} s?"
                else:
                    text = f"{text}, up {now - first:.0f} s"
            states.append((verdict, text))
        failed = [text for verdict, text in states if verdict == "failed"]
        waiting = [text for verdict, text in states if verdict == "waiting"]
        others = _others(compose, service, target, others_ok)
        if failed or others:
            return Verified(False, "; ".join(failed + others))
        if not waiting:
            return Verified(True, "; ".join(text for _, text in states))
        if now >= until:
            return Verified(
                False, f"after {compose.opts.verify_seconds:g} s: " + "; ".join(waiting)
            )
        report.log("waiting: " + "; ".join(waiting))
        report.sleep(min(1.0, max(0.2, settle / 2)))


def _state(compose: ComposeProvider, name: str, target: str) -> tuple[str, str, str]:
    """('ok' | 'waiting' | 'failed', what the container is doing, which start of it)."""
    try:
        found = compose.engine.inspect(name)
    except NotThere:
        return "failed", f"{name} is gone", ""
    state = found["State"]
    run = f"{state.get('StartedAt')}#{found.get('RestartCount', 0)}"
    if found["Image"] != target:
        return "failed", f"{name} runs {short(found['Image'])}, not {short(target)}", run
    status = state.get("Status") or ""
    if status in ("exited", "dead"):
        code = state.get("ExitCode")
        return "failed", f"{name} exited with {code}{_tail(compose, name)}", run
    if not state.get("Running"):
        return "waiting", f"{name} is {status or 'not running'}", run
    health = health_of(found)
    if health == "unhealthy":
        last = ((state.get("Health") or {}).get("Log") or [{}])[-1]
        output = str(last.get("Output") or "").strip()[:200]
        return "failed", f"{name} is unhealthy" + (f": {output}" if output else ""), run
    if health and health != "healthy":
        return "waiting", f"{name} runs {short(target)}, health {health}", run
    return "ok", f"{name} runs {short(target)}" + (", healthy" if health else ""), run


def _others(compose: ComposeProvider, service: str, target: str, ours: set[str]) -> list[str]:
    """Other running containers of the service on another image (the old one, left over)."""
    return [
        f"{name_of(c)} ({c['Id'][:12]}, {short(c['Image'])}) also runs"
        for c in compose.engine.containers(
            [f"{PROJECT}={compose.opts.project}", f"{SERVICE}={service}", f"{ONEOFF}=False"]
        )
        if c["State"].get("Running") and (name_of(c) not in ours or c["Image"] != target)
    ]


def _tail(compose: ComposeProvider, name: str) -> str:
    try:
        raw = compose.engine.call(
            f"read {name}'s log", lambda: compose.engine.api.logs(name, tail=5)
        )
    except ProviderError:
        return ""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    lines = [line for line in text.splitlines() if line.strip()]
    return f"; last log lines: {' | '.join(lines)[-300:]}" if lines else ""
