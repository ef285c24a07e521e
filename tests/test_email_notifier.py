"""The email notifier against a real SMTP server (aiosmtpd on 127.0.0.1).

It must deliver one email with the message's subject and body; give a retried message the same
Message-ID; sort every failure for the outbox (a 4xx, a timeout or a refused connection is tried
again, a 5xx is refused for good, in the server's words with its code); keep the credentials out
of every error and result; and refuse to send in clear anywhere but to this machine.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import ValidationError

from cockpit.core.actions import Outgoing, Undeliverable
from cockpit.core.clock import FixedClock
from cockpit.core.config import ConfigFileError
from cockpit.core.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from cockpit.core.timeline import Timeline
from providers.email_smtp import EmailNotifier, message_id
from providers.registry import load_provider

FAST = 0.3  # timeout_seconds where a test waits for a timeout; the others leave room for load
USER, PASSWORD = "cockpit-mailer", "s3cret-smtp-pass-42"
SECRETS = [
    PASSWORD,
    USER,
    base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode(),
    base64.b64encode(PASSWORD.encode()).decode(),
]


@dataclass
class Received:
    """One email as the server took it."""

    sender: str
    recipients: list[str]
    email: EmailMessage
    tls: bool


@dataclass
class Mailbox:
    """An aiosmtpd handler: records each email; answers as the test sets."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    """Recipient → the reply refusing it (`550 5.1.1 no such user`)."""
    sender_reply: str | None = None
    data_replies: list[str] = field(default_factory=list)
    """Replies to the next DATA commands, after the email is recorded; then 250."""
    rcpt_delay: float = 0.0

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.sender_reply:
            return self.sender_reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        await asyncio.sleep(self.rcpt_delay)
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        email = message_from_bytes(cast(bytes, envelope.content), policy=policy.default)
        tls = session.ssl is not None
        self.received.append(Received(str(envelope.mail_from), envelope.rcpt_tos, email, tls))
        return self.data_replies.pop(0) if self.data_replies else "250 Message accepted"


def authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    """Accepts USER/PASSWORD; otherwise 535, echoing what it was sent, as some servers do."""
    assert isinstance(data, LoginPassword)
    if (data.login.decode(), data.password.decode()) == (USER, PASSWORD):
        return AuthResult(success=True)
    said = f"535 5.7.8 bad credentials for {data.login.decode()} / {data.password.decode()}"
    return AuthResult(success=False, handled=False, message=said)


def free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(handler: Mailbox, **settings: Any) -> Iterator[int]:
    """aiosmtpd on 127.0.0.1 (AUTH allowed without TLS, as a test server); yields its port."""
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
        **settings,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def port(mailbox: Mailbox) -> Iterator[int]:
    with smtp_server(mailbox) as listening:
        yield listening


def notifier(port: int, **options: Any) -> EmailNotifier:
    values = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": USER,
        "password": PASSWORD,
        "from_address": "Huntaze Status <status@huntaze.example>",
        "to": ["beta-users@huntaze.example", "ops@huntaze.example"],
        "timeout_seconds": 10,
        **options,
    }
    clock = FixedClock(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
    return EmailNotifier(EmailNotifier.Options.model_validate(values), clock=clock)


BODY = "Dear Huntaze Beta Users,\n\nWe rolled back to a previous stable version – restored ✓."


def message(body: str = BODY, **extra: Any) -> Outgoing:
    return Outgoing(
        channel="email",
        subject="[RESOLVED] Huntaze Service Interruption",
        body=body,
        key="incident-7",
        stage="resolved",
        severity="P0",
        extra={"template": "p0-email", **extra},
    )


def failed(sender: EmailNotifier, kind: type[ProviderError], sent: Outgoing | None = None) -> str:
    """Send, expect exactly `kind` of error, check it holds no credential; its text."""
    with pytest.raises(ProviderError) as raised:
        sender.send(sent or message())
    error = raised.value
    assert isinstance(error, kind), repr(error)
    if kind is not Undeliverable:
        assert not isinstance(error, Undeliverable), repr(error)
    texts = [str(error), repr(error), *map(str, error.args)]
    for secret in SECRETS:
        assert all(secret not in text for text in texts), f"secret leaked: {texts}"
    return str(error)


# -- delivery ----------------------------------------------------------------------------------


def test_one_email_with_the_subject_body_sender_recipients_and_ids(
    mailbox: Mailbox, port: int
) -> None:
    delivered = notifier(port, subject_prefix="[Huntaze]").send(message())
    (got,) = mailbox.received
    email = got.email
    assert got.sender == "status@huntaze.example"
    assert got.recipients == ["beta-users@huntaze.example", "ops@huntaze.example"]
    assert email["Subject"] == "[Huntaze] [RESOLVED] Huntaze Service Interruption"
    assert email["From"] == "Huntaze Status <status@huntaze.example>"
    assert email["To"] == "beta-users@huntaze.example, ops@huntaze.example"
    assert email["Date"].datetime == datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert email.get_content_type() == "text/plain"
    assert email.get_content().replace("\r\n", "\n").rstrip("\n") == BODY
    assert email["Message-ID"] == delivered.reference
    assert delivered.reference.startswith("<cockpit.incident-7.")
    assert delivered.reference.endswith("@huntaze.example>")
    assert email["In-Reply-To"] is None
    assert delivered.summary == (
        f"the SMTP server 127.0.0.1:{port} accepted it for 2 of 2 recipients"
    )


def test_an_empty_subject_falls_back_and_a_multi_line_one_is_joined(
    mailbox: Mailbox, port: int
) -> None:
    sender = notifier(port)
    sender.send(Outgoing("email", "", "Body only.", "incident-7", extra={"template": "user-email"}))
    sender.send(Outgoing("email", "Service\r\nrestored", "Fixed.", "incident-7"))
    assert [got.email["Subject"] for got in mailbox.received] == ["user-email", "Service restored"]


def test_a_retried_message_carries_the_same_message_id(mailbox: Mailbox, port: int) -> None:
    sender = notifier(port)
    mailbox.data_replies = ["451 4.3.0 try again later"]  # the server took it, then failed
    text = failed(sender, ProviderUnavailable)
    assert f"127.0.0.1:{port} refused the message (451 4.3.0 try again later)" in text
    first = sender.send(message())
    # the outbox passes back an earlier delivery's reference; the message stays the same one
    again = notifier(port).send(message(incident_id="<earlier@huntaze.example>"))
    ids = [got.email["Message-ID"] for got in mailbox.received]
    assert ids == [first.reference] * 3 and again.reference == first.reference
    assert mailbox.received[2].email["In-Reply-To"] == "<earlier@huntaze.example>"

    update = notifier(port).send(message("A second update.", incident_id=first.reference))
    assert update.reference != first.reference  # another message of the same incident
    assert mailbox.received[3].email["In-Reply-To"] == first.reference
    assert mailbox.received[3].email["References"] == first.reference


def test_the_message_id_depends_on_the_message_only() -> None:
    assert message_id(message(), "a.example") == message_id(message(), "a.example")
    assert message_id(message(), "a.example") != message_id(message("other"), "a.example")
    odd = Outgoing("email", "s", "b", "incident 7/<x>")
    assert message_id(odd, "a.example").startswith("<cockpit.incident-7-x.")


# -- refusals ------------------------------------------------------------------------------------


def test_a_wrong_password_is_refused_for_good_without_showing_it(port: int) -> None:
    wrong = notifier(port, password="not-the-password-77")
    text = failed(wrong, Undeliverable)
    assert f"the SMTP server 127.0.0.1:{port} refused the credentials (535 5.7.8" in text
    assert "not-the-password-77" not in text and USER not in text  # the server echoed both
    with pytest.raises(Undeliverable, match="535"):
        wrong.health()


def test_a_partial_refusal_delivers_to_the_rest_and_names_the_refused(
    mailbox: Mailbox, port: int
) -> None:
    mailbox.refuse["ops@huntaze.example"] = "550 5.1.1 no such user"
    delivered = notifier(port).send(message())
    (got,) = mailbox.received
    assert got.recipients == ["beta-users@huntaze.example"]
    assert delivered.summary.endswith(
        "accepted it for 1 of 2 recipients; refused: ops@huntaze.example (550 5.1.1 no such user)"
    )


def test_every_recipient_refused_is_undeliverable(mailbox: Mailbox, port: int) -> None:
    mailbox.refuse["ops@huntaze.example"] = "550 5.1.1 no such user"
    mailbox.refuse["beta-users@huntaze.example"] = "553 5.1.3 bad address"
    text = failed(notifier(port), Undeliverable)
    assert "refused every recipient" in text and "(553 5.1.3 bad address)" in text
    assert "ops@huntaze.example (550 5.1.1 no such user)" in text
    assert mailbox.received == []


def test_a_refused_sender_is_undeliverable(mailbox: Mailbox, port: int) -> None:
    mailbox.sender_reply = "553 5.7.1 sender not allowed"
    text = failed(notifier(port), Undeliverable)
    assert "refused the sender status@huntaze.example (553 5.7.1 sender not allowed)" in text


@pytest.mark.parametrize(
    ("where", "reply"),
    [
        ("sender", "421 4.3.2 shutting down"),
        ("rcpt", "450 4.2.1 mailbox busy"),
        ("rcpt", "452 4.5.3 too many recipients"),
        ("data", "451 4.3.0 local error"),
    ],
)
def test_temporary_refusals_are_tried_again(
    mailbox: Mailbox, port: int, where: str, reply: str
) -> None:
    if where == "sender":
        mailbox.sender_reply = reply
    elif where == "rcpt":
        mailbox.refuse = {"beta-users@huntaze.example": reply, "ops@huntaze.example": reply}
    else:
        mailbox.data_replies = [reply]
    text = failed(notifier(port), ProviderUnavailable)
    assert reply.split()[0] in text and "tried again later" in text


def test_a_refused_connection_is_tried_again() -> None:
    text = failed(notifier(free_port()), ProviderUnavailable)
    assert text.endswith("connection refused")


def test_a_silent_server_times_out_within_the_configured_seconds() -> None:
    with closing(socket.socket()) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel completes the handshake; nobody ever answers
        port = silent.getsockname()[1]
        start = time.monotonic()
        text = failed(notifier(port, timeout_seconds=FAST), ProviderTimeout)
    assert time.monotonic() - start < FAST + 1
    assert f"no answer from the SMTP server 127.0.0.1:{port}" in text
    assert f"within {FAST:g} s" in text


def test_one_deadline_covers_the_whole_conversation(mailbox: Mailbox, port: int) -> None:
    """Each reply comes within the timeout, all of them together do not."""
    mailbox.rcpt_delay = FAST / 3
    many = [f"user{n}@huntaze.example" for n in range(4)]
    start = time.monotonic()
    failed(notifier(port, to=many, timeout_seconds=FAST), ProviderTimeout)
    assert time.monotonic() - start < FAST + 1
    assert mailbox.received == []


# -- TLS ---------------------------------------------------------------------------------------


@dataclass
class Certificate:
    """A self-signed certificate for 127.0.0.1, and the server's context for it."""

    ca_file: Path
    server: ssl.SSLContext


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    from ipaddress import ip_address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    loopback = ip_address("127.0.0.1")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cockpit test relay")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(loopback)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return Certificate(folder / "cert.pem", server)


