"""Check that a rollback took and keep the proof: health checks, smoke tests, saved evidence.

The runbooks end with `curl https://api.example.com/health`, `npm run test:smoke` and
`docker compose logs web > rollback-logs-$(date +%s).txt`, run by hand, their proof left in a
scrollback. Run from the cockpit, the check and its outcome are in the timeline, and the evidence
is saved as the incident's attachments (owner-only files whose sha256 the timeline keeps, so a
later edit shows). Nothing here changes the service, so no action asks for a typed name.

Command output may hold secrets: every line is scrubbed before it is logged, kept or written,
and the values of secret `environment` entries are cut out too. Commands run as git's do in
providers.git, through providers.subprocesses: no terminal, no stdin, a timeout, a session of
their own killed as a group (on timeout and on cancel).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import httpx
from pydantic import Field, SecretStr, model_validator

from cockpit.core.actions import Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError, ProviderTimeout
from cockpit.core.paths import data_dir, ensure_private_dir, write_atomically
from cockpit.core.redact import REDACTED, is_secret_key, register_secret, scrub
from providers.api import Secret
from providers.base import ActionProvider, Capability, Param, Params, ProviderOptions
from providers.http import http_failure_reason, make_client
from providers.http_read import Deadline, MiB, read
from providers.params import number_param
from providers.subprocesses import NotRunnable, Output, Process

COMMON_PARAMS: Params = {
    "name": Param("the target shown in the plan"),
    "incident": Param("the incident's id (the cockpit passes it to checklist runs)"),
}
"""Every action takes `name` (the target shown); the App passes `incident` to every action."""
ACTION_PARAMS: dict[str, Params] = {
    "health_check": {
        "url": Param("http(s)://host/path to GET", required=True),
        "expect_status": Param("the statuses that pass, e.g. 2xx or [200, 204] (default: 2xx)"),
        "contains": Param("text the body must contain"),
        "attempts": Param("how many GETs before it fails (default: 5)"),
        "interval_seconds": Param("seconds between attempts (default: 2)"),
    }
    | COMMON_PARAMS,
    "smoke_test": {
        "command": Param("a shell line or an argv list", required=True),
        "expect_exit": Param("the exit code that passes (default: 0)"),
    }
    | COMMON_PARAMS,
    "capture_evidence": {
        "commands": Param("{name: command, ...} or [command, ...]", required=True),
        "label": Param("the evidence folder's name (default: evidence)"),
    }
    | COMMON_PARAMS,
}
PARAMS = {action: set(params) for action, params in ACTION_PARAMS.items()}
COMMON = set(COMMON_PARAMS)
QUIET = {"GIT_TERMINAL_PROMPT": "0", "PAGER": "cat", "NO_COLOR": "1", "TERM": "dumb"}
"""No prompt, pager or colour codes: nobody is at a terminal, and the output is kept."""
EVIDENCE_LIVE = 5
"""An evidence command's first lines shown in the live log; the rest is in its file."""
EVIDENCE_LINES = 50_000
"""Lines kept per evidence file (the first and last halves past that)."""
SHELL_WORDS = {"if", "for", "while", "until", "case", "cd", "exec", "eval", "export", "set", "."}


class VerificationOptions(ProviderOptions):
    """Where evidence goes, how long a command or request may take, what the commands see."""

    attachments_dir: Path | None = None
    """Default: `attachments` in the cockpit's data directory."""
    timeout_seconds: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    """For each command or request (the whole answer), not the whole action."""
    max_body_bytes: int = Field(default=1 * MiB, gt=0)
    """A health check's answer is read up to this much (for `contains`); larger fails it."""
    max_output_lines: int = Field(default=200, ge=1)
    """A smoke test's output lines kept in the transcript (the first and last halves past it)."""
    environment: dict[str, str | Secret] = Field(default_factory=dict)
    """Added to the commands' environment; {env = NAME} or {file = PATH} values are secret."""
    working_dir: Path | None = None

    @model_validator(mode="after")
    def _remember_secrets(self) -> Self:
        # A plain value under a secret-looking name (API_TOKEN = "...") is a secret too.
        for name, value in self.environment.items():
            if isinstance(value, str) and is_secret_key(name):
                register_secret(value)
        return self


