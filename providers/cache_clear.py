"""Cache clears as the runbooks do them: a command (`npm run cache:clear`) or Redis.

`command` runs one argv list through the verification provider's command runner: no shell (a
line is split as a shell would split words, and never given to one), no terminal, the
configured timeout, its whole process group killed on timeout or cancel, every output line
scrubbed, shown as it comes and kept in the transcript. A non-zero exit fails the clear with
the output's last line.

`redis_flushdb` empties one numbered database; it is destructive (a wrong number empties
sessions or a queue, not a cache), so the plan names the database, says how many keys it holds
now, and asks for its name typed back. `redis_delete` removes the keys matching a pattern in
batches: SCAN with MATCH and COUNT, then DEL of each batch, never KEYS (which blocks the server
while it walks every key). The plan previews how many keys match (from a bounded SCAN) and a few
of their names. Verify counts again: zero left, or how many came back while it ran (a live cache
refills at once, so that is said, not failed).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from cockpit.core.actions import Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError
from cockpit.core.redact import scrub
from providers.api import Secret
from providers.base import ActionProvider, Capability, Param, Params, ProviderOptions
from providers.redis_resp import Redis
from providers.verification import VerificationOptions, VerificationProvider

PREVIEW_SCANS = 20
"""SCAN calls a plan's preview makes at most: a count of matches, not a walk of a huge db."""
SHOWN_KEYS = 5

NAME = {"name": Param("the target shown in the plan")}
ACTION_PARAMS: dict[str, Params] = {
    "command": {
        "command": Param(
            "the clear's argv list, or a line split into words (no shell)", required=True
        ),
        "expect_exit": Param("the exit code that passes (default: 0)"),
    }
    | NAME,
    "redis_flushdb": {"db": Param("the database number to empty", required=True)} | NAME,
    "redis_delete": {
        "pattern": Param("the keys to delete, a SCAN MATCH pattern (cache:*)", required=True),
        "db": Param("the database number (default: 0)"),
    }
    | NAME,
}


class CacheClearOptions(ProviderOptions):
    """How long a clear may take, where the command runs, where Redis is."""

    timeout_seconds: float = Field(default=120.0, gt=0, allow_inf_nan=False)
    """For the command as a whole."""
    working_dir: Path | None = None
    environment: dict[str, str | Secret] = Field(default_factory=dict)
    """Added to the command's environment; { env = NAME } or { file = PATH } values are secret."""
    max_output_lines: int = Field(default=200, ge=1)
    redis_host: str = "127.0.0.1"
    redis_port: int | None = Field(default=None, ge=1, le=65535)
    """Unset: no Redis configured, and its actions are refused."""
    redis_password: Secret | None = None
    redis_timeout_seconds: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    """For connecting and for each command's answer."""
    batch_size: int = Field(default=500, ge=1, le=10_000)
    """SCAN's COUNT hint and the most keys one DEL removes."""