def test_starttls_upgrades_verifies_and_then_logs_in(
    mailbox: Mailbox, certificate: Certificate
) -> None:
    with smtp_server(mailbox, tls_context=certificate.server, require_starttls=True) as port:
        sender = notifier(port, security="starttls", ca_file=certificate.ca_file)
        assert sender.health().endswith("answers (STARTTLS, credentials accepted); no message sent")
        assert mailbox.received == []
        sender.send(message())
        untrusted = notifier(port, security="starttls")
        text = failed(untrusted, Undeliverable)
    assert [got.tls for got in mailbox.received] == [True]
    assert "certificate does not verify" in text


def test_implicit_tls(mailbox: Mailbox, certificate: Certificate) -> None:
    with smtp_server(mailbox, ssl_context=certificate.server) as port:
        notifier(port, security="ssl", ca_file=certificate.ca_file).send(message())
    assert len(mailbox.received) == 1


def test_starttls_is_never_skipped_when_the_server_lacks_it(mailbox: Mailbox, port: int) -> None:
    text = failed(notifier(port, security="starttls"), Undeliverable)
    assert "does not offer STARTTLS; not sending the message in clear" in text
    assert mailbox.received == []


# -- options and registration ------------------------------------------------------------------


def test_sending_in_clear_is_for_this_machine_only() -> None:
    for host in ("localhost", "127.0.0.1", "::1"):
        assert notifier(25, host=host).opts.security == "none"
    with pytest.raises(ValidationError) as raised:
        notifier(25, host="smtp.example.com")
    assert "only for a relay on this machine" in str(raised.value)
    assert PASSWORD not in str(raised.value)


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"to": ["not-an-address"]}, "is not an email address"),
        ({"to": []}, "at least 1 item"),
        ({"to": ["a@example.com, b@example.com"]}, "is not an email address"),
        ({"from_address": "Ops <ops@example.com>\r\nBcc: x@example.com"}, "no line breaks"),
        ({"password": None}, "set both username and password"),
        ({"host": "smtp://mail.example.com"}, "not a URL"),
        ({"security": "tls"}, "'starttls', 'ssl' or 'none'"),
        ({"pasword": "typo"}, "Extra inputs are not permitted"),
    ],
)
def test_options_are_checked(options: dict[str, Any], said: str) -> None:
    with pytest.raises(ValidationError, match=said):
        notifier(25, **options)


