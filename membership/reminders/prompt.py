"""Whether a browser should see the support prompt: snoozed, or just gave.

Both facts live only in the browser, in signed cookies with an expiry; the
server stores nothing about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Response, current_app
from itsdangerous import BadSignature, URLSafeSerializer

from membership import clock
from membership.config import current_settings

SNOOZE_COOKIE = "membership_snooze"
GAVE_COOKIE = "membership_gave"
DEFAULT_SNOOZE_DAYS = 30
MAX_SNOOZE_DAYS = 90
# After a gift the prompt stays away this long: long enough not to ask a new supporter
# again, short enough that a one-time giver hears from us next season.
GAVE_QUIET_DAYS = 60


@dataclass(frozen=True)
class PromptDecision:
    show: bool


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"membership.{salt}")


def _set(response: Response, name: str, until: datetime, now: datetime) -> None:
    production = current_settings().env == "production"
    response.set_cookie(
        name,
        _serializer(name).dumps({"until": int(until.timestamp())}),
        max_age=int((until - now).total_seconds()),
        httponly=True,
        secure=production,
        # The footer widget runs on article pages, perhaps on another site: in production
        # the cookie must travel on its cross-site requests (which needs Secure).
        samesite="None" if production else "Lax",
    )


def _until(cookies: dict[str, str], name: str) -> int | None:
    raw = cookies.get(name)
    if not raw:
        return None
    try:
        value = _serializer(name).loads(raw)
    except BadSignature:
        return None
    until = value.get("until") if isinstance(value, dict) else None
    return until if isinstance(until, int) else None


def snooze_until(days: int, now: datetime | None = None) -> datetime:
    return (now or clock.now()) + timedelta(days=days)


def snooze(response: Response, until: datetime, now: datetime | None = None) -> None:
    """Hide the prompt in this browser until ``until``."""
    _set(response, SNOOZE_COOKIE, until, now or clock.now())


def mark_gave(response: Response, now: datetime | None = None) -> None:
    """The thank-you page: this browser just gave, so stop asking it for a while."""
    now = now or clock.now()
    _set(response, GAVE_COOKIE, now + timedelta(days=GAVE_QUIET_DAYS), now)


def decide(cookies: dict[str, str], now: datetime | None = None) -> PromptDecision:
    """Show the prompt unless this browser just gave or snoozed it (and it has not expired).
    Which of the two is never said: any script on the article page reads the answer."""
    timestamp = (now or clock.now()).timestamp()
    quiet_until = (_until(cookies, GAVE_COOKIE), _until(cookies, SNOOZE_COOKIE))
    return PromptDecision(show=not any(t is not None and t > timestamp for t in quiet_until))
