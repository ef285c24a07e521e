"""What the HTTP action providers share: credentials, a client, and one way to fail.

Credentials come from the environment or a file, never from cockpit.toml itself:

    [providers.vercel.options]
    token = { env = "VERCEL_TOKEN" }          # or { file = "/run/secrets/vercel" }

and are SecretStr from then on, so they cannot reach the timeline, the export or a log line.

`ApiClient.request` turns every way an API call can fail into a ProviderError that says what
happened and where: refused credentials (401/403), a missing target (404), a conflict (409), a
rate limit (429, waiting for Retry-After when the deadline allows), a timeout, a body that is not
JSON. Each provider passes a function that pulls the message out of its platform's envelope.

Each request has one deadline (`timeout_seconds`, for connecting, the headers and the whole body)
and reads at most `max_body_bytes` (providers.http_read). Platforms echo what they were sent
("token abc123 is revoked", a 500 page dumping the request headers), so the client removes its
own token and Authorization value, literally, from every text it puts into an error or a log
line, then scrubs what looks like any other secret.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import httpx
from pydantic import AfterValidator, BeforeValidator, Field, SecretStr

from cockpit.core.actions import Report
from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from cockpit.core.redact import REDACTED, register_secret, scrub
from providers.base import ActionProvider, ProviderOptions
from providers.http import http_failure_reason, make_client
from providers.http_read import Deadline, MiB, read, retry_after_seconds


def _resolve_secret(value: Any) -> Any:
    """{env = NAME} or {file = PATH} → the secret's text; anything else is left to pydantic."""
    if isinstance(value, Mapping):
        if set(value) == {"env"}:
            name = str(value["env"])
            if name not in os.environ:
                raise ValueError(f"environment variable {name} is not set")
            return os.environ[name]
        if set(value) == {"file"}:
            path = Path(str(value["file"])).expanduser()
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise ValueError(f"cannot read secret file {path}: {error.strerror}") from None
        raise ValueError("a secret is { env = NAME } or { file = PATH }")
    return value


def _remember(value: SecretStr) -> SecretStr:
    """From now on every text the cockpit records, shows, sends or exports loses this value."""
    register_secret(value.get_secret_value())
    return value


Secret = Annotated[SecretStr, BeforeValidator(_resolve_secret), AfterValidator(_remember)]
"""A credential read from the environment or a file, kept as SecretStr, and registered so it
is removed literally from any text (cockpit.core.redact.register_secret)."""


class ApiOptions(ProviderOptions):
    """Where an HTTP API is and how long to wait for it."""

    base_url: str
    token: Secret
    timeout_seconds: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """For each request as a whole: connecting, the headers and the body."""
    max_retries: int = Field(default=3, ge=0)
    """How many times a 429 is retried (after Retry-After) before giving up."""
    max_body_bytes: int = Field(default=4 * MiB, gt=0)
    """Platforms page their lists: a page of deployments or versions is 10 to 500 KiB."""


Envelope = Callable[[Any], str | None]
"""Pulls the human message out of a platform's error body (parsed JSON), or None."""

RateWait = Callable[[httpx.Response], float | None]
"""Seconds an answer asks us to wait before trying again (it is a rate limit), or None."""


def retry_after_429(response: httpx.Response) -> float | None:
    """The common rule: a 429 is a rate limit, to wait out for its Retry-After (else 1 s)."""
    return _retry_after(response) if response.status_code == 429 else None


class ApiError(ProviderError):
    """The API answered with an error status; `status` and `message` say which."""

    def __init__(self, status: int, message: str, what: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"{what}: {_meaning(status)} ({status}): {message}")


def _meaning(status: int) -> str:
    return {
        400: "refused as invalid",
        401: "credentials refused",
        403: "not allowed with these credentials",
        404: "not found",
        409: "conflict",
        422: "refused as invalid",
        429: "rate limited",
    }.get(status, "server error" if status >= 500 else "error")