def test_ports_and_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"host": "smtp.example.com", "from_address": "a@example.com", "to": ["b@example.com"]}
    assert EmailNotifier.Options.model_validate({**values, "security": "ssl"}).port == 465
    assert EmailNotifier.Options.model_validate({**values, "port": 2525}).port == 2525
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    options = EmailNotifier.Options.model_validate(
        {**values, "username": USER, "password": {"env": "SMTP_PASSWORD"}}
    )
    assert options.port == 587 and options.security == "starttls"
    assert PASSWORD not in repr(options)
    with pytest.raises(ValidationError, match="SMTP_USER_UNSET"):
        EmailNotifier.Options.model_validate(
            {**values, "username": {"env": "SMTP_USER_UNSET"}, "password": "x"}
        )


def test_it_is_the_email_channels_notifier_and_cockpit_toml_builds_it() -> None:
    from cockpit.commands.run import build_providers
    from cockpit.screens.drafts import NOTIFIERS_FOR

    assert NOTIFIERS_FOR["email"][0] == "email" and load_provider("email") is EmailNotifier
    options = {
        "host": "smtp.example.com",
        "from_address": "status@example.com",
        "to": ["users@example.com"],
    }
    built = build_providers({"email": (None, options, {})})
    assert isinstance(built["email"], EmailNotifier)
    with pytest.raises(ConfigFileError, match=r"providers\.email: options\.security"):
        build_providers({"email": (None, {**options, "security": "plain"}, {})})


