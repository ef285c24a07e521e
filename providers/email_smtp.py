"""Email over SMTP: each outbox message goes out as one plain-text email to a fixed list.

This carries the procedures' `email` templates (the user-notification email, the P0 customer
email) through the outbox like the Slack and status-page ones:

    [providers.email.options]
    host = "smtp.example.com"
    security = "starttls"                       # or "ssl" (port 465), "none" (localhost only)
    username = { env = "SMTP_USERNAME" }
    password = { env = "SMTP_PASSWORD" }
    from_address = "Huntaze Status <status@huntaze.com>"
    to = ["beta-users@huntaze.com"]
    subject_prefix = "[Huntaze]"

The subject is the message's (the drafts screen puts the template's title there when the draft
has none), the body its text. The Message-ID is derived from the message alone: its key (the
incident), stage, subject, body and template. The outbox retries a message that may already
have gone out (a timeout after the server took it), so the retry carries the same Message-ID
and mail clients show it once; the subject and body are in it because every message of one
incident shares the key. A later message for the same incident replies to the one before
(In-Reply-To: the outbox passes back the Message-ID it recorded as `incident_id`), so they
thread.

A recipient the server refuses while it takes the others is named in the result; the message
is not sent again (the others have it). Failures are sorted for the outbox by
providers.smtp_session; the user name and password never appear in an error or a result.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import smtplib
from datetime import UTC
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from cockpit.core.actions import Delivered, Outgoing
from cockpit.core.clock import Clock, SystemClock
from cockpit.core.errors import ProviderError
from cockpit.core.redact import MIN_SECRET_LENGTH, REDACTED, scrub
from providers.api import Secret
from providers.base import Notifier, ProviderOptions
from providers.smtp_session import Security, failure, finish, open_session, refusals

_LOCAL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
_ADDRESS = re.compile(rf"{_LOCAL}@{_DOMAIN}")
_NAMED = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<address>[^<>]*)>")
_MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")


def parse_address(value: str) -> Address:
    """`someone@example.com` or `Name <someone@example.com>`; ValueError if it is neither."""
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("an address has no line breaks or control characters")
    value = value.strip()
    named = _NAMED.fullmatch(value)
    name, address = (named["name"].strip().strip('"'), named["address"]) if named else ("", value)
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"{value!r} is not an email address (name@example.com)")
    return Address(display_name=name, addr_spec=address)


def is_local(host: str) -> bool:
    """Whether `host` is this machine (loopback), where SMTP in clear crosses no network."""
    if host.lower() == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class EmailOptions(ProviderOptions):
    """The SMTP server, its credentials, who sends and who receives; see the module docstring."""

    model_config = ConfigDict(hide_input_in_errors=True)
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    """587 (submission, STARTTLS); 465 when `security = "ssl"` and no port is given."""
    security: Security = "starttls"
    """`starttls`, `ssl` (implicit TLS) or `none`: in clear, for a relay on this machine only."""
    username: Secret | None = None
    password: Secret | None = None
    from_address: str
    to: tuple[str, ...] = Field(min_length=1)
    subject_prefix: str = ""
    """Put before every subject, e.g. `[Huntaze]`."""
    timeout_seconds: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """For the whole conversation: connecting, TLS, logging in and sending."""
    ca_file: Path | None = None
    """A CA bundle for a relay whose certificate a private CA signed (else the system's)."""

    @model_validator(mode="before")
    @classmethod
    def _ssl_port(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("security") == "ssl" and "port" not in data:
            return {**data, "port": 465}
        return data

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip()
        if not value or "/" in value or any(char.isspace() for char in value):
            raise ValueError("must be a host name or address (smtp.example.com), not a URL")
        return value

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str) -> str:
        parse_address(value)
        return value.strip()

    @field_validator("to")
    @classmethod
    def _to(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            parse_address(address)
        return tuple(address.strip() for address in value)

    @field_validator("subject_prefix")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return " ".join(value.split())

    @model_validator(mode="after")
    def _safe(self) -> Self:
        if self.security == "none" and not is_local(self.host):
            raise ValueError(
                f"security = 'none' sends the message and the password in clear: only for a "
                f"relay on this machine (localhost, 127.0.0.1), not {self.host}; use "
                "'starttls' or 'ssl'"
            )
        if (self.username is None) != (self.password is None):
            raise ValueError("set both username and password, or neither")
        return self


class EmailNotifier(Notifier):
    """Send each message as one plain-text email through an SMTP server."""

    name = "email"
    title = "Email (SMTP)"
    Options = EmailOptions

    def __init__(self, options: EmailOptions, *, clock: Clock | None = None) -> None:
        super().__init__(options)
        self.opts = options
        self.clock = clock or SystemClock()

    def where(self) -> str:
        """The server as errors name it."""
        return f"the SMTP server {self.opts.host}:{self.opts.port}"

    def secrets(self) -> list[str]:
        """The credentials, and the base64 forms AUTH PLAIN and LOGIN carry them in."""
        if self.opts.username is None or self.opts.password is None:
            return []
        user = self.opts.username.get_secret_value()
        password = self.opts.password.get_secret_value()
        forms = [user, password, f"\0{user}\0{password}"]
        found = [*forms, *(base64.b64encode(form.encode()).decode() for form in forms)]
        return sorted({text for text in found if len(text) >= MIN_SECRET_LENGTH}, key=len)[::-1]

    def clean(self, text: str) -> str:
        """`text` without the credentials (longest first), nor anything else that looks secret."""
        for secret in self.secrets():
            text = text.replace(secret, REDACTED)
        return scrub(text)

    def _session(self) -> smtplib.SMTP:
        login = None
        if self.opts.username is not None and self.opts.password is not None:
            login = (self.opts.username.get_secret_value(), self.opts.password.get_secret_value())
        return open_session(
            self.opts.host,
            self.opts.port,
            self.opts.security,
            timeout_seconds=self.opts.timeout_seconds,
            login=login,
            ca_file=self.opts.ca_file,
        )

    def _failure(self, error: BaseException, what: str) -> ProviderError:
        return failure(error, what, self.where(), self.opts.timeout_seconds, self.clean)

    def health(self) -> str:
        """Connect, encrypt and log in, then QUIT: no message is sent."""
        try:
            finish(self._session())
        except Exception as error:
            raise self._failure(error, "check the SMTP server") from None
        how = {"starttls": "STARTTLS", "ssl": "TLS", "none": "no encryption"}[self.opts.security]
        logged = ", credentials accepted" if self.opts.username is not None else ""
        return f"{self.where()} answers ({how}{logged}); no message sent"

    def send(self, message: Outgoing) -> Delivered:
        email = self.compose(message)
        recipients = [parse_address(to).addr_spec for to in self.opts.to]
        sender = parse_address(self.opts.from_address).addr_spec
        try:
            session = self._session()
            try:
                refused = session.send_message(email, from_addr=sender, to_addrs=recipients)
            except BaseException:
                session.close()
                raise
            finish(session)
        except Exception as error:
            raise self._failure(error, "send the email") from None
        message_id = str(email["Message-ID"])
        took = len(recipients) - len(refused)
        summary = f"{self.where()} accepted it for {took} of {len(recipients)} recipients"
        if refused:
            summary += f"; refused: {refusals(refused)}"
        return Delivered(self.clean(summary), message_id)

    def compose(self, message: Outgoing) -> EmailMessage:
        """The email for `message`: headers, and the body as plain text."""
        email = EmailMessage(policy=SMTP)
        sender = parse_address(self.opts.from_address)
        email["From"] = sender
        email["To"] = [parse_address(to) for to in self.opts.to]
        email["Subject"] = self.subject(message)
        email["Date"] = self.clock.now().astimezone(UTC)
        email["Message-ID"] = message_id(message, sender.domain)
        earlier = str(message.extra.get("incident_id", ""))
        if _MESSAGE_ID.fullmatch(earlier) and earlier != email["Message-ID"]:
            email["In-Reply-To"] = earlier
            email["References"] = earlier
        email.set_content(message.body or message.subject)
        return email

    def subject(self, message: Outgoing) -> str:
        """The prefix and the message's subject on one line (its template or key if empty)."""
        subject = " ".join(message.subject.split())
        subject = subject or str(message.extra.get("template") or message.key or "Incident")
        return f"{self.opts.subject_prefix} {subject}" if self.opts.subject_prefix else subject


def message_id(message: Outgoing, domain: str) -> str:
    """The same `<…@domain>` for the same message, on every attempt (module docstring)."""
    # `incident_id` is left out: the outbox adds it once an earlier message was delivered,
    # which may happen between two attempts at this one.
    extra = {name: value for name, value in message.extra.items() if name != "incident_id"}
    fields = [message.key, message.stage, message.severity, message.subject, message.body, extra]
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
    key = re.sub(r"[^A-Za-z0-9-]+", "-", message.key).strip("-")[:40] or "message"
    # 96 bits tell messages apart; short enough that the header is seldom folded.
    return f"<cockpit.{key}.{digest[:24]}@{domain}>"
