"""A generic HTTP action: a team's own deploy API as a rollback option, without code.

A procedure's option names the request; cockpit.toml names where it goes and the credentials:

    - id: deploy-api
      provider: http_action
      action: request
      params:
        method: POST
        path: /api/deploy/rollback
        body: '{"to": "previous"}'
        headers: ["X-Hook-Key: ${HOOK_KEY}"]
        expect_status: "200 202"
        expect_text: rolled back
        verify_path: /health
        verify_expect_text: v1.2.3
        undo_path: /api/deploy/rollforward
        destructive: true

Every request goes to the configured `base_url` (a path, never a URL, comes from the
procedure), so a procedure file cannot send the configured credentials anywhere else.

Preflight reads only: a GET of `probe_path` proves the API answers and takes the token (401 and
403 are errors; any other answer is reachable), and an answer that says it is JSON and is not
is an error (a proxy's page where the API should be). Execute sends the request once; a 429, or
a 503 with Retry-After, is waited out while the wait is at most `max_wait_seconds` and the
action's deadline allows (the request was not served), up to `max_retries` times. An unexpected
status fails with the body's first line; an expected text missing fails by name. Verify is the
optional second request (`verify_path`, retried `verify_attempts` times); without one the
request's own answer is the proof. The undo (`undo_path`) is offered as the plan's undo.

Text from the API is cut to one printable line, and every configured secret value is removed
from it literally, before it reaches an error, the transcript or the timeline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import ConfigDict, Field, SecretStr, field_validator

from cockpit.core.actions import Call, Executed, Plan, Report, Verified
from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable, printable
from cockpit.core.redact import REDACTED, scrub
from providers.base import ActionProvider, Capability, Param, Params, ProviderOptions
from providers.http import http_failure_reason, make_client
from providers.http_read import Deadline, MiB, read, retry_after_seconds
from providers.http_request import (
    REFERENCE,
    TOKEN_NAME,
    NamedSecret,
    Request,
    Secrets,
    curl_line,
    masked_body,
    parse_request,
    read_secret,
)
from providers.params import number_param
from providers.webhook import check_url


class HttpActionOptions(ProviderOptions):
    """Where the API is, its credentials, and how long to wait for it."""

    model_config = ConfigDict(hide_input_in_errors=True, arbitrary_types_allowed=True)
    base_url: str
    token: NamedSecret | None = None
    """`Authorization: Bearer …` on every request; { env = NAME } or { file = PATH }."""
    secrets: dict[str, NamedSecret] = Field(default_factory=dict)
    """Named secrets for `${NAME}` in headers and bodies; { env = NAME } or { file = PATH }."""
    probe_path: str = "/"
    """What preflight and health GET to see that the API answers and takes the token."""
    timeout_seconds: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """For each request as a whole: connecting, the headers and the body."""
    max_retries: int = Field(default=3, ge=0)
    max_wait_seconds: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    """The longest Retry-After waited; a longer one fails at once, saying when to retry."""
    max_body_bytes: int = Field(default=1 * MiB, gt=0)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        check_url(value)
        return value.rstrip("/")

    @field_validator("token", mode="before")
    @classmethod
    def _token(cls, value: Any) -> Any:
        return None if value is None else read_secret(value, "HTTP_ACTION_TOKEN")

    @field_validator("secrets", mode="before")
    @classmethod
    def _secrets(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValueError("secrets is a table of NAME = { env = VARIABLE }")
        for name in value:
            if not REFERENCE.fullmatch(f"${{{name}}}") or name == TOKEN_NAME:
                raise ValueError(f"secret name {name!r}: letters, digits and _, not TOKEN")
        return {name: read_secret(raw, name) for name, raw in value.items()}

    @property
    def named(self) -> dict[str, NamedSecret]:
        """The secrets by name, the token as TOKEN."""
        token = {} if self.token is None else {TOKEN_NAME: self.token}
        return {**self.secrets, **token}


def _request_params(prefix: str, what: str) -> Params:
    return {
        f"{prefix}path": Param(f"the {what} request's path under base_url (/…)"),
        f"{prefix}method": Param(f"the {what} request's method"),
        f"{prefix}expect_status": Param(f"statuses the {what} answer may have (default 2xx)"),
        f"{prefix}expect_text": Param(f"text the {what} answer's body must contain"),
    }


REQUEST_PARAMS: Params = (
    {
        "path": Param(
            "the request's path under base_url, e.g. /api/deploy/rollback", required=True
        ),
        "method": Param("GET, POST (default), PUT, PATCH or DELETE"),
        "headers": Param('["Name: value", …]; values may use ${SECRET}'),
        "body": Param("the body: a JSON document (default) or text; may use ${SECRET}"),
        "body_type": Param("json (default) or text"),
        "expect_status": Param("the statuses that pass: 200, '200 202', [200, 204], 2xx (default)"),
        "expect_text": Param("text the answer's body must contain"),
        "name": Param("the target shown in the plan and typed to confirm"),
        "destructive": Param("true: a preview and a typed confirmation before it runs"),
        "verify_attempts": Param("how many verification requests before it fails (default 5)"),
        "verify_interval_seconds": Param("seconds between verification requests (default 2)"),
        "undo_body": Param("the undo request's body"),
        "undo_body_type": Param("the undo request's body type"),
    }
    | _request_params("verify_", "verification")
    | _request_params("undo_", "undo")
)


class HttpActionProvider(ActionProvider):
    """Send one configured HTTP request, check its answer, verify with a second one."""

    name = "http_action"
    title = "HTTP request (your own API)"
    capabilities: ClassVar[Capability] = Capability.ROLLBACK
    Options = HttpActionOptions
    actions: ClassVar[dict[str, str]] = {
        "request": "send one request to the configured API and check its status and body"
    }
    action_params: ClassVar[dict[str, Params]] = {"request": REQUEST_PARAMS}

    def __init__(
        self, options: HttpActionOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(options)
        self.opts = options
        self.secrets = Secrets(options.named)
        self.client = make_client(options.timeout_seconds, transport)

    def close(self) -> None:
        self.client.close()

    # -- the contract -----------------------------------------------------------------------

    def health(self) -> str:
        return self._probe()

    def preflight(self, action: str, params: Mapping[str, Any]) -> Plan:
        self.require(action)
        request = parse_request(params, "", self.secrets)
        if request is None:
            raise ProviderError("request needs path: the request's path under base_url (/…)")
        check = parse_request(params, "verify_", self.secrets)
        undo = parse_request(params, "undo_", self.secrets)
        reached = self._probe()
        url = self._url(request.path)
        destructive = _flag(params.get("destructive"))
        auth = self.secrets.named[TOKEN_NAME].shell if TOKEN_NAME in self.secrets.named else None
        attempts = int(number_param(params, "verify_attempts", 5, 1))
        interval = number_param(params, "verify_interval_seconds", 2.0, 0)
        limit = self.opts.timeout_seconds
        shown = self.secrets.masked(url)
        headers = [f"{name}: {self.secrets.masked(value)}" for name, value in request.headers]
        changes = [f"{request.method} {shown} is sent once; it expects {request.wants()}"]
        if headers:
            changes.append(f"headers: {'; '.join(headers)}")
        return Plan(
            provider=self.name,
            action=action,
            target=str(params.get("name") or f"{request.method} {request.path}"),
            title=f"{request.method} {shown}",
            calls=[Call(request.method, shown, masked_body(request, self.secrets))]
            + ([Call(check.method, self.secrets.masked(self._url(check.path)))] if check else []),
            changes=changes,
            cli=curl_line(request, url, self.secrets, limit, auth),
            destructive=destructive,
            cancellable=True,
            timeout_seconds=(self.opts.max_retries + 1) * (limit + self.opts.max_wait_seconds)
            + (attempts * (limit + interval) if check else 0)
            + 10,
            verify=(
                f"{check.method} {self._url(check.path)} answers {check.wants()}, within "
                f"{attempts} attempt(s) {interval:g} s apart"
                if check
                else f"the answer itself: {request.wants()}"
            ),
            undo=self._undo(params, undo),
            data={"request": request.as_data(), "attempts": attempts, "interval": interval}
            | {"verify": check.as_data() if check else None},
            warnings=[reached],
        )

    def execute(self, plan: Plan, report: Report) -> Executed:
        request = Request.from_data(plan.data["request"])
        status, first = self._send(request, "the request", report)
        return Executed(
            f"{request.method} {request.path}: {status} (expected {request.wants()}); {first}",
            {"status": status, "first_line": first},
        )

    def verify(self, plan: Plan, executed: Executed, report: Report) -> Verified:
        data = plan.data.get("verify")
        if data is None:
            return Verified(True, f"the answer was as expected: {executed.summary}")
        check = Request.from_data(data)
        attempts, reason = int(plan.data["attempts"]), "not tried"
        for attempt in range(1, attempts + 1):
            try:
                status, _ = self._send(check, "the verification", report)
            except (ActionError, ProviderUnavailable, ProviderTimeout) as error:
                reason = str(error)
                report.log(f"verification {attempt}/{attempts}: {reason}")
                if attempt < attempts:
                    report.sleep(plan.data["interval"])
                continue
            said = f"{check.method} {check.path}: {status}, as expected ({check.wants()})"
            report.log(f"verification {attempt}/{attempts}: {said}")
            return Verified(True, said)
        return Verified(False, f"verification failed after {attempts} attempt(s): {reason}")

    # -- requests ---------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.opts.base_url}{path}"

    def _undo(self, params: Mapping[str, Any], undo: Request | None) -> dict[str, Any] | None:
        if undo is None:
            return None
        keep = ("headers", "name", "destructive")
        again = {k: params[k] for k in keep if k in params}
        for key in ("path", "method", "body", "body_type", "expect_status", "expect_text"):
            if f"undo_{key}" in params:
                again[key] = params[f"undo_{key}"]
        if "name" in again:
            again["name"] = f"undo {again['name']}"
        return {"action": "request", "params": again}

    def _probe(self) -> str:
        """GET probe_path: any answer but 401/403/5xx (or JSON that is not) means it answers."""
        probe = Request("GET", self.opts.probe_path, (), None, "text", ("1xx",), "")
        response = self._call(probe, f"reach {self.opts.base_url}", None)
        status = response.status_code
        if status in (401, 403):
            raise ActionError(
                f"reach {self.opts.base_url}: credentials refused ({status}): "
                f"{self._first_line(response)}"
            )
        if status >= 500:
            raise ProviderUnavailable(
                f"reach {self.opts.base_url}: server error ({status}): {self._first_line(response)}"
            )
        self._json_or_text(response, f"reach {self.opts.base_url}")
        return f"{self.opts.base_url} answers (GET {self.opts.probe_path} → {status})"

    def _send(self, request: Request, what: str, report: Report) -> tuple[int, str]:
        """Send `request`, waiting out rate limits; its status and first line, or raise."""
        attempts = 0
        while True:
            report.check()
            response = self._call(request, what, report)
            status = response.status_code
            wait = _rate_wait(response)
            if wait is not None and not request.matches(status):
                if attempts < self.opts.max_retries and self._may_wait(wait, report):
                    attempts += 1
                    report.log(f"{what}: rate limited ({status}); retrying in {wait:g} s")
                    report.sleep(wait)
                    continue
                raise ActionError(
                    f"{what}: {request.method} {request.path}: rate limited ({status}); "
                    f"retry after {wait:g} s (waits up to {self.opts.max_wait_seconds:g} s, "
                    f"{self.opts.max_retries} time(s)): {self._first_line(response)}"
                )
            first = self._first_line(response)
            if not request.matches(status):
                raise ActionError(
                    f"{what}: {request.method} {request.path} answered {status}, expected "
                    f"{'/'.join(request.statuses)}: {first}"
                )
            text = self._json_or_text(response, what)
            if request.expect_text and request.expect_text not in text:
                raise ActionError(
                    f"{what}: {request.method} {request.path} answered {status} but the body "
                    f"lacks {request.expect_text!r}: {first}"
                )
            report.log(self._clean(f"{what}: {request.method} {request.path} → {status}"))
            return status, first

    def _may_wait(self, wait: float, report: Report) -> bool:
        if wait > self.opts.max_wait_seconds:
            return False
        return report.remaining is None or wait < report.remaining

    def _call(self, request: Request, what: str, report: Report | None) -> httpx.Response:
        url, limit = self._url(self.secrets.fill(request.path)), self.opts.timeout_seconds
        headers = {name: self.secrets.fill(value) for name, value in request.headers}
        if TOKEN_NAME in self.secrets.named and "authorization" not in map(str.lower, headers):
            headers["Authorization"] = f"Bearer {self.secrets.fill('${' + TOKEN_NAME + '}')}"
        content = None
        if request.body is not None:
            content = self._filled_body(request).encode()
            if request.body_type == "json":
                headers.setdefault("Content-Type", "application/json")
        if report is not None:
            report.log(f"{request.method} {self.secrets.masked(self._url(request.path))}")
        try:
            return read(
                self.client,
                request.method,
                url,
                deadline=Deadline(limit),
                max_bytes=self.opts.max_body_bytes,
                headers=headers,
                content=content,
            )
        except httpx.TimeoutException:
            raise ProviderTimeout(
                self._clean(
                    f"{what}: no complete answer from {self.opts.base_url} within {limit:g} s"
                )
            ) from None
        except httpx.HTTPError as error:
            reason = http_failure_reason(error, limit)
            raise ProviderUnavailable(
                self._clean(f"{what}: {self.opts.base_url}: {reason}")
            ) from None

    def _filled_body(self, request: Request) -> str:
        assert request.body is not None
        if request.body_type != "json":
            return self.secrets.fill(request.body)
        # A value with quotes or backslashes must stay inside its JSON string.
        escaped = Secrets(
            {
                name: NamedSecret(SecretStr(json.dumps(s.value.get_secret_value())[1:-1]), "")
                for name, s in self.secrets.named.items()
            }
        )
        return escaped.fill(request.body)

    def _json_or_text(self, response: httpx.Response, what: str) -> str:
        """The body as text; an answer that says it is JSON must be JSON."""
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        text = response.text
        if response.content and (kind == "application/json" or kind.endswith("+json")):
            try:
                json.loads(text)
            except (ValueError, RecursionError):
                raise ActionError(
                    self._clean(
                        f"{what}: the answer from {self.opts.base_url} is not valid JSON "
                        f"(status {response.status_code}, {len(response.content)} bytes)"
                    )
                ) from None
        return text

    def _first_line(self, response: httpx.Response) -> str:
        """The body's first non-blank line, secrets out, one printable line (else the reason)."""
        # Cleaned before it is cut short, so no cut can leave part of a secret behind.
        text = self._clean(response.text)
        line = next((part.strip() for part in text.splitlines() if part.strip()), "")
        return printable(line or response.reason_phrase or "no body")[:300]

    def _clean(self, text: str) -> str:
        for value in self.secrets.values():
            text = text.replace(value, REDACTED)
        return scrub(text)


class ActionError(ProviderError):
    """The API answered, but not as the request expects (status, body, rate limit)."""


def _rate_wait(response: httpx.Response) -> float | None:
    """Seconds a 429 (or a 503 with Retry-After) asks to wait; None when it is no rate limit."""
    header = response.headers.get("retry-after")
    if response.status_code == 429:
        wait = retry_after_seconds(header)
        return 1.0 if wait is None else wait
    if response.status_code == 503 and header is not None:
        return retry_after_seconds(header)
    return None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)
