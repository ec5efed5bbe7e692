"""Email on the wire: the fast assembly matches what the email package builds."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from membership.mail import Mail, build_message, mask_email, message_bytes, without_addresses

MAIL = Mail(
    to="reader@example.org",
    subject="Your reminder",
    text="A gift of €5.00 a month.\nLine two, " + "long " * 40 + "\n",
    html="<p>A gift of <b>€5.00</b> a month.</p>\n",
    message_id="<reminder.abc@news.example>",
    headers={"List-Unsubscribe": "<https://s.example/remind-me/cancel/t>"},
)


def parsed(raw: bytes):  # noqa: ANN201 - an EmailMessage
    return message_from_bytes(raw, policy=policy.default)


@pytest.mark.parametrize(
    "sender",
    ["Newsroom <support@news.example>", "Редакция <support@news.example>"],
    ids=["ascii-sender-fast-path", "international-sender-email-package"],
)
def test_the_message_on_the_wire_has_every_header_and_both_bodies(sender: str) -> None:
    raw = message_bytes(MAIL, sender)
    assert b"\r\n\r\n" in raw
    message = parsed(raw)
    reference = parsed(build_message(MAIL, sender).as_bytes())
    for name in ("From", "To", "Subject", "Message-ID", "List-Unsubscribe", "MIME-Version"):
        assert str(message[name]) == str(reference[name]), name
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    for subtype in ("plain", "html"):
        ours = message.get_body(preferencelist=(subtype,))
        theirs = reference.get_body(preferencelist=(subtype,))
        assert ours is not None and theirs is not None
        assert ours.get_content().replace("\r\n", "\n") == theirs.get_content().replace(
            "\r\n", "\n"
        )
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_a_header_with_a_line_break_is_refused() -> None:
    forged = Mail(**{**MAIL.__dict__, "subject": "Hi\r\nBcc: everyone@example.org"})
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        message_bytes(forged, "support@news.example")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("reader@example.org", "r***@example.org"),
        ("550 <a.b+c@mail.example.org>: unknown", "550 <a***@mail.example.org>: unknown"),
        ("no address here", "no address here"),
    ],
    ids=["address", "in-a-server-answer", "nothing-to-mask"],
)
def test_addresses_are_masked(text: str, masked: str) -> None:
    assert without_addresses(text) == masked
    assert mask_email("x") == "***"
