"""The newsletter's settings, read once when the app starts.

``membership.config`` does not (yet) know the newsletter, so this small reader takes each
setting from the app's ``Settings`` if it has it, else from the Flask config (as
``create_app(**overrides)`` sets it), else from the process environment. A malformed value
stops the app at start-up with a sentence that says what to set, as ``config`` does.

- ``PRIVACY_POLICY_URL``: recorded with every consent; None when unset (and recorded so).
- ``PUBLICATION_NAME``: named in the consent wording and the emails; default "our newsroom".
- ``NEWSLETTER_LANGUAGES``: the languages offered, comma-separated, the first the default.
- ``NEWSLETTER_SIGNUP_LIMIT_PER_IP`` / ``NEWSLETTER_SIGNUP_LIMIT_PER_EMAIL``: rate limits.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app

from membership.config import ConfigError, rate_limit

EXTENSION = "membership.newsletter"
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")


@dataclass(frozen=True)
class NewsletterSettings:
    """What the newsletter needs beyond the mail settings it shares with reminders."""

    privacy_policy_url: str | None = None
    publication_name: str = "our newsroom"
    languages: tuple[str, ...] = ("en",)
    signup_limit_per_ip: str = "10 per minute;100 per hour"
    signup_limit_per_email: str = "3 per hour;5 per day"

    @property
    def default_language(self) -> str:
        return self.languages[0]


def load(app: Flask) -> NewsletterSettings:
    """The newsletter's settings for ``app``; raises ``ConfigError`` on a malformed one."""
    app_settings = app.extensions.get("membership.settings")

    def read(name: str) -> str:
        value = getattr(app_settings, name.lower(), None)
        if value is None:
            value = app.config.get(name)
        if value is None:
            value = os.environ.get(name, "")
        return str(value).strip()

    privacy_url = read("PRIVACY_POLICY_URL") or None
    if privacy_url is not None:
        parts = urlsplit(privacy_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                "PRIVACY_POLICY_URL must be the web address of the privacy policy, such as "
                f"https://news.example.org/privacy, not {privacy_url!r}."
            )
    languages = tuple(
        dict.fromkeys(part.strip().lower() for part in read("NEWSLETTER_LANGUAGES").split(","))
    )
    languages = tuple(language for language in languages if language) or ("en",)
    bad = [language for language in languages if not _LANGUAGE.match(language)]
    if bad:
        raise ConfigError(
            "NEWSLETTER_LANGUAGES must list language tags such as en,es,pt-br, "
            f"not {', '.join(bad)}."
        )
    return NewsletterSettings(
        privacy_policy_url=privacy_url,
        publication_name=read("PUBLICATION_NAME") or NewsletterSettings.publication_name,
        languages=languages,
        signup_limit_per_ip=_limits(read, "NEWSLETTER_SIGNUP_LIMIT_PER_IP"),
        signup_limit_per_email=_limits(read, "NEWSLETTER_SIGNUP_LIMIT_PER_EMAIL"),
    )


def _limits(read: Callable[[str], str], name: str) -> str:
    """Rate limits, validated as ``config`` validates every other."""
    default = getattr(NewsletterSettings, name.removeprefix("NEWSLETTER_").lower())
    return rate_limit({name: read(name)}, name, default)


def current() -> NewsletterSettings:
    """The newsletter settings of the app handling the current request or command."""
    settings: NewsletterSettings = current_app.extensions[EXTENSION]
    return settings