class Kept(Output):
    """A command's output as kept: scrubbed lines, the first and last ones past `keep`; the
    first `live` ones are logged as they come."""

    def __init__(self, keep: int, clean: Callable[[str], str], live: int, report: Report) -> None:
        super().__init__(keep)
        self.clean, self.live, self.report, self.in_key = clean, live, report, False

    def add(self, raw: str) -> str:
        line = super().add(raw)
        if self.total <= self.live:
            self.report.log(f"  {line}")
        return line

    def shape(self, line: str) -> str:
        """Cut and scrubbed; a private key block's lines are all dropped."""
        line = line[:2000]
        if "-----BEGIN" in line and "PRIVATE KEY-----" in line:
            line, self.in_key = REDACTED, "-----END" not in line.split("-----BEGIN", 1)[1]
        elif self.in_key:
            line, self.in_key = REDACTED, "-----END" not in line
        else:
            line = self.clean(line)
        return line


class VerificationProvider(ActionProvider):
    """Health checks, smoke tests and evidence capture; nothing here changes the service."""

    name = "verification"
    title = "Verification (health, smoke tests, evidence)"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = VerificationOptions
    actions: ClassVar[dict[str, str]] = {
        "health_check": "GET url until it answers expect_status (2xx), with contains in the body",
        "smoke_test": "run command (a shell line or an argv list); passes on expect_exit (0)",
        "capture_evidence": "save each of commands' output as the incident's attachments",
    }
    action_params: ClassVar[dict[str, Params]] = ACTION_PARAMS

    def __init__(
        self, options: VerificationOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(options)
        self.opts = options
        self.attachments = options.attachments_dir or data_dir() / "attachments"
        self.env = {**QUIET, **{k: _plain(v) for k, v in options.environment.items()}}
        hidden = [_plain(v) for k, v in options.environment.items() if _is_secret(k, v)]
        self.secrets = sorted((s for s in hidden if len(s) >= 4), key=len, reverse=True)
        self.client = make_client(options.timeout_seconds, transport)

    def close(self) -> None:
        self.client.close()

    def health(self) -> str:
        try:
            with tempfile.TemporaryFile(dir=ensure_private_dir(self.attachments)):
                pass
        except OSError as error:
            raise ProviderError(f"cannot save evidence in {self.attachments}: {error}") from None
        self._check_working_dir()
        return f"ready; evidence goes to {self.attachments}"

    def choices(self, action: str, param: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        if param == "label":
            return [("before-rollback", "before the rollback"), ("after-rollback", "after it")]
        return []

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        self._check_working_dir()
        build = {"health_check": self._plan_health, "smoke_test": self._plan_smoke}
        plan = build.get(action, self._plan_evidence)(params)
        ignored = sorted(set(params) - PARAMS[action] - COMMON)
        if ignored:
            plan.warnings.append(f"ignored (not a {action} parameter): {', '.join(ignored)}")
        plan.target = str(params.get("name") or plan.target)
        return plan

    def execute(self, plan: Plan, report: Report) -> Executed:
        if plan.action == "health_check":
            return self._health_check(plan, report)
        if plan.action == "smoke_test":
            return self._smoke_test(plan, report)
        return self._capture(plan, report)

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        if plan.action != "capture_evidence":
            return Verified(bool(executed.data["passed"]), executed.summary)
        files = executed.data["files"]
        wrong = [f["path"] for f in files if _sha256(Path(f["path"])) != f["sha256"]]
        if wrong:
            return Verified(False, f"missing or changed since saved: {', '.join(wrong)}")
        return Verified(True, f"{executed.summary}; each file matches its sha256")

    def _plan_health(self, params: Mapping[str, Any]) -> Plan:
        url = str(params.get("url") or "")
        where = urlsplit(url)
        if where.scheme not in ("http", "https") or not where.hostname:
            raise ProviderError(f"health_check needs url: http(s)://host/path, not {scrub(url)!r}")
        statuses = _statuses(params.get("expect_status", "2xx"))
        attempts = int(number_param(params, "attempts", 5, 1))
        interval = number_param(params, "interval_seconds", 2.0, 0)
        contains = str(params.get("contains") or "")
        shown, limit = scrub(url), self.opts.timeout_seconds
        wants = "/".join(statuses) + (f" with {contains!r} in the body" if contains else "")
        return Plan(
            provider=self.name,
            action="health_check",
            target=f"{where.hostname}{where.path}",
            title=f"Health check {shown}",
            calls=[Call("GET", shown)],
            changes=["none: reads only"],
            cli=f"curl -sS --max-time {limit:g} -w '\\n%{{http_code}}\\n' {shlex.quote(shown)}",
            destructive=False,
            cancellable=True,
            timeout_seconds=attempts * (limit + interval) + 10,
            verify=f"an answer {wants}, within {attempts} attempt(s) {interval:g} s apart",
            data={"url": url, "statuses": statuses, "contains": contains, "attempts": attempts}
            | {"interval": interval},
        )

    def _health_check(self, plan: Plan, report: Report) -> Executed:
        url, statuses, contains = plan.data["url"], plan.data["statuses"], plan.data["contains"]
        attempts, reason = plan.data["attempts"], "not tried"
        for attempt in range(1, attempts + 1):
            report.check()
            started = time.monotonic()
            try:
                answer = read(
                    self.client,
                    "GET",
                    url,
                    deadline=Deadline(self.opts.timeout_seconds),
                    max_bytes=self.opts.max_body_bytes,
                )
            except httpx.HTTPError as error:
                reason = scrub(http_failure_reason(error, self.opts.timeout_seconds))
                passed = False
            else:
                reason = scrub(f"{answer.status_code} {answer.reason_phrase}".strip())
                passed = _matches(answer.status_code, statuses)
                if passed and contains and contains not in answer.text:
                    reason, passed = f"{reason}, but the body lacks {contains!r}", False
            took = (time.monotonic() - started) * 1000
            report.log(f"attempt {attempt}/{attempts}: {reason} ({took:.0f} ms)")
            if passed:
                done = {"passed": True, "attempts": attempt, "last": reason}
                return Executed(f"{plan.title}: {reason} at attempt {attempt}", done)
            if attempt < attempts:
                report.sleep(plan.data["interval"])
        failed = {"passed": False, "attempts": attempts, "last": reason}
        return Executed(f"{plan.title}: failed {attempts} attempt(s); last: {reason}", failed)

    def _plan_smoke(self, params: Mapping[str, Any]) -> Plan:
        command = _command(params.get("command"), "smoke_test needs command: a line or a list")
        expect = int(number_param(params, "expect_exit", 0, 0))
        line = self._line(command)
        return Plan(
            provider=self.name,
            action="smoke_test",
            target=line if len(line) <= 40 else f"{line[:39]}…",
            title=f"Smoke test: {line}",
            calls=[Call("run", line)],
            changes=["none, unless the command itself changes something"],
            cli=self._cd(line),
            destructive=False,
            cancellable=True,
            timeout_seconds=self.opts.timeout_seconds + 10,
            verify=f"exit code {expect} within {self.opts.timeout_seconds:g} s",
            data={"command": command, "expect_exit": expect},
            warnings=self._findable(command, refuse=isinstance(command, list)),
        )

    def _smoke_test(self, plan: Plan, report: Report) -> Executed:
        command, expect = plan.data["command"], plan.data["expect_exit"]
        keep = self.opts.max_output_lines
        line, code, output, seconds = self._run(command, report, keep, keep - keep // 2)
        for text in output.lines()[len(output.head) :]:  # the first lines were logged live
            report.log(f"  {text}")
        last = next((text for text in reversed(output.lines()) if text.strip()), "no output")
        if code is None:
            raise ProviderTimeout(
                f"no answer from {line} within its {self.opts.timeout_seconds:g} s timeout "
                f"(timeout_seconds); stopped it and its children; last output: {last}"
            )
        if code == 127 and expect != 127 and isinstance(command, str):
            raise NotRunnable(f"cannot run {line}: command not found (exit 127): {last}")
        passed = code == expect
        said = f"{line}: exit {code}{'' if passed else f', expected {expect}'}"
        data = {"passed": passed, "exit": code, "output": output.lines(), "lines": output.total}
        return Executed(f"{said} after {seconds:.1f} s; last output: {last}", data)

    def _plan_evidence(self, params: Mapping[str, Any]) -> Plan:
        raw, need = params.get("commands"), "capture_evidence needs commands: {name: command}"
        if isinstance(raw, Mapping):
            named = [
                (_slug(str(k)), _command(v, f"commands.{k}: a line or a list"))
                for k, v in raw.items()
            ]
        elif isinstance(raw, list) and raw:
            named = [(_slug(self._line(_command(c, need))), _command(c, need)) for c in raw]
        else:
            raise ProviderError(f"{need} or [command, ...]")
        commands: dict[str, str | list[str]] = {}
        for name, command in named:
            n = 1
            while (unique := name if n == 1 else f"{name}-{n}") in commands:
                n += 1
            commands[unique] = command
        label = _slug(str(params.get("label") or "evidence"))
        folder = self.attachments / f"incident-{_slug(str(params.get('incident') or 'unknown'))}"
        lines = {name: self._line(command) for name, command in commands.items()}
        saves = [
            f"({line}) > {shlex.quote(f'{folder / label / name}.txt')} 2>&1"
            for name, line in lines.items()
        ]
        return Plan(
            provider=self.name,
            action="capture_evidence",
            target=label,
            title=f"Capture evidence ({label}): {', '.join(commands)}",
            calls=[Call("run", line) for line in lines.values()],
            changes=[f"new file {folder / label / name}.txt, owner-only" for name in commands]
            + [f"(in {label}-2, -3… if {folder / label} exists)"],
            cli=self._cd(f"mkdir -p {shlex.quote(str(folder / label))}; " + "; ".join(saves)),
            destructive=False,
            cancellable=True,
            timeout_seconds=len(commands) * (self.opts.timeout_seconds + 5) + 10,
            verify="each file is there with the sha256 taken when it was saved",
            data={"commands": commands, "folder": str(folder / label)},
            warnings=[w for command in commands.values() for w in self._findable(command, False)],
        )

    def _capture(self, plan: Plan, report: Report) -> Executed:
        folder = _claim(Path(plan.data["folder"]))
        files: list[dict[str, Any]] = []
        failed: list[str] = []
        for name, command in plan.data["commands"].items():
            report.check()
            try:
                line, code, output, seconds = self._run(
                    command, report, EVIDENCE_LINES, EVIDENCE_LIVE
                )
                status = "timed out" if code is None else f"exit {code}"
                text = f"$ {line}\n# {status} after {seconds:.1f} s"
                body = "\n".join(output.lines())
            except NotRunnable as error:
                code, status, body = None, "not run", str(error)
                text = f"$ {self._line(command)}\n# not run"
            if code != 0:
                failed.append(f"{name} ({status})")
            when = datetime.now(UTC).isoformat(timespec="seconds")
            kept = self._clean(f"{text}, at {when}\n{body}\n")
            path = write_atomically(folder / f"{name}.txt", kept, private=True)
            size, digest = path.stat().st_size, _sha256(path)
            files.append(
                {"name": name, "path": str(path), "bytes": size, "sha256": digest, "exit": code}
            )
            report.log(f"  saved {path} ({status}, {size} bytes, sha256 {digest[:12]}…)")
        note = f"; failed, saved anyway: {', '.join(failed)}" if failed else ""
        summary = f"saved {len(files)} file(s) in {folder}{note}"
        return Executed(summary, {"folder": str(folder), "files": files, "failed": failed})

    def run_command(self, argv: list[str], report: Report) -> tuple[str, int | None, list[str]]:
        """Run one argv list (no shell) as a smoke test runs: the line shown, the exit code
        (None past the timeout, the group killed), the output lines kept (scrubbed)."""
        keep = self.opts.max_output_lines
        line, code, output, _ = self._run(argv, report, keep, keep - keep // 2)
        return line, code, output.lines()

    def _run(
        self, command: str | list[str], report: Report, keep: int, live: int
    ) -> tuple[str, int | None, Kept, float]:
        """Run a command with the timeout, stderr into stdout, read as it comes. The line shown,
        the exit code (None when it ran past the timeout), the output kept, the seconds taken.

        Its whole session is killed on timeout, on cancel, and when children it left behind
        still hold its output open after it exited (providers.subprocesses).
        """
        line = self._line(command)
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else command
        report.log(f"$ {line}")
        output = Kept(keep, self._clean, live, report)
        with Process(
            argv,
            line,
            cwd=self.opts.working_dir,
            env={**os.environ, **self.env},
            merge_stderr=True,
            stdout=output,
        ) as process:
            code = process.wait(self.opts.timeout_seconds, report)
        if process.left_behind:
            report.log("  it exited, but left processes holding its output: stopped")
        return line, code, output, process.seconds

    def _line(self, command: str | list[str]) -> str:
        return self._clean(command if isinstance(command, str) else shlex.join(command))

    def _clean(self, text: str) -> str:
        text = scrub(text)
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def _findable(self, command: str | list[str], refuse: bool) -> list[str]:
        """Whether the program is there: refused (a smoke test's argv list) or a warning."""
        word = command[0] if isinstance(command, list) else (command.split() or [""])[0]
        if isinstance(command, str) and (
            word in SHELL_WORDS or not re.fullmatch(r"[\w.+-]+", word)
        ):
            return []  # a keyword, builtin, path, variable or assignment: the shell will say
        if "/" in word:  # run from working_dir, not from where the cockpit started
            found = (self.opts.working_dir or Path.cwd()).joinpath(word).is_file()
        else:
            found = bool(shutil.which(word, path=self.env.get("PATH", os.environ.get("PATH"))))
        if found:
            return []
        if refuse:
            raise NotRunnable(f"cannot run {self._line(command)}: {word} not found")
        return [f"{self._clean(word)} is not found here; {self._line(command)} may fail"]

    def _check_working_dir(self) -> None:
        if self.opts.working_dir and not self.opts.working_dir.is_dir():
            raise ProviderError(f"working_dir {self.opts.working_dir} is not a directory")

    def _cd(self, line: str) -> str:
        where = self.opts.working_dir
        return f"cd {shlex.quote(str(where))} && {line}" if where else line


def _plain(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _is_secret(name: str, value: str | SecretStr) -> bool:
    return isinstance(value, SecretStr) or is_secret_key(name)


def _command(value: Any, need: str) -> str | list[str]:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list) and value and all(isinstance(part, str) for part in value):
        return list(value)
    raise ProviderError(need)


def _statuses(value: Any) -> list[str]:
    wanted = [str(item).strip().lower() for item in (value if isinstance(value, list) else [value])]
    for item in wanted:
        if not re.fullmatch(r"[1-5](\d\d|xx)", item):
            raise ProviderError(f"expect_status: {item!r} is not a status (200) or class (2xx)")
    return wanted


def _matches(status: int, wanted: list[str]) -> bool:
    return any(item in (str(status), f"{str(status)[0]}xx") for item in wanted)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:48].strip("-.") or "output"


def _claim(folder: Path) -> Path:
    """A new owner-only folder for this capture: `folder`, or the first free `folder-2`, …"""
    ensure_private_dir(folder.parent)
    for n in range(1, 1000):
        candidate = folder if n == 1 else folder.with_name(f"{folder.name}-{n}")
        with contextlib.suppress(FileExistsError):
            candidate.mkdir(mode=0o700)
            return candidate
    raise ProviderError(f"no free folder for the evidence next to {folder}")


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"
