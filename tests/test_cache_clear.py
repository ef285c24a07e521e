"""Cache clears: a command through the verification provider's runner (argv, no shell, timeout,
output kept, exit judged), and Redis against a real private redis-server (FLUSHDB of one
database, SCAN + DEL by pattern in batches), skipped where redis-server cannot be had."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis_server

from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError, ProviderTimeout
from providers.cache_clear import CacheClearOptions, CacheClearProvider
from providers.redis_resp import RedisError

pytestmark = pytest.mark.timeout(60)


def clearer(tmp_path: Path, **options: Any) -> CacheClearProvider:
    return CacheClearProvider(
        CacheClearOptions.model_validate({"working_dir": str(tmp_path), **options})
    )


def test_a_command_runs_without_a_shell_and_its_output_is_kept(tmp_path: Path) -> None:
    provider = clearer(tmp_path, timeout_seconds=10)
    plan = provider.preflight("command", {"command": "echo 'cleared; 4 keys' $HOME"})
    assert plan.data["argv"] == ["echo", "cleared; 4 keys", "$HOME"]  # no shell: no expansion
    report = Report()
    executed = provider.execute(plan, report)
    assert "exit 0" in executed.summary and "cleared; 4 keys $HOME" in executed.summary
    assert any("cleared; 4 keys" in line for line in report.transcript)
    assert provider.verify(plan, executed, report).ok


def test_a_failing_command_fails_with_its_last_line(tmp_path: Path) -> None:
    provider = clearer(tmp_path, timeout_seconds=10)
    script = "import sys; print('connecting'); print('cache: ECONNREFUSED'); sys.exit(3)"
    plan = provider.preflight("command", {"command": [sys.executable, "-c", script]})
    with pytest.raises(ProviderError, match=r"exit 3, expected 0; last output: cache: ECONN"):
        provider.execute(plan, Report())


def test_a_hung_command_is_stopped_at_its_timeout(tmp_path: Path) -> None:
    provider = clearer(tmp_path, timeout_seconds=0.5)
    plan = provider.preflight("command", {"command": ["sleep", "30"]})
    with pytest.raises(ProviderError, match=r"no end within 0.5 s"):
        provider.execute(plan, Report())


def test_a_missing_program_is_a_warning_then_a_clear_error(tmp_path: Path) -> None:
    provider = clearer(tmp_path)
    plan = provider.preflight("command", {"command": "no-such-npm run cache:clear"})
    assert any("not found" in warning for warning in plan.warnings)
    with pytest.raises(ProviderError, match="cannot run"):
        provider.execute(plan, Report())


def test_secrets_in_the_environment_never_reach_the_transcript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CACHE_ADMIN_TOKEN", "zz-cache-secret-4242")
    provider = clearer(tmp_path, environment={"ADMIN_TOKEN": {"env": "CACHE_ADMIN_TOKEN"}})
    script = "import os; print('using', os.environ['ADMIN_TOKEN'])"
    plan = provider.preflight("command", {"command": [sys.executable, "-c", script]})
    report = Report()
    executed = provider.execute(plan, report)
    assert "zz-cache-secret-4242" not in " ".join([*report.transcript, executed.summary])


def test_redis_actions_without_redis_configured_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="no Redis configured"):
        clearer(tmp_path).preflight("redis_flushdb", {"db": 3})


@pytest.fixture(scope="module")
def redis() -> Iterator[redis_server.RedisServer]:
    if (why := redis_server.ensure()) is not None:
        pytest.skip(why)
    with redis_server.RedisServer() as server:
        yield server


def redis_clearer(server: redis_server.RedisServer, **options: Any) -> CacheClearProvider:
    return CacheClearProvider(
        CacheClearOptions.model_validate(
            {"redis_port": server.port, "redis_password": server.password, **options}
        )
    )


def fill(server: redis_server.RedisServer, db: int, keys: list[str]) -> None:
    with server.client(db) as client:
        client.command("FLUSHDB")
        for key in keys:
            client.command("SET", key, "v")


def test_flushdb_empties_only_the_named_database(redis: redis_server.RedisServer) -> None:
    fill(redis, 3, ["a", "b", "c"])
    fill(redis, 4, ["keep"])
    provider = redis_clearer(redis)
    assert "answers PING" in provider.health()
    plan = provider.preflight("redis_flushdb", {"db": 3})
    assert plan.destructive and "3 now" in plan.changes[0] and "-n 3 FLUSHDB" in plan.cli
    executed = provider.execute(plan, Report())
    assert "3 keys" in executed.summary
    assert provider.verify(plan, executed, Report()).summary.endswith("none left")
    with redis.client(3) as client:
        assert client.command("DBSIZE") == 0
    with redis.client(4) as client:
        assert client.command("DBSIZE") == 1


def test_delete_by_pattern_scans_in_batches(redis: redis_server.RedisServer) -> None:
    keys = [f"cache:{n}" for n in range(1200)] + ["session:1", "session:2"]
    fill(redis, 5, keys)
    provider = redis_clearer(redis, batch_size=100)
    plan = provider.preflight("redis_delete", {"db": 5, "pattern": "cache:*"})
    assert not plan.destructive and "--scan --pattern 'cache:*'" in plan.cli
    assert "of 1202 keys match now" in plan.changes[0]
    report = Report()
    executed = provider.execute(plan, report)
    assert executed.data["removed"] == 1200
    assert sum("so far" in line for line in report.transcript) > 1  # more than one batch
    assert provider.verify(plan, executed, Report()).ok
    with redis.client(5) as client:
        assert sorted(client.command("KEYS", "*")) == [b"session:1", b"session:2"]


def test_a_wrong_password_and_a_closed_port_are_named(redis: redis_server.RedisServer) -> None:
    wrong = redis_clearer(redis, redis_password="not-the-password")
    with pytest.raises(RedisError) as raised:
        wrong.health()
    assert "not-the-password" not in str(raised.value)
    closed = redis_clearer(redis, redis_port=1)
    with pytest.raises(ProviderError, match="connection refused"):
        closed.health()


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        provider = CacheClearProvider(CacheClearOptions(redis_port=port, redis_timeout_seconds=0.3))
        with pytest.raises(ProviderTimeout, match=r"no answer to PING within 0.3 s"):
            provider.health()
