"""The subscriber list for the newsroom's mailing tool: CSV of confirmed subscribers only.

Columns ``email, language, confirmed_at, source``, nothing else; times ISO 8601 UTC to the
second; text a spreadsheet would read as a formula is prefixed with a quote: the writer of
``reports.export``. Lines are yielded one at a time, read in batches.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select

from membership.extensions import db
from membership.newsletter.models import Subscriber
from membership.reports.export import csv_lines, iso_utc
from membership.vocabulary import NewsletterStatus

COLUMNS = ("email", "language", "confirmed_at", "source")
BATCH_SIZE = 1000


def subscriber_rows() -> Iterator[str]:
    """The header, then one CSV line per confirmed subscriber, oldest confirmation first."""
    rows = db.session.execute(
        select(Subscriber.email, Subscriber.language, Subscriber.confirmed_at, Subscriber.source)
        .where(Subscriber.status == NewsletterStatus.CONFIRMED, Subscriber.email.is_not(None))
        .order_by(Subscriber.confirmed_at, Subscriber.id)
        .execution_options(yield_per=BATCH_SIZE)
    )
    return csv_lines(
        COLUMNS,
        ((row.email, row.language, iso_utc(row.confirmed_at), row.source) for row in rows),
    )
