"""The verification provider: health checks against a local server, real commands, real files.

Health checks GET a tests/local_http.py server whose answer each test sets; retries sleep through
an injected sleeper, so no test waits on the wall clock. Commands are real /bin/sh ones; the
evidence lands in the scratch folder of tests/contract_cases/verification.py.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from contract_cases.verification import Scratch
from local_http import Canned

from cockpit import action_runner
from cockpit.action_runner import Result, TimelineRecorder
from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError, ProviderTimeout
from cockpit.core.timeline import Timeline
from providers.verification import VerificationProvider

SECRET = "sk_live_abc123456789"


@pytest.fixture
def scratch() -> Iterator[Scratch]:
    with Scratch() as entered:
        yield entered


@pytest.fixture
def provider(scratch: Scratch) -> Iterator[VerificationProvider]:
    built = scratch.provider()
    yield built
    built.close()


@pytest.fixture
def server() -> Iterator[Canned]:
    canned = Canned(b'{"status": "ok"}')
    yield canned
    canned.stop()


def run(
    provider: VerificationProvider,
    timeline: Timeline,
    action: str,
    params: dict[str, Any],
    report: Report | None = None,
) -> Result:
    """Plan and run one action through the runner, recording to the timeline."""
    incident = timeline.open_incident("verification", "P1", "pulse-messages")
    plan = provider.preflight(action, {**params, "incident": incident.id})
    recorder = TimelineRecorder(timeline, incident.id)
    return action_runner.run(provider, plan, None, recorder, report or Report())


def recorded(timeline: Timeline) -> list[tuple[str, dict[str, Any], str | None]]:
    incident = timeline.incidents()[0].id
    return [(e.kind, dict(e.payload), e.command) for e in timeline.events(incident)]


def alive(pid: int) -> bool:
    """Whether a process still runs (a zombie waiting for its reaper does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_health_check_that_passes_is_planned_run_and_recorded(
    provider: VerificationProvider, server: Canned, timeline: Timeline
) -> None:
    plan = provider.preflight("health_check", {"url": f"{server.url}/health", "contains": "ok"})
    assert not plan.destructive and plan.target == "127.0.0.1/health"
    assert [call.line() for call in plan.calls] == [f"GET {server.url}/health"]
    assert plan.cli.startswith("curl ") and plan.cli.endswith(f"{server.url}/health")
    result = run(provider, timeline, "health_check", {"url": f"{server.url}/health"})
    assert result.outcome == "succeeded" and result.verified, result.summary
    assert "200 OK at attempt 1" in result.summary
    kinds = [kind for kind, _, _ in recorded(timeline)]
    assert kinds[-2:] == ["action.intent", "action.result"]
    assert recorded(timeline)[-2][2] == plan.cli


def test_a_failing_health_check_gives_up_after_its_attempts_naming_the_last_status(
    provider: VerificationProvider, server: Canned, timeline: Timeline
) -> None:
    server.status = 503
    waited: list[float] = []
    report = Report(sleeper=waited.append, monotonic=lambda: 0.0)
    params = {"url": server.url, "attempts": 3, "interval_seconds": 7}
    result = run(provider, timeline, "health_check", params, report)
    assert result.outcome == "failed" and not result.verified
    assert "failed 3 attempt(s)" in result.summary and "503" in result.summary
    assert waited == [7, 7]  # between attempts, not after the last
    assert sum(line.startswith("attempt ") and "503" in line for line in result.transcript) == 3


def test_a_health_check_passes_once_the_service_recovers(
    provider: VerificationProvider, server: Canned, timeline: Timeline
) -> None:
    server.status = 502
    report = Report(sleeper=lambda _: setattr(server, "status", 200), monotonic=lambda: 0.0)
    result = run(provider, timeline, "health_check", {"url": server.url}, report)
    assert result.outcome == "succeeded", result.summary
    assert "at attempt 2" in result.summary


def test_a_body_without_the_expected_text_fails(
    provider: VerificationProvider, server: Canned, timeline: Timeline
) -> None:
    server.body = b'{"status": "degraded"}'
    report = Report(sleeper=lambda _: None, monotonic=lambda: 0.0)
    params = {"url": server.url, "contains": '"ok"', "attempts": 2}
    result = run(provider, timeline, "health_check", params, report)
    assert result.outcome == "failed"
    assert "200 OK, but the body lacks" in result.summary


def test_health_check_parameters_are_checked_before_anything_runs(
    provider: VerificationProvider,
) -> None:
    with pytest.raises(ProviderError, match="needs url"):
        provider.preflight("health_check", {"url": "ftp://example.com"})
    with pytest.raises(ProviderError, match="expect_status"):
        provider.preflight("health_check", {"url": "http://x", "expect_status": "ok"})
    plan = provider.preflight("health_check", {"url": "http://x/h", "expect_status": [200, "3xx"]})
    assert "200/3xx" in plan.verify


def test_a_smoke_test_that_passes_keeps_its_output(
    provider: VerificationProvider, timeline: Timeline
) -> None:
    plan = provider.preflight("smoke_test", {"command": "printf 'one\\ntwo\\n'"})
    executed = provider.execute(plan, report := Report())
    assert executed.data["output"] == ["one", "two"] and executed.data["exit"] == 0
    assert "  one" in report.transcript and "  two" in report.transcript
    assert provider.verify(plan, executed, report).ok


def test_a_smoke_test_that_exits_1_fails_with_its_output(
    provider: VerificationProvider, timeline: Timeline
) -> None:
    command = ["/bin/sh", "-c", "echo 3 tests, 1 failed; exit 1"]
    result = run(provider, timeline, "smoke_test", {"command": command})
    assert result.outcome == "failed" and not result.verified
    assert "exit 1, expected 0" in result.summary and "1 failed" in result.summary
    assert "  3 tests, 1 failed" in result.transcript


def test_a_long_output_keeps_its_first_and_last_lines(scratch: Scratch) -> None:
    provider = scratch.provider(max_output_lines=10)
    plan = provider.preflight("smoke_test", {"command": "seq 1 100"})
    executed = provider.execute(plan, report := Report())
    kept = ["1", "2", "3", "4", "5", "… 90 line(s) left out …", "96", "97", "98", "99", "100"]
    assert executed.data["output"] == kept and executed.data["lines"] == 100
    assert [line.strip() for line in report.transcript if line.startswith("  ")] == kept


def test_a_command_past_its_timeout_is_stopped_with_its_children(
    scratch: Scratch, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    provider = scratch.provider(timeout_seconds=0.3)
    command = f"echo $$ > {pids}; sleep 5 & echo $! >> {pids}; wait"
    plan = provider.preflight("smoke_test", {"command": command})
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match=r"sleep 5.*0\.3 s timeout"):
        provider.execute(plan, Report())
    assert time.monotonic() - started < 3
    shell, sleeper = (int(pid) for pid in pids.read_text().split())
    deadline = time.monotonic() + 3
    while (alive(shell) or alive(sleeper)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(shell) and not alive(sleeper)


def test_a_missing_executable_is_named(provider: VerificationProvider) -> None:
    with pytest.raises(ProviderError, match="no-such-tool-xyz not found"):
        provider.preflight("smoke_test", {"command": ["no-such-tool-xyz", "--check"]})
    plan = provider.preflight("smoke_test", {"command": "no-such-tool-xyz --check"})
    assert any("no-such-tool-xyz" in warning for warning in plan.warnings)
    with pytest.raises(ProviderError, match="cannot run no-such-tool-xyz --check: command not"):
        provider.execute(plan, Report())


def test_secrets_in_output_are_scrubbed_from_transcript_and_attachments(
    scratch: Scratch, timeline: Timeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMOKE_KEY", "p4ss-from-env-9")
    provider = scratch.provider(environment={"API": {"env": "SMOKE_KEY"}, "STAGE": "prod"})
    leak = f"echo 'Authorization: Bearer {SECRET}'; echo key=$API stage=$STAGE"
    smoke = run(provider, timeline, "smoke_test", {"command": leak})
    assert smoke.outcome == "succeeded", smoke.summary
    assert "  key=[redacted] stage=prod" in smoke.transcript
    evidence = run(provider, timeline, "capture_evidence", {"commands": {"headers": leak}})
    assert evidence.outcome == "succeeded", evidence.summary
    saved = "".join(p.read_text() for p in (scratch.root / "attachments").rglob("*.txt"))
    assert "Authorization: [redacted]" in saved
    everything = json.dumps([smoke.transcript, evidence.transcript, recorded(timeline)]) + saved
    assert SECRET not in everything and "p4ss-from-env-9" not in everything


def test_evidence_is_saved_owner_only_with_its_sha256_failures_included(
    provider: VerificationProvider, scratch: Scratch, timeline: Timeline
) -> None:
    commands = {"logs": "echo web started; echo web ready", "broken": "echo nope >&2; exit 3"}
    params = {"commands": commands, "label": "before-rollback"}
    result = run(provider, timeline, "capture_evidence", params)
    assert result.outcome == "succeeded" and result.verified, result.summary
    assert "broken (exit 3)" in result.summary
    incident = timeline.incidents()[0].id
    folder = scratch.root / "attachments" / f"incident-{incident}" / "before-rollback"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in folder.iterdir()) == ["broken.txt", "logs.txt"]
    for name in ("logs", "broken"):
        assert (folder / f"{name}.txt").stat().st_mode & 0o777 == 0o600
    assert "web started\nweb ready\n" in (folder / "logs.txt").read_text()
    assert "# exit 3" in (folder / "broken.txt").read_text()
    assert "nope" in (folder / "broken.txt").read_text()
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    transcript = "\n".join(result.transcript)
    assert all(f"sha256 {digest[:12]}" in transcript for digest in digests.values())
    kinds = [kind for kind, _, _ in recorded(timeline)]
    assert kinds[-2:] == ["action.intent", "action.result"]


def test_verify_notices_an_evidence_file_changed_after_it_was_saved(
    provider: VerificationProvider,
) -> None:
    plan = provider.preflight("capture_evidence", {"commands": ["echo first"], "incident": 7})
    executed = provider.execute(plan, report := Report())
    [saved] = executed.data["files"]
    assert saved["name"] == "echo-first" and saved["exit"] == 0
    assert saved["sha256"] == hashlib.sha256(Path(saved["path"]).read_bytes()).hexdigest()
    assert provider.verify(plan, executed, report).ok
    Path(saved["path"]).write_text("edited")
    verdict = provider.verify(plan, executed, report)
    assert not verdict.ok and "changed since saved" in verdict.summary
    again = provider.execute(plan, Report())  # a second capture never overwrites the first
    assert again.data["folder"].endswith("incident-7/evidence-2")


def test_health_says_where_evidence_goes_and_refuses_a_place_it_cannot_write(
    scratch: Scratch, provider: VerificationProvider
) -> None:
    assert provider.health() == f"ready; evidence goes to {scratch.root / 'attachments'}"
    blocker = scratch.root / "a-file"
    blocker.write_text("")
    with pytest.raises(ProviderError, match="cannot save evidence"):
        scratch.provider(attachments_dir=str(blocker / "attachments")).health()
    assert provider.choices("capture_evidence", "url", {}) == []
