"""A generic webhook notifier, and the one rule every HTTP notifier follows on an answer.

The outbox needs to know what to retry. Here a 2xx is delivered; a timeout, a refused connection,
a 408, a 5xx or a rate limit (429, and Statuspage's 420) may work later, so they raise a plain
ProviderError and the outbox retries; any other 4xx is a refusal for good (`Undeliverable`),
because the same message would get the same answer. A rate limit is never waited out here: the
error is `RateLimited`, whose `retry_after` (seconds, None when the platform gave no Retry-After)
tells the outbox when to try again. Redirects are not followed: a webhook that moved is a
configuration to fix, so a 3xx is a refusal too.

Many webhook URLs are credentials (Slack's, Teams', Discord's), so errors name the platform or
the host ("the Slack webhook", "the webhook at https://hooks.example.com"), never the URL, and
each notifier's secrets are removed from any text that reaches an error, the platform's answer
included (cleaned before it is cut short, so no cut leaves part of a secret behind).

Each call has one deadline (`timeout_seconds`, for connecting, the headers and the whole body)
and reads at most `max_body_bytes` of answer (providers.http_read).

The generic webhook sends one JSON document per message:
`{"channel", "subject", "body", "key", "stage", "severity"}`, with `Authorization: Bearer
<token>` when a token is set.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import ConfigDict, Field, SecretStr, field_validator

from cockpit.core.actions import Delivered, Outgoing, Undeliverable
from cockpit.core.errors import ProviderTimeout, ProviderUnavailable, RateLimited
from cockpit.core.redact import scrub
from providers.api import Secret
from providers.base import Notifier, ProviderOptions
from providers.http import http_failure_reason, make_client
from providers.http_read import Deadline, MiB, read, retry_after_seconds

__all__ = [
    "HttpNotifier",
    "NotifierOptions",
    "RateLimited",  # where the notifiers' tests and callers have always found it
    "WebhookNotifier",
    "WebhookOptions",
    "check_url",
    "retry_after",
]


class NotifierOptions(ProviderOptions):
    """How long to wait for the platform; a bad value never echoes its input (it may be secret)."""

    model_config = ConfigDict(hide_input_in_errors=True)
    timeout_seconds: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """For each call as a whole: connecting, the headers and the body."""
    max_body_bytes: int = Field(default=1 * MiB, gt=0)
    """Slack answers `ok`; the largest answer read is Statuspage's unresolved incidents, a few
    KiB each."""


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), or None without one."""
    return retry_after_seconds(response.headers.get("retry-after"))


class HttpNotifier(Notifier):
    """A notifier that posts to one HTTP platform: the client, its errors, its secrets."""

    rate_limit_statuses: ClassVar[tuple[int, ...]] = (429,)

    def __init__(
        self, options: NotifierOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(options)
        self.timeout_seconds = options.timeout_seconds
        self.max_body_bytes = options.max_body_bytes
        self.http = make_client(options.timeout_seconds, transport)

    def close(self) -> None:
        self.http.close()

    # -- to override ------------------------------------------------------------------------

    def where(self) -> str:
        """The platform as errors name it (never a secret URL)."""
        return self.title

    def secrets(self) -> list[str]:
        """Texts that must never reach an error."""
        return []

    def reason(self, response: httpx.Response) -> str:
        """The platform's own words for a refusal."""
        try:
            body = response.json()
        except ValueError:
            return response.text.strip()[:200]
        if isinstance(body, dict):
            for name in ("message", "error", "errors", "detail"):
                if body.get(name):
                    return str(body[name])[:200]
        return str(body)[:200]

    # -- the call ---------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """`text` without this notifier's secrets, nor anything else that looks secret."""
        for secret in sorted(self.secrets(), key=len, reverse=True):
            if secret:
                text = text.replace(secret, "***")
        return scrub(text)

    def call(self, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """Send one request; return a 2xx response or raise by the module's rule."""
        where = self.where()
        try:
            response = read(
                self.http,
                method,
                url,
                deadline=Deadline(self.timeout_seconds),
                max_bytes=self.max_body_bytes,
                **kwargs,
            )
        except httpx.TimeoutException:
            raise ProviderTimeout(
                f"{what}: no complete answer from {where} within {self.timeout_seconds:g} s"
            ) from None
        except httpx.HTTPError as error:
            reason = self.scrub(http_failure_reason(error, self.timeout_seconds))
            raise ProviderUnavailable(f"{what}: {where}: {reason}") from None
        status = response.status_code
        if 200 <= status < 300:
            return response
        said = self.scrub(self.reason(self._cleaned(response)) or response.reason_phrase)
        if status in self.rate_limit_statuses:
            wait = retry_after(response)
            when = f"retry after {wait:g} s" if wait is not None else "no Retry-After, back off"
            raise RateLimited(f"{what}: {where} is rate limiting ({status} {said}); {when}", wait)
        if status >= 500 or status == 408:
            raise ProviderUnavailable(f"{what}: {where} failed ({status}): {said}")
        if 300 <= status < 400:
            said = "a redirect, not followed (is the URL current?)"
        raise Undeliverable(f"{what}: {where} refused it ({status}): {said}")

    def _cleaned(self, response: httpx.Response) -> httpx.Response:
        """The answer with the secrets taken out of its body, for `reason` to quote and cut."""
        text = response.text
        clean = self.scrub(text)
        if clean == text:
            return response
        kind = response.headers.get("content-type", "text/plain").split(";")[0]
        return httpx.Response(
            response.status_code,
            headers={"Content-Type": f"{kind}; charset=utf-8"},
            content=clean.encode(),
            request=response.request,
        )


def check_url(url: str) -> str:
    """The URL's origin (scheme://host[:port]) if it is an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


class WebhookOptions(NotifierOptions):
    """Where to send (the URL may be secret: `{ env = NAME }`), an optional bearer token."""

    url: Secret
    token: Secret | None = None
    method: Literal["POST", "PUT"] = "POST"

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        check_url(value.get_secret_value())
        return value


class WebhookNotifier(HttpNotifier):
    """POST (or PUT) each message as one JSON document to any HTTP endpoint."""

    name = "webhook"
    title = "Webhook"
    Options = WebhookOptions

    def __init__(
        self, options: WebhookOptions, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(options, transport=transport)
        self.opts = options

    def where(self) -> str:
        return f"the webhook at {check_url(self.opts.url.get_secret_value())}"

    def secrets(self) -> list[str]:
        url = self.opts.url.get_secret_value()
        found = [url, urlsplit(url).path, urlsplit(url).query]
        if self.opts.token is not None:
            found.append(self.opts.token.get_secret_value())
        return [text for text in found if len(text) > 1]

    def health(self) -> str:
        return f"{self.where()}: not checked without sending a message"

    def send(self, message: Outgoing) -> Delivered:
        document = {
            "channel": message.channel,
            "subject": message.subject,
            "body": message.body,
            "key": message.key,
            "stage": message.stage,
            "severity": message.severity,
        }
        headers = {}
        if self.opts.token is not None:
            headers["Authorization"] = f"Bearer {self.opts.token.get_secret_value()}"
        url = self.opts.url.get_secret_value()
        response = self.call(
            self.opts.method, url, what="send the message", json=document, headers=headers
        )
        return Delivered(f"{self.where()} accepted it ({response.status_code})")
