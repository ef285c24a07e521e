"""One SMTP conversation under one deadline, and the outbox's rule for what its failures mean.

`open_session` connects (implicit TLS for `ssl`), says EHLO, upgrades with STARTTLS for
`starttls` (refusing to go on in clear when the server does not offer it) and logs in when
credentials are set. smtplib's `timeout` bounds each socket call only, so a server that answers
every line just in time could hold the outbox's worker for ever; here every read and write gets
what is left of one deadline (`timeout_seconds` for the whole conversation), like the HTTP
notifiers' single deadline per call.

`failure` sorts what went wrong the way the outbox retries (providers/webhook.py): a timeout, a
refused or dropped connection and any 4xx reply (421, 450, 451, 452, 454) may work later
(ProviderTimeout, ProviderUnavailable); a 5xx reply (535 credentials, 550/553 a recipient or the
sender, 554), a server without STARTTLS or AUTH, or a certificate that does not verify is a
refusal for good (`Undeliverable`): the same message would get the same answer. Each error names
the server, the SMTP code and the server's words, through the caller's `clean` (servers echo the
user name; the credentials must never reach the timeline).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cockpit.core.actions import Undeliverable
from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

Security = Literal["starttls", "ssl", "none"]

_STEPS: dict[type[smtplib.SMTPResponseException], str] = {
    smtplib.SMTPAuthenticationError: "refused the credentials",
    smtplib.SMTPSenderRefused: "refused the sender",
    smtplib.SMTPDataError: "refused the message",
    smtplib.SMTPConnectError: "refused the connection",
    smtplib.SMTPHeloError: "refused the greeting",
}


class _Timed(smtplib.SMTP):
    """smtplib's client, each read and write bounded by what is left of one deadline."""

    def __init__(self, host: str, port: int, *, deadline: float, **settings: Any) -> None:
        self.deadline = deadline
        try:
            super().__init__(host, port, timeout=self.left(), **settings)
        except BaseException:
            self.close()  # connecting failed after the socket opened: nobody else holds it
            raise

    def left(self) -> float:
        """Seconds left; TimeoutError once the deadline has passed."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed")
        return left

    def send(self, s: ReadableBuffer | str) -> None:
        if self.sock is not None:
            self.sock.settimeout(self.left())
        super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        if self.sock is not None:
            self.sock.settimeout(self.left())
        return super().getreply()


class _TimedSSL(_Timed, smtplib.SMTP_SSL):
    """The same over implicit TLS (port 465)."""


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying context: smtplib's own default for starttls() checks no certificate."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


def open_session(
    host: str,
    port: int,
    security: Security,
    *,
    timeout_seconds: float,
    login: tuple[str, str] | None,
    ca_file: Path | None = None,
) -> smtplib.SMTP:
    """A connected, greeted, encrypted (unless `none`) and logged-in SMTP session.

    Raises what smtplib, ssl and socket raise (`failure` sorts it), or Undeliverable when the
    server does not offer STARTTLS that `starttls` asks for.
    """
    deadline = time.monotonic() + timeout_seconds
    # getfqdn() (smtplib's default EHLO name) asks DNS, outside any timeout; the host name
    # is what a jump host can say about itself without the network.
    settings: dict[str, Any] = {"local_hostname": socket.gethostname() or "localhost"}
    if security == "ssl":
        session: smtplib.SMTP = _TimedSSL(
            host, port, deadline=deadline, context=tls_context(ca_file), **settings
        )
    else:
        session = _Timed(host, port, deadline=deadline, **settings)
    try:
        session.ehlo()
        if security == "starttls":
            if not session.has_extn("starttls"):
                raise Undeliverable(
                    "it does not offer STARTTLS; not sending the message in clear "
                    "(security = 'ssl' for port 465, or a relay on this machine with 'none')"
                )
            session.starttls(context=tls_context(ca_file))
            session.ehlo()
        if login is not None:
            session.login(*login)
    except BaseException:
        session.close()
        raise
    return session


def finish(session: smtplib.SMTP) -> None:
    """Say QUIT; the message is already accepted, so a server that hangs up here is no error."""
    try:
        session.quit()
    except (smtplib.SMTPException, OSError):
        session.close()


def reply_text(said: bytes | str) -> str:
    """A server's reply on one line."""
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else said
    return " ".join(text.split())[:300]


def failure(
    error: BaseException, what: str, where: str, timeout_seconds: float, clean: Callable[[str], str]
) -> ProviderError:
    """The ProviderError the outbox acts on for `error` (see the module docstring)."""
    if isinstance(error, Undeliverable):  # open_session's own refusal
        return Undeliverable(clean(f"{what}: {where}: {error}"))
    if _caused_by(error, TimeoutError):
        return ProviderTimeout(f"{what}: no answer from {where} within {timeout_seconds:g} s")
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return _all_refused(error, what, where, clean)
    if isinstance(error, smtplib.SMTPResponseException):
        step = _STEPS.get(type(error), "answered")
        if isinstance(error, smtplib.SMTPSenderRefused):
            step += f" {error.sender}"
        said = clean(f"{what}: {where} {step} ({error.smtp_code} {reply_text(error.smtp_error)})")
        if 400 <= error.smtp_code < 500:
            return ProviderUnavailable(f"{said}; a temporary refusal, tried again later")
        if 500 <= error.smtp_code < 600:
            return Undeliverable(said)
        return ProviderUnavailable(said)
    if isinstance(error, smtplib.SMTPNotSupportedError):  # no AUTH offered: configuration
        return Undeliverable(clean(f"{what}: {where}: {error}"))
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = error.verify_message or str(error)
        return Undeliverable(clean(f"{what}: {where}: its certificate does not verify: {reason}"))
    if _caused_by(error, ConnectionRefusedError):
        return ProviderUnavailable(f"{what}: {where}: connection refused")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return ProviderUnavailable(clean(f"{what}: {where} closed the connection: {error}"))
    if isinstance(error, OSError):
        reason = error.strerror or str(error) or type(error).__name__
        return ProviderUnavailable(clean(f"{what}: {where}: {reason}"))
    return ProviderError(clean(f"{what}: {where}: {type(error).__name__}: {error}"))


def _all_refused(
    error: smtplib.SMTPRecipientsRefused, what: str, where: str, clean: Callable[[str], str]
) -> ProviderError:
    """Every recipient refused: for good if each refusal is, else worth another try."""
    codes = [code for code, _ in error.recipients.values()]
    said = clean(f"{what}: {where} refused every recipient: {refusals(error.recipients)}")
    if all(500 <= code < 600 for code in codes):
        return Undeliverable(said)
    return ProviderUnavailable(f"{said}; a temporary refusal, tried again later")


def refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    """`a@example.com (550 no such user); ...`."""
    return "; ".join(f"{who} ({code} {reply_text(said)})" for who, (code, said) in refused.items())


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether `error`, or what it was raised from or while handling, is a `kind`
    (smtplib turns a timed-out read into SMTPServerDisconnected)."""
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