class ApiClient:
    """An httpx client for one platform, with the platform's auth header and error envelope."""

    def __init__(
        self,
        options: ApiOptions,
        *,
        auth_header: tuple[str, str],
        envelope: Envelope,
        transport: httpx.BaseTransport | None = None,
        rate_wait: RateWait = retry_after_429,
        max_wait: float = math.inf,
    ) -> None:
        self.options = options
        self.envelope = envelope
        self.rate_wait = rate_wait
        """GitHub also limits with a 403 and a reset time, so each platform may say."""
        self.max_wait = max_wait
        """A longer wait fails at once, saying when to try again, rather than hang."""
        self.last_headers: httpx.Headers = httpx.Headers()
        """The latest answer's headers (a poller reads its rate-limit budget in them)."""
        token = options.token.get_secret_value()
        # Longest first, so the header value ("Bearer <token>") goes whole, not around a hole.
        found = {token, auth_header[1], auth_header[1].split(" ", 1)[-1]}
        self.secrets = sorted((text for text in found if len(text) >= 4), key=len, reverse=True)
        self.client = make_client(
            options.timeout_seconds,
            transport,
            base_url=options.base_url.rstrip("/"),
            headers={auth_header[0]: auth_header[1]},
        )

    def close(self) -> None:
        """Release the connection pool."""
        self.client.close()

    def clean(self, text: str) -> str:
        """`text` without this client's token or Authorization value, nor other secrets."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return scrub(text)

    def url(self, path: str) -> str:
        """The full URL of a path, for plans and transcripts."""
        return f"{self.options.base_url.rstrip('/')}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Mapping[str, Any] | None = None,
        report: Report | None = None,
        ok: tuple[int, ...] = (200, 201, 202, 204),
    ) -> Any:
        """Send one request; return its parsed JSON body (None when empty) or raise.

        `what` names the step for the error ("list deployments of huntaze"). A 429 is retried
        after Retry-After while the action's deadline allows; every other failure raises.
        """
        attempts = 0
        limit = self.options.timeout_seconds
        while True:
            if report is not None:
                report.check()
            try:
                response = read(
                    self.client,
                    method,
                    path,
                    deadline=Deadline(limit),
                    max_bytes=self.options.max_body_bytes,
                    params=params,
                    json=json,
                    # multipart/form-data only when asked (Cloudflare's settings PATCH)
                    **({"files": files} if files is not None else {}),
                )
            except httpx.TimeoutException:
                raise ProviderTimeout(
                    self.clean(
                        f"{what}: no complete answer from {self.options.base_url} within "
                        f"{limit:g} s"
                    )
                ) from None
            except httpx.HTTPError as error:
                reason = http_failure_reason(error, limit)
                raise ProviderUnavailable(
                    self.clean(f"{what}: {self.options.base_url}: {reason}")
                ) from None
            self.last_headers = response.headers
            wait = self.rate_wait(response)
            if self._may_wait(wait, attempts, report):
                assert wait is not None and report is not None
                attempts += 1
                where = self.options.base_url
                report.log(self.clean(f"rate limited by {where}; retrying in {wait:g} s"))
                report.sleep(wait)
                continue
            return self._body(response, what, ok, wait)

    def _may_wait(self, wait: float | None, attempts: int, report: Report | None) -> bool:
        """Whether to wait out a rate limit: retries left, and time left before the deadline."""
        if wait is None or report is None or attempts >= self.options.max_retries:
            return False
        return wait <= self.max_wait and (report.remaining is None or wait < report.remaining)

    def _body(
        self, response: httpx.Response, what: str, ok: tuple[int, ...], wait: float | None = None
    ) -> Any:
        body: Any = None
        if response.content:
            try:
                body = response.json()
            except (ValueError, RecursionError):
                if response.status_code in ok:
                    raise ProviderError(
                        self.clean(
                            f"{what}: the answer from {self.options.base_url} is not valid JSON "
                            f"(status {response.status_code}, {len(response.content)} bytes)"
                        )
                    ) from None
                body = None
        if response.status_code in ok:
            return body
        try:
            said = self.envelope(body) if body is not None else None
        except Exception:  # an envelope the platform's own parser did not expect
            said = None
        # Cleaned before it is cut short, so no cut can leave part of a secret behind.
        message = self.clean(str(said or response.reason_phrase))[:1000]
        if response.status_code == 429:
            asked = self.clean(response.headers.get("retry-after", "?"))[:40]
            message += f"; retry after {asked} s"
        elif wait is not None:  # a platform's own rate limit (GitHub's 403)
            message += f"; rate limited, retry after {wait:g} s"
        raise ApiError(response.status_code, message, self.clean(what))


def _retry_after(response: httpx.Response) -> float:
    """Seconds to wait from a Retry-After header (seconds or a date); 1 s when absent or odd."""
    wait = retry_after_seconds(response.headers.get("retry-after"))
    return 1.0 if wait is None else wait


class HttpActionProvider(ActionProvider):
    """An action provider that talks to one HTTP API: the client, its auth and its errors.

    Subclasses set `error_message` (the platform's envelope → its message) and override
    `auth_header` when the platform does not take a bearer token.
    """

    def __init__(self, options: ApiOptions, *, transport: httpx.BaseTransport | None = None):
        super().__init__(options)
        self.api = ApiClient(
            options,
            auth_header=self.auth_header(options.token.get_secret_value()),
            envelope=self.error_message,
            transport=transport,
            rate_wait=self.rate_wait,
        )

    def error_message(self, body: Any) -> str | None:
        """The human message in the platform's error body (parsed JSON), if any."""
        return None

    def rate_wait(self, response: httpx.Response) -> float | None:
        """Seconds a rate-limited answer asks to wait, or None when it is no rate limit."""
        return retry_after_429(response)

    def auth_header(self, token: str) -> tuple[str, str]:
        """The header that carries the token (`Authorization: Bearer …` by default)."""
        return ("Authorization", f"Bearer {token}")

    def close(self) -> None:
        self.api.close()