class CacheClearProvider(ActionProvider):
    """Clear a cache with a command, or Redis with FLUSHDB or pattern deletion."""

    name = "cache_clear"
    title = "Cache clear (command or Redis)"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = CacheClearOptions
    actions: ClassVar[dict[str, str]] = {
        "command": "run the cache's clear command (argv, no shell); passes on expect_exit (0)",
        "redis_flushdb": "empty one Redis database (FLUSHDB)",
        "redis_delete": "delete the Redis keys matching a pattern (SCAN + DEL in batches)",
    }
    action_params: ClassVar[dict[str, Params]] = ACTION_PARAMS

    def __init__(self, options: CacheClearOptions) -> None:
        super().__init__(options)
        self.opts = options
        runner = VerificationOptions(
            timeout_seconds=options.timeout_seconds,
            working_dir=options.working_dir,
            environment=dict(options.environment),
            max_output_lines=options.max_output_lines,
        )
        self.runner = VerificationProvider(runner)

    def close(self) -> None:
        self.runner.close()

    def health(self) -> str:
        if self.opts.working_dir and not self.opts.working_dir.is_dir():
            raise ProviderError(f"working_dir {self.opts.working_dir} is not a directory")
        if self.opts.redis_port is None:
            return "ready to run clear commands; no Redis configured"
        with self._redis() as redis:
            redis.command("PING")
        return f"ready; {self._where()} answers PING"

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        if action == "command":
            return self._plan_command(params)
        db = _int(params.get("db", 0), "db")
        with self._redis() as redis:
            redis.command("SELECT", db)
            size = int(redis.command("DBSIZE"))
            if action == "redis_flushdb":
                return self._plan_flush(params, db, size)
            pattern = str(params.get("pattern") or "")
            if not pattern:
                raise ProviderError("redis_delete needs pattern: the keys to delete (cache:*)")
            found, complete = self._preview(redis, pattern)
        return self._plan_delete(params, db, size, pattern, found, complete)

    def execute(self, plan: Plan, report: Report) -> Executed:
        if plan.action == "command":
            return self._run(plan, report)
        db = int(plan.data["db"])
        with self._redis() as redis:
            redis.command("SELECT", db)
            if plan.action == "redis_flushdb":
                before = int(redis.command("DBSIZE"))
                report.log(f"FLUSHDB on {self._where()}/{db} ({before} keys)")
                redis.command("FLUSHDB")
                return Executed(f"database {db} emptied ({before} keys)", {"removed": before})
            removed = self._delete(redis, plan.data["pattern"], report)
        summary = f"{removed} key(s) matching {plan.data['pattern']!r} deleted from db {db}"
        return Executed(summary, {"removed": removed})

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        if plan.action == "command":
            return Verified(True, executed.summary)
        db = int(plan.data["db"])
        with self._redis() as redis:
            redis.command("SELECT", db)
            if plan.action == "redis_flushdb":
                left = int(redis.command("DBSIZE"))
            else:
                left = len(self._scan(redis, plan.data["pattern"], None)[0])
        if left == 0:
            return Verified(True, f"{executed.summary}; none left")
        return Verified(True, f"{executed.summary}; {left} written again since (it refills)")

    # -- command ----------------------------------------------------------------------------

    def _plan_command(self, params: Mapping[str, Any]) -> Plan:
        argv = _argv(params.get("command"))
        expect = _int(params.get("expect_exit", 0), "expect_exit")
        line = shlex.join(argv)
        where = self.opts.working_dir
        return Plan(
            provider=self.name,
            action="command",
            target=str(params.get("name") or line),
            title=f"Clear the cache: {scrub(line)}",
            calls=[Call("run", scrub(line))],
            changes=["the cache the command clears is emptied (hit rate drops, then refills)"],
            cli=scrub(f"cd {shlex.quote(str(where))} && {line}" if where else line),
            destructive=False,  # nothing is lost: a cache refills
            cancellable=True,
            timeout_seconds=self.opts.timeout_seconds + 10,
            verify=f"exit code {expect} within {self.opts.timeout_seconds:g} s",
            data={"argv": argv, "expect_exit": expect},
            warnings=self.runner._findable(argv, refuse=False),
        )

    def _run(self, plan: Plan, report: Report) -> Executed:
        argv, expect = plan.data["argv"], plan.data["expect_exit"]
        line, code, output = self.runner.run_command(argv, report)
        last = next((text for text in reversed(output) if text.strip()), "no output")
        if code is None:
            raise ProviderError(
                f"{line}: no end within {self.opts.timeout_seconds:g} s (timeout_seconds); "
                f"stopped it and its children; last output: {last}"
            )
        if code != expect:
            raise ProviderError(f"{line}: exit {code}, expected {expect}; last output: {last}")
        return Executed(f"{line}: exit {code}; {last}", {"exit": code, "output": output})

    # -- Redis ------------------------------------------------------------------------------

    def _where(self) -> str:
        return f"redis://{self.opts.redis_host}:{self.opts.redis_port}"

    def _redis(self) -> Redis:
        if self.opts.redis_port is None:
            raise ProviderError("no Redis configured: set redis_port (and redis_host)")
        password = self.opts.redis_password
        return Redis(
            self.opts.redis_host,
            self.opts.redis_port,
            timeout=self.opts.redis_timeout_seconds,
            password=None if password is None else password.get_secret_value(),
        )

    def _plan_flush(self, params: Mapping[str, Any], db: int, size: int) -> Plan:
        target = str(params.get("name") or f"{self._where()}/{db}")
        return Plan(
            provider=self.name,
            action="redis_flushdb",
            target=target,
            title=f"FLUSHDB {self._where()}/{db}",
            calls=[Call("SELECT", str(db)), Call("FLUSHDB", f"{self._where()}/{db}")],
            changes=[f"every key of database {db} is removed: {size} now"],
            cli=f"redis-cli -h {self.opts.redis_host} -p {self.opts.redis_port} -n {db} FLUSHDB"
            + (' # with -a "$REDIS_PASSWORD"' if self.opts.redis_password else ""),
            destructive=True,
            timeout_seconds=self.opts.redis_timeout_seconds * 4 + 10,
            verify="DBSIZE afterwards (a live cache may refill at once)",
            data={"db": db},
        )

    def _plan_delete(
        self,
        params: Mapping[str, Any],
        db: int,
        size: int,
        pattern: str,
        found: list[str],
        complete: bool,
    ) -> Plan:
        count = f"{len(found)}" if complete else f"at least {len(found)}"
        shown = ", ".join(scrub(key) for key in found[:SHOWN_KEYS]) or "none"
        host, port = self.opts.redis_host, self.opts.redis_port
        return Plan(
            provider=self.name,
            action="redis_delete",
            target=str(params.get("name") or f"{self._where()}/{db} {pattern}"),
            title=f"Delete {pattern!r} from {self._where()}/{db}",
            calls=[
                Call("SCAN", f"0 MATCH {pattern} COUNT {self.opts.batch_size}"),
                Call("DEL", f"each batch of up to {self.opts.batch_size} keys"),
            ],
            changes=[f"{count} of {size} keys match now (e.g. {shown}); they are deleted"],
            cli=(
                f"redis-cli -h {host} -p {port} -n {db} --scan --pattern {shlex.quote(pattern)}"
                f" | xargs -r -n {self.opts.batch_size} redis-cli -h {host} -p {port} -n {db} DEL"
            ),
            destructive=False,  # nothing is lost: a cache refills
            cancellable=True,
            timeout_seconds=max(60.0, size / self.opts.batch_size * 2) + 10,
            verify="a SCAN afterwards: no key left matching (or how many came back)",
            data={"db": db, "pattern": pattern},
        )

    def _preview(self, redis: Redis, pattern: str) -> tuple[list[str], bool]:
        return self._scan(redis, pattern, PREVIEW_SCANS)

    def _scan(self, redis: Redis, pattern: str, calls: int | None) -> tuple[list[str], bool]:
        """The matching keys (names), and whether the walk was complete."""
        cursor, found, made = b"0", [], 0
        while True:
            cursor, keys = redis.command(
                "SCAN", cursor, "MATCH", pattern, "COUNT", self.opts.batch_size
            )
            found += [key.decode("utf-8", "replace") for key in keys]
            made += 1
            if cursor == b"0":
                return found, True
            if calls is not None and made >= calls:
                return found, False

    def _delete(self, redis: Redis, pattern: str, report: Report) -> int:
        """SCAN + DEL in batches; each batch deleted as it is found (the cursor stays valid)."""
        cursor, removed = b"0", 0
        while True:
            report.check()
            cursor, keys = redis.command(
                "SCAN", cursor, "MATCH", pattern, "COUNT", self.opts.batch_size
            )
            for start in range(0, len(keys), self.opts.batch_size):
                removed += int(redis.command("DEL", *keys[start : start + self.opts.batch_size]))
            if keys:
                report.log(f"deleted {removed} key(s) so far")
            if cursor == b"0":
                return removed


def _argv(value: Any) -> list[str]:
    if isinstance(value, str) and value.strip():
        try:
            return shlex.split(value)
        except ValueError as error:
            raise ProviderError(f"command: {error}") from None
    if isinstance(value, list) and value and all(isinstance(part, str) for part in value):
        return list(value)
    raise ProviderError("command needs the clear's argv list, or a line (npm run cache:clear)")


def _int(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise ProviderError(f"{key} must be a whole number, not {value!r}")
    try:
        number = int(str(value))
    except ValueError:
        raise ProviderError(f"{key} must be a whole number, not {value!r}") from None
    if number < 0:
        raise ProviderError(f"{key} must be 0 or more, not {number}")
    return number
