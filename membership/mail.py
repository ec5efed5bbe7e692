"""Building and sending email over SMTP: the one place that speaks SMTP.

``SMTP_URL`` is ``smtp://user:password@host:587`` (STARTTLS, required except to a
relay on loopback) or ``smtps://user:password@host:465`` (TLS from the start).
Without ``SMTP_URL`` (development only) messages are written to the log with the
recipient masked and their ``secrets`` (tokens that act as keys) redacted: personal data
and credentials never go into logs.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import re
import secrets
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from types import TracebackType
from urllib.parse import unquote, urlsplit

from membership import clock

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 30
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class Mail:
    """One message: plain text and HTML alternatives, plus extra headers."""

    to: str
    subject: str
    text: str
    html: str
    message_id: str
    headers: dict[str, str] = field(default_factory=dict)
    # Values that act as keys (a cancel link's token): never written to the log.
    secrets: tuple[str, ...] = ()


class MailRefused(RuntimeError):
    """The server refused this one message; ``permanent`` for 5xx answers (do not retry)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.permanent = 500 <= code < 600


class MailUnavailable(RuntimeError):
    """The mail server could not be reached or dropped the connection; try again later."""


def mask_email(address: str) -> str:
    """``reader@example.org`` becomes ``r***@example.org``: enough to debug, not to identify."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def without_addresses(text: str) -> str:
    """Server answers often quote the recipient; mask any address before storing or logging."""
    return _EMAIL.sub(lambda match: mask_email(match.group(0)), text)


def build_message(mail: Mail, sender: str) -> EmailMessage:
    """A standards-conforming multipart/alternative message (text first, then HTML)."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = mail.message_id
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def message_bytes(mail: Mail, sender: str) -> bytes:
    """The message as sent on the wire.

    The email package's policy machinery costs about 3 ms a message, more than the SMTP
    exchange itself, so the common case (ASCII headers without line breaks, which is
    every reminder to an ASCII address) is assembled directly: the same structure,
    quoted-printable UTF-8 bodies. Anything else goes through ``build_message``.
    """
    headers = {
        "From": sender,
        "To": mail.to,
        "Subject": mail.subject,
        "Message-ID": mail.message_id,
        **mail.headers,
    }
    if not all(_plain_header(value) for value in headers.values()):
        international = not (mail.to.isascii() and sender.isascii())
        return build_message(mail, sender).as_bytes(policy=SMTPUTF8 if international else SMTP)
    boundary = f"==============={secrets.token_hex(12)}=="
    lines = [f"{name}: {value}" for name, value in headers.items()]
    lines.insert(4, f"Date: {format_datetime(clock.now())}")
    lines += [
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
    ]
    head = "\r\n".join(lines).encode("ascii")
    parts = [head]
    for subtype, content in (("plain", mail.text), ("html", mail.html)):
        parts.append(
            f'--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n".encode("ascii")
        )
        parts.append(_quoted_printable(content))
    parts.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"\r\n".join(parts)


def _plain_header(value: str) -> bool:
    return value.isascii() and "\r" not in value and "\n" not in value and len(value) < 900


def _quoted_printable(text: str) -> bytes:
    if not text.endswith("\n"):
        text += "\n"
    encoded = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return encoded.replace(b"\n", b"\r\n")


@lru_cache(maxsize=16)
def sender_domain(sender: str) -> str:
    """The domain of ``MAIL_FROM``, for Message-IDs."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


class Mailer:
    """Sends messages over one SMTP connection, opened on first use and reused.

    Use as a context manager; ``send`` raises ``MailRefused`` for one refused
    message (the connection stays usable) and ``MailUnavailable`` when the
    connection itself failed.
    """

    def __init__(self, smtp_url: str | None, sender: str) -> None:
        self.smtp_url = smtp_url
        self.sender = sender
        self.envelope_sender = parseaddr(sender)[1] or sender
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, mail: Mail) -> None:
        """Hand one message to the server (or, without SMTP_URL, to the log)."""
        if self.smtp_url is None:
            self._log(mail)
            return
        message = message_bytes(mail, self.sender)
        smtp = self._connection()
        options = () if mail.to.isascii() else ("SMTPUTF8",)
        try:
            smtp.sendmail(self.envelope_sender, [mail.to], message, mail_options=options)
        except smtplib.SMTPNotSupportedError:
            raise MailRefused(553, "the server does not accept international addresses") from None
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()))
            raise MailRefused(code, _reason(reason)) from None
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            raise MailRefused(exc.smtp_code, _reason(exc.smtp_error)) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise MailUnavailable(f"{type(exc).__name__}: {without_addresses(str(exc))}") from None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        assert self.smtp_url is not None
        parts = urlsplit(self.smtp_url)
        host = parts.hostname or "localhost"
        context = ssl.create_default_context()
        try:
            smtp: smtplib.SMTP
            if parts.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(
                    host, parts.port or 465, timeout=SMTP_TIMEOUT_SECONDS, context=context
                )
            else:
                smtp = smtplib.SMTP(host, parts.port or 587, timeout=SMTP_TIMEOUT_SECONDS)
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=context)
                    smtp.ehlo()
                elif host not in _LOOPBACK:
                    # Never send readers' addresses (or our password) in clear over a network.
                    smtp.close()
                    raise MailUnavailable(f"{host} does not offer STARTTLS; use smtps:// or fix it")
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
        except (smtplib.SMTPException, OSError) as exc:
            raise MailUnavailable(f"cannot connect to {host}: {type(exc).__name__}") from None
        self._smtp = smtp
        return smtp

    def _log(self, mail: Mail) -> None:
        def redacted(text: str) -> str:
            for secret in mail.secrets:
                text = text.replace(secret, "[redacted]")
            return text.replace(mail.to, mask_email(mail.to))

        # A warning, so it shows with no logging set up (development runs the CLI bare).
        log.warning(
            "SMTP_URL is not set, so this email was not sent:\nTo: %s\nSubject: %s\n%s\n\n%s",
            mask_email(mail.to),
            mail.subject,
            redacted("\n".join(f"{name}: {value}" for name, value in mail.headers.items())),
            redacted(mail.text),
        )


def _reason(reason: bytes | str) -> str:
    text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return without_addresses(text)[:300]


def message_id_for(kind: str, secret: str, sender: str) -> str:
    """A Message-ID the same for every attempt at one email, so receivers drop a duplicate:
    ``<kind.hash@domain>``, a hash because the secret (a link's token) opens something."""
    digest = hashlib.sha256(secret.encode()).hexdigest()[:32]
    return f"<{kind}.{digest}@{sender_domain(sender)}>"
