"""Sending: one email per due reminder through a real SMTP server, links that work,
backoff and bounded retries, stale claims, and nothing sent that should not be."""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from membership import create_app
from membership.config import Settings
from membership.extensions import db
from membership.reminders import cli, sender, service
from membership.reminders.models import Reminder
from tests.conftest import app_environ
from tests.reminders.conftest import NOON, SmtpSink, due_moment, free_port, make_reminder, with_smtp


def fresh(reminder: Reminder) -> Reminder:
    db.session.rollback()  # a fresh read: see what the app committed
    found = db.session.get(Reminder, reminder.id)
    assert found is not None
    return found


def links_in(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    urls = re.findall(r"http://support\.test/\S+", text.get_content())
    support = next(url for url in urls if "/support?" in url)
    cancel = next(url for url in urls if "/remind-me/cancel/" in url)
    return support, cancel


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def test_a_due_reminder_is_sent_once_with_working_links(
    app_ctx: None, client: FlaskClient, settings: Settings, smtp: SmtpSink
) -> None:
    reminder = make_reminder(
        "Reader@Example.org", frequency="monthly", amount="5", currency="EUR", source="footer"
    )
    assert (
        sender.send_due_reminders(settings, now=due_moment(reminder) - timedelta(minutes=1)).sent
        == 0
    )
    assert smtp.received == []

    report = sender.send_due_reminders(settings, now=due_moment(reminder))
    assert (report.sent, report.failed, report.retrying) == (1, 0, 0)
    (message,) = smtp.received
    assert message["To"] == "reader@example.org"
    assert message["From"] == "reminders@localhost"
    assert "support independent journalism" in message["Subject"]
    assert re.fullmatch(r"<reminder\.[0-9a-f]{32}@localhost>", message["Message-ID"])
    assert reminder.token not in message["Message-ID"]
    cancel_url = f"http://support.test/remind-me/cancel/{reminder.token}"
    assert message["List-Unsubscribe"] == f"<{cancel_url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(preferencelist=("html",))
    assert html is not None and cancel_url in html.get_content()
    assert "<img" not in html.get_content()  # no tracking pixels
    text = message.get_body(preferencelist=("plain",))
    assert text is not None and "a monthly gift of €5.00" in text.get_content()

    support_url, cancel_link = links_in(message)
    assert cancel_link == cancel_url
    query = parse_qs(urlsplit(support_url).query)
    assert query["reminder"] == [reminder.token]
    assert (query["frequency"], query["amount"], query["currency"]) == (["monthly"], ["5"], ["EUR"])
    page = client.get(path_of(support_url)).get_data(as_text=True)
    assert f'name="reminder" value="{reminder.token}"' in page
    assert re.search(r'value="5"\s+checked', page)
    confirm = client.get(path_of(cancel_link))
    assert confirm.status_code == 200
    assert "already sent" in confirm.get_data(as_text=True)

    sent = fresh(reminder)
    assert (sent.status, sent.sent_at, sent.attempts) == ("sent", due_moment(reminder), 1)
    again = sender.send_due_reminders(settings, now=due_moment(reminder, timedelta(days=30)))
    assert again.sent == 0 and len(smtp.received) == 1


def test_the_email_says_how_the_address_came_to_us_and_that_ignoring_it_keeps_nothing(
    app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    """Anyone may type anyone's address: the email, to an address that confirmed nothing,
    says who asked and where, that ignoring it is enough, and carries no tracking."""
    reminder = make_reminder()
    sender.send_due_reminders(settings, now=due_moment(reminder))
    (message,) = smtp.received
    for kind in ("plain", "html"):
        part = message.get_body(preferencelist=(kind,))
        assert part is not None
        body = " ".join(part.get_content().split())
        assert "Someone, probably you, asked on support.test to be reminded" in body
        assert "ignore this email: we will not write again, and we keep nothing" in body
        assert "once 30 days have passed" in body
        assert "<img" not in body and "utm_content" not in body
        # The links: the cancel link and the one back to the gift, nothing else.
        assert len(re.findall(r"https?://", body)) == (2 if kind == "plain" else 2)


def test_the_cancel_link_confirms_then_cancels_at_once(
    app_ctx: None, client: FlaskClient, settings: Settings, smtp: SmtpSink
) -> None:
    reminder = make_reminder()
    page = client.get(f"/remind-me/cancel/{reminder.token}")
    assert page.status_code == 200
    assert "Cancel your reminder?" in page.get_data(as_text=True)
    assert fresh(reminder).status == "scheduled"  # a link scanner's GET changes nothing

    done = client.post(f"/remind-me/cancel/{reminder.token}")
    assert done.status_code == 200
    assert "Your reminder is cancelled" in done.get_data(as_text=True)
    assert fresh(reminder).status == "cancelled"
    assert client.post(f"/remind-me/cancel/{reminder.token}").status_code == 200
    assert sender.send_due_reminders(settings, now=due_moment(reminder)).sent == 0
    assert smtp.received == []


def test_one_click_unsubscribe_from_the_received_header_cancels(
    app_ctx: None, client: FlaskClient, settings: Settings, smtp: SmtpSink
) -> None:
    reminder = make_reminder()
    # A reminder sent, then the reader asks again: the new one is cancelled from a mail client.
    sender.send_due_reminders(settings, now=due_moment(reminder))
    second = make_reminder(when="1m", now=due_moment(reminder))
    second.due_at = due_moment(reminder, timedelta(days=1))
    db.session.commit()
    sender.send_due_reminders(settings, now=due_moment(second))
    header = smtp.received[-1]["List-Unsubscribe"]
    response = client.post(
        path_of(header.strip("<>")),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert fresh(second).status == "sent"  # already sent: nothing left to cancel
    assert fresh(reminder).status == "sent"


@pytest.mark.parametrize("token", ["x" * 10, "y" * 43, "z" * 65], ids=["short", "unknown", "long"])
def test_unknown_cancel_token_is_404(client: FlaskClient, token: str) -> None:
    assert client.get(f"/remind-me/cancel/{token}").status_code == 404
    assert client.post(f"/remind-me/cancel/{token}").status_code == 404


def test_temporary_refusal_backs_off_then_sends(
    app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    reminder = make_reminder("bounce.later@example.org")
    smtp.refuse = lambda message: "451 4.3.0 <bounce.later@example.org> try again later"
    start = due_moment(reminder)
    report = sender.send_due_reminders(settings, now=start)
    assert (report.sent, report.retrying) == (0, 1)
    refused = fresh(reminder)
    assert (refused.status, refused.attempts) == ("scheduled", 1)
    assert refused.next_attempt_at == start + timedelta(minutes=5)
    assert refused.last_error is not None and refused.last_error.startswith("451")
    assert "bounce.later@" not in refused.last_error  # no addresses kept in errors

    smtp.refuse = None
    assert sender.send_due_reminders(settings, now=start + timedelta(minutes=4)).sent == 0
    assert sender.send_due_reminders(settings, now=start + timedelta(minutes=5)).sent == 1
    assert fresh(reminder).status == "sent"
    assert len(smtp.received) == 1


def test_attempts_are_bounded_and_failure_is_visible_to_staff(
    app: Flask, app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    reminder = make_reminder()
    smtp.refuse = lambda message: "421 4.7.0 busy"
    moment = due_moment(reminder)
    for attempt in range(1, 6):
        report = sender.send_due_reminders(settings, now=moment)
        assert report.retrying + report.failed == 1
        moment += sender.backoff(attempt)
    failed = fresh(reminder)
    assert (failed.status, failed.attempts) == ("failed", 5)
    assert sender.send_due_reminders(settings, now=moment + timedelta(days=1)).due == 0
    assert [b for b in (sender.backoff(n) for n in range(1, 6))] == [
        timedelta(minutes=5),
        timedelta(minutes=20),
        timedelta(minutes=80),
        timedelta(minutes=320),
        timedelta(hours=6),
    ]
    output = app.test_cli_runner().invoke(args=["reminders", "status", "--failed"]).output
    assert re.search(r"failed\s+1", output)
    assert f"#{reminder.id} due" in output and "421 4.7.0 busy" in output
    assert "reader@example.org" not in output


def test_permanent_refusal_fails_at_once(app_ctx: None, settings: Settings, smtp: SmtpSink) -> None:
    reminder = make_reminder("nobody@example.org")
    smtp.refuse_rcpt = lambda address: "550 5.1.1 <nobody@example.org>: no such user"
    report = sender.send_due_reminders(settings, now=due_moment(reminder))
    assert report.failed == 1
    failed = fresh(reminder)
    assert failed.status == "failed"
    assert failed.last_error == "550 5.1.1 <n***@example.org>: no such user"


def test_a_dead_workers_claim_is_taken_again_after_the_timeout(
    app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    reminder = make_reminder()
    moment = due_moment(reminder)
    (claimed,) = sender._claim(settings, moment, "dead-worker", 10)  # then it died
    assert fresh(reminder).status == "sending"
    timeout = timedelta(seconds=settings.reminders.claim_timeout_seconds)
    assert sender.send_due_reminders(settings, now=moment + timeout).sent == 0
    report = sender.send_due_reminders(settings, now=moment + timeout + timedelta(seconds=1))
    assert report.sent == 1
    taken = fresh(reminder)
    assert (taken.status, taken.attempts) == ("sent", 2)
    assert taken.claimed_by != "dead-worker"
    assert len(smtp.received) == 1


def test_a_batch_that_outlives_its_claim_sends_nothing_twice(
    app: Flask, app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    """A worker still sending when its claim goes stale must not race the worker that takes
    the claim over: it gives back what it could not start in time, and claims it afresh."""
    reminders = [make_reminder(f"reader{n}@example.org") for n in range(24)]
    quick = with_smtp(settings, smtp.url, claim_timeout_seconds=2)  # sends start within 1 s
    smtp.refuse = lambda message: time.sleep(0.1)  # accepted, after 0.1 s: 2.4 s in all

    def second_worker() -> None:
        time.sleep(2.05)  # a claim taken at the start is stale now; one batch needs 2.4 s
        with app.app_context():
            sender.send_due_reminders(quick, worker="second")

    thread = threading.Thread(target=second_worker)
    thread.start()
    sender.send_due_reminders(quick, worker="first")
    thread.join()
    sender.send_due_reminders(quick, worker="third")  # whatever was given back late

    message_ids = [str(message["Message-ID"]) for message in smtp.received]
    assert len(message_ids) == len(set(message_ids)) == 24
    assert {fresh(reminder).status for reminder in reminders} == {"sent"}
    assert {fresh(reminder).attempts for reminder in reminders} == {1}


def test_a_sending_window_leaves_room_for_one_slow_message() -> None:
    assert sender._sending_window(1800) == 1800 - 180  # a tenth of the timeout
    assert sender._sending_window(600) == 600 - 150  # five SMTP timeouts
    assert sender._sending_window(100) == 50  # never more than half


def test_a_batch_out_of_time_before_its_first_message_gives_it_all_back_and_stops(
    app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    reminders = [make_reminder(f"reader{n}@example.org") for n in range(3)]
    moment = due_moment(reminders[0])
    batch = sender._claim(settings, moment, "me", 10)
    report, go_on = SendReportProbe.send(settings, batch, moment, "me", stop_starting_at=0.0)
    assert go_on is False  # claiming again would only run out of time again
    assert smtp.received == [] and report.sent == 0
    for reminder in reminders:
        given_back = fresh(reminder)
        assert (given_back.status, given_back.attempts, given_back.claimed_by) == (
            "scheduled",
            0,
            None,
        )
        assert given_back.last_error is None  # not the mail server's fault


def test_a_claim_that_goes_stale_on_its_last_attempt_fails(
    app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    reminder = make_reminder()
    moment = due_moment(reminder)
    fresh(reminder).attempts = settings.reminders.max_attempts - 1
    db.session.commit()
    sender._claim(settings, moment, "dead-worker", 10)
    later = moment + timedelta(seconds=settings.reminders.claim_timeout_seconds + 1)
    assert sender.send_due_reminders(settings, now=later).sent == 0
    assert fresh(reminder).status == "failed"
    assert fresh(reminder).last_error == "worker stopped while sending"


def test_a_reminder_cancelled_after_its_claim_is_not_sent(
    app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    reminder = make_reminder()
    moment = due_moment(reminder)
    claimed = sender._claim(settings, moment, "me", 10)
    service.cancel_reminder(reminder.token)
    report = SendReportProbe.run(settings, claimed, moment, "me")
    assert (report.sent, report.skipped) == (0, 1)
    assert smtp.received == []
    assert fresh(reminder).status == "cancelled"


class SendReportProbe:
    """Runs one claimed batch through the sender as a worker would after its claim."""

    @staticmethod
    def run(
        settings: Settings, batch: list[sender.Claimed], now: object, worker: str
    ) -> sender.SendReport:
        return SendReportProbe.send(settings, batch, now, worker)[0]

    @staticmethod
    def send(
        settings: Settings,
        batch: list[sender.Claimed],
        now: object,
        worker: str,
        stop_starting_at: float = float("inf"),
    ) -> tuple[sender.SendReport, bool]:
        """The report, and whether the worker would go on to claim another batch."""
        from membership.mail import Mailer

        report = sender.SendReport()
        with Mailer(settings.reminders.smtp_url, settings.reminders.mail_from) as mailer:
            go_on = sender._send_batch(
                settings,
                mailer,
                batch,
                now,  # type: ignore[arg-type]
                worker,
                report,
                stop_starting_at,
            )
        return report, go_on


def test_an_unreachable_mail_server_releases_the_reminders(
    app: Flask, app_ctx: None, settings: Settings
) -> None:
    reminder = make_reminder()
    nowhere = with_smtp(settings, f"smtp://127.0.0.1:{free_port()}")
    report = sender.send_due_reminders(nowhere, now=due_moment(reminder))
    assert report.sent == 0 and report.errors
    released = fresh(reminder)
    assert (released.status, released.attempts, released.claimed_by) == ("scheduled", 0, None)


def test_dry_run_counts_and_changes_nothing(
    app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    first = make_reminder("a@example.org")
    make_reminder("b@example.org")
    make_reminder("c@example.org", when="1m")
    report = sender.send_due_reminders(settings, now=due_moment(first), dry_run=True)
    assert report.due == 2
    assert smtp.received == []
    assert {r.status for r in db.session.scalars(select(Reminder))} == {"scheduled"}


def test_limit_sends_at_most_that_many(app_ctx: None, settings: Settings, smtp: SmtpSink) -> None:
    reminders = [make_reminder(f"r{n}@example.org") for n in range(5)]
    report = sender.send_due_reminders(
        settings, now=due_moment(reminders[0]), limit=3, batch_size=2
    )
    assert report.sent == 3
    assert len(smtp.received) == 3


def test_cli_send_uses_smtp_url_and_mail_from(
    app: Flask, database_url: str, smtp: SmtpSink
) -> None:
    cli_app = create_app(
        app_environ(
            database_url, SMTP_URL=smtp.url, MAIL_FROM="Our Newsroom <support@news.example>"
        )
    )
    with cli_app.app_context():
        reminder = make_reminder()
        reminder.due_at = NOON - timedelta(days=1)  # due already by the real clock
        db.session.commit()
    runner = cli_app.test_cli_runner()
    dry = runner.invoke(args=["reminders", "send", "--dry-run"])
    assert dry.exit_code == 0 and "1 reminder(s) due" in dry.output
    result = runner.invoke(args=["reminders", "send", "--limit", "10"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output
    (message,) = smtp.received
    assert message["From"] == "Our Newsroom <support@news.example>"
    assert message["Message-ID"].endswith("@news.example>")


def test_without_smtp_url_the_email_goes_to_the_log_masked_and_without_its_token(
    app_ctx: None, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """The development log shows the email, but not the key to its cancel link: whoever
    reads the log could cancel (or, through the support link, be taken for) the reader."""
    reminder = make_reminder("reader@example.org")
    caplog.set_level(logging.INFO, logger="membership.mail")
    report = sender.send_due_reminders(
        with_smtp(app.extensions["membership.settings"], None), now=due_moment(reminder)
    )
    assert report.sent == 1
    assert "r***@example.org" in caplog.text
    assert "reader@example.org" not in caplog.text
    assert "/remind-me/cancel/[redacted]" in caplog.text
    assert "reminder=[redacted]" in caplog.text
    assert reminder.token not in caplog.text


def test_production_refuses_to_send_without_smtp_url(app: Flask) -> None:
    settings = app.extensions["membership.settings"]
    production = with_smtp(settings.__class__(**{**settings.__dict__, "env": "production"}), None)
    with pytest.raises(sender.MailNotConfigured, match="SMTP_URL"):
        sender.send_due_reminders(production)


def test_a_dry_run_counts_in_production_without_smtp_url(app: Flask) -> None:
    """It sends nothing, so it needs no mail server: a check before configuring one."""
    settings = app.extensions["membership.settings"]
    production = with_smtp(settings.__class__(**{**settings.__dict__, "env": "production"}), None)
    with app.app_context():
        reminder = make_reminder("reader@example.org")
        report = sender.send_due_reminders(production, now=due_moment(reminder), dry_run=True)
    assert (report.due, report.sent) == (1, 0)


def test_the_worker_loop_sends_until_stopped(app: Flask, database_url: str, smtp: SmtpSink) -> None:
    """Reminders, and the newsletter's confirmations: one worker sends every email."""
    worker_app = create_app(app_environ(database_url, SMTP_URL=smtp.url))
    with worker_app.app_context():
        reminder = make_reminder()
        reminder.due_at = NOON - timedelta(days=1)
        db.session.commit()
    asked = worker_app.test_client().post(
        "/newsletter", json={"email": "letters@example.org", "consent": True}
    )
    assert asked.status_code == 202
    stop = threading.Event()

    def work() -> None:
        with worker_app.app_context():
            cli.run_worker(1, stop)

    thread = threading.Thread(target=work)
    thread.start()
    try:
        deadline = threading.Event()
        for _ in range(100):  # poll with a deadline (10 s), never a fixed sleep
            if len(smtp.received) >= 2:
                break
            deadline.wait(0.1)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert sorted(message["To"] for message in smtp.received) == [
        "letters@example.org",
        "reader@example.org",
    ]


def test_a_long_run_stamps_each_batch_with_its_own_time(
    app_ctx: None, settings: Settings, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    reminders = [make_reminder(f"r{n}@example.org") for n in range(3)]
    start = due_moment(reminders[0])
    ticks = iter(start + timedelta(hours=hour) for hour in range(100))
    monkeypatch.setattr("membership.clock.now", lambda: next(ticks))
    assert sender.send_due_reminders(settings, batch_size=1).sent == 3
    stamps = sorted(fresh(reminder).claimed_at for reminder in reminders)
    assert len(set(stamps)) == 3, "each batch was claimed at the time it was claimed"
    assert stamps[-1] - stamps[0] >= timedelta(hours=2)
