"""The subscriber list for the newsroom's mailing tool: CSV of confirmed subscribers only.

Columns ``email, language, confirmed_at, source``, nothing else; times ISO 8601 UTC to the
second; text a spreadsheet would read as a formula is prefixed with a quote, as
``reports.export`` does. Lines are yielded one at a time, read in batches.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import UTC

from sqlalchemy import select

from membership.extensions import db
from membership.newsletter.models import Subscriber
from membership.vocabulary import NewsletterStatus

COLUMNS = ("email", "language", "confirmed_at", "source")
BATCH_SIZE = 1000
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def subscriber_rows() -> Iterator[str]:
    """The header, then one CSV line per confirmed subscriber, oldest confirmation first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Sequence[str]) -> str:
        writer.writerow([_cell(cell) for cell in cells])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(COLUMNS)
    rows = db.session.execute(
        select(Subscriber.email, Subscriber.language, Subscriber.confirmed_at, Subscriber.source)
        .where(Subscriber.status == NewsletterStatus.CONFIRMED, Subscriber.email.is_not(None))
        .order_by(Subscriber.confirmed_at, Subscriber.id)
        .execution_options(yield_per=BATCH_SIZE)
    )
    for row in rows:
        confirmed = row.confirmed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        yield line((row.email, row.language, confirmed, row.source or ""))


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value
