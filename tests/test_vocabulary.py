"""One vocabulary: the database's CHECK constraints say what the enums say."""

from __future__ import annotations

import pytest
from sqlalchemy import CheckConstraint

from membership import models
from membership.vocabulary import (
    Frequency,
    RecurringStatus,
    ReminderStatus,
    sql_in,
)


def checks(table: str) -> dict[str | None, str]:
    constraints = models.Reminder.metadata.tables[table].constraints
    return {
        str(c.name).removeprefix(f"ck_{table}_"): str(c.sqltext)
        for c in constraints
        if isinstance(c, CheckConstraint)
    }


def test_check_constraints_are_written_from_the_vocabulary() -> None:
    assert checks("checkout_attempts")["frequency_known"] == (
        "frequency IN ('once', 'monthly', 'annual')"
    )
    assert checks("stripe_prices")["frequency_known"] == "frequency IN ('monthly', 'annual')"
    assert checks("reminders")["status_known"] == sql_in("status", ReminderStatus)
    assert checks("reminders")["frequency_known"] == sql_in("frequency", Frequency, nullable=True)


def test_a_word_equals_its_string_and_has_a_label() -> None:
    assert Frequency.MONTHLY == "monthly" and Frequency.MONTHLY.label == "Monthly"
    assert Frequency.from_interval("year") is Frequency.ANNUAL
    assert Frequency.from_interval("week") is None
    assert list(RecurringStatus)[0] == "incomplete" and list(RecurringStatus)[-1] == "canceled"


@pytest.mark.parametrize("word", ["x'); DROP TABLE payments; --", "a b"], ids=["quote", "space"])
def test_only_vocabulary_words_are_written_into_sql(word: str) -> None:
    with pytest.raises(ValueError, match="not a vocabulary word"):
        sql_in("status", [word])