# -- through the outbox ------------------------------------------------------------------------


async def test_the_user_email_goes_out_through_the_outbox_once_the_server_takes_it(
    mailbox: Mailbox, port: int, timeline: Timeline, clock: FixedClock
) -> None:
    """The pulse-messages user email, refused once for now: retried with the same Message-ID,
    recorded as sent with it, and no credential in the timeline."""
    from cockpit.app import CockpitApp
    from cockpit.core.outbox import BASE_SECONDS
    from cockpit.core.procedure_loader import load_builtin
    from cockpit.session import Session

    procedure = load_builtin("pulse-messages")
    template = procedure.templates["user-email"]
    incident = timeline.open_incident("x", "P0", "pulse-messages")
    session = Session(
        timeline=timeline,
        incident=incident,
        procedure=procedure,
        notifiers={"email": notifier(port)},
        clock=clock,
    )
    app = CockpitApp(session, start_pollers=False)
    mailbox.data_replies = ["451 4.3.0 try again later"]
    async with app.run_test() as pilot:
        app.queue_message(
            Outgoing(
                "email",
                template.subject,
                template.body,
                f"incident-{incident.id}",
                "resolved",
                "P0",
                {"template": "user-email"},
            )
        )
        await settle(app, pilot)
        clock.advance(BASE_SECONDS)
        app.tick()
        await settle(app, pilot)
    events = [e for e in timeline.events(incident.id) if e.kind.startswith("outbox.")]
    assert [e.kind for e in events] == ["outbox.queued", "outbox.failed", "outbox.sent"]
    first, second = (got.email for got in mailbox.received)
    assert first["Message-ID"] == second["Message-ID"] == events[-1].payload["reference"]
    assert second["Subject"] == "Brief Service Interruption - Resolved"
    assert "No data was lost" in second.get_content()
    recorded = str([(e.summary, e.payload) for e in timeline.events(incident.id)])
    assert all(secret not in recorded for secret in SECRETS)


async def settle(app: Any, pilot: Any) -> None:
    """Until every write is read back and no attempt is in flight, twice in a row."""
    calm = 0
    for _ in range(1000):
        await pilot.pause(0.01)
        calm = calm + 1 if app.quiet and not app.outbox.in_flight else 0
        if calm >= 2:
            return
