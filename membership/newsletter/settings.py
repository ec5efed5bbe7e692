"""The newsletter's settings, read once when the app starts.

Who the newsroom is comes from the app's validated ``Settings`` (``membership.identity``),
so the consent wording, the pages and the emails name the same publication and privacy
policy, from the same environment ``create_app`` was given. The newsletter's own settings
are taken from the Flask config (as ``create_app(**overrides)`` sets it), else from the
process environment. A malformed value stops the app at start-up with a sentence that
says what to set, as ``config`` does.

- ``PRIVACY_POLICY_URL`` / ``PUBLICATION_NAME``: the identity's; a consent records the URL
  in force, or None when none is set.
- ``NEWSLETTER_LANGUAGES``: the languages offered, comma-separated, the first the default;
  by default the languages readers are served in (``SUPPORTED_LANGUAGES``), so a Russian
  footer's sign-up is made, confirmed and recorded in Russian.
- ``NEWSLETTER_SIGNUP_LIMIT_PER_IP`` / ``NEWSLETTER_SIGNUP_LIMIT_PER_EMAIL``: rate limits.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

from membership.config import ConfigError, Settings, rate_limit
from membership.identity.settings import DEFAULT_NAME

EXTENSION = "membership.newsletter"
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")


@dataclass(frozen=True)
class NewsletterSettings:
    """What the newsletter needs beyond the mail settings it shares with reminders."""

    privacy_policy_url: str | None = None
    publication_name: str = DEFAULT_NAME
    languages: tuple[str, ...] = ("en",)
    signup_limit_per_ip: str = "10 per minute;100 per hour"
    signup_limit_per_email: str = "3 per hour;5 per day"

    @property
    def default_language(self) -> str:
        return self.languages[0]


def load(app: Flask) -> NewsletterSettings:
    """The newsletter's settings for ``app``; raises ``ConfigError`` on a malformed one."""
    app_settings: Settings = app.extensions["membership.settings"]
    identity = app_settings.identity

    def read(name: str) -> str:
        value = app.config.get(name)
        if value is None:
            value = os.environ.get(name, "")
        return str(value).strip()

    languages = tuple(
        dict.fromkeys(part.strip().lower() for part in read("NEWSLETTER_LANGUAGES").split(","))
    )
    languages = tuple(language for language in languages if language)
    bad = [language for language in languages if not _LANGUAGE.match(language)]
    if bad:
        raise ConfigError(
            "NEWSLETTER_LANGUAGES must list language tags such as en,es,pt-br, "
            f"not {', '.join(bad)}."
        )
    return NewsletterSettings(
        privacy_policy_url=identity.privacy_policy_url,
        publication_name=identity.publication_name,
        languages=languages or app_settings.supported_languages,
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
