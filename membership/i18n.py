"""Readers' languages: which one a request is served in, and the catalogues behind it.

A reader's language is, in this order: the one they (or the article page's footer) asked
for with a ``lang`` field (``?lang=ru``, a form field, or a JSON body's ``"lang"``), then
their browser's ``Accept-Language``, then the first of ``SUPPORTED_LANGUAGES``. A page
asked for explicitly keeps that language through its links and forms (``url_for`` adds
``lang``), so the reader stays in it from the footer to Checkout and back.

Templates have ``_()``, ``gettext()`` and ``ngettext()``; Python code imports ``gettext``,
``ngettext`` and ``lazy_gettext`` (for form labels and messages defined at import time)
from here. An email rendered outside a request (a worker) is rendered inside
``force_locale(language)`` with the language stored when the reader signed up.

The catalogues are ``membership/translations/<lang>/LC_MESSAGES/messages.po``, English
source strings; ``make translations`` extracts, updates and compiles them (docs/languages.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel import Locale, UnknownLocaleError
from flask import Flask, Response, current_app, g, has_app_context, has_request_context, request
from flask_babel import Babel, get_locale, gettext, lazy_gettext, ngettext, refresh
from flask_babel import force_locale as _babel_force_locale
from werkzeug.datastructures import LanguageAccept
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_accept_header

if TYPE_CHECKING:
    from membership.config import Settings

__all__ = [
    "TRANSLATIONS",
    "asked_language",
    "current_language",
    "force_locale",
    "gettext",
    "init_app",
    "language_for",
    "language_name",
    "lazy_gettext",
    "ngettext",
    "supported_languages",
]

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
# The language the source strings are written in: it needs no catalogue.
SOURCE_LANGUAGE = "en"
# The parameter (query, form field or JSON key) that asks for a language.
LANG_FIELD = "lang"
# A query that names it neither plainly nor percent-encoded need not be parsed for it.
_LANG_IN_QUERY = LANG_FIELD.encode()
# Responses whose words depend on the language: pages, plain text, API messages.
_WORDED_TYPES = ("text/html", "text/plain", "application/json")
# Staff pages (everything under /staff) stay English, whatever the browser asks for, and
# links to them carry no lang.
_STAFF_BLUEPRINTS = ("staff", "reports", "account_staff")

babel = Babel()


def init_app(app: Flask, settings: Settings) -> None:
    """Catalogues checked at start-up, the locale selector, ``_`` in every template."""
    from membership.config import ConfigError  # config imports web, which may import us

    missing = [
        language
        for language in settings.supported_languages
        if language != SOURCE_LANGUAGE and not _compiled(language)
    ]
    if missing:
        raise ConfigError(
            f"SUPPORTED_LANGUAGES lists {', '.join(missing)} but membership/translations has "
            "no compiled catalogue for it: run `make translations` (docs/languages.md)."
        )
    app.config["BABEL_DEFAULT_LOCALE"] = settings.supported_languages[0]
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    babel.init_app(app, locale_selector=_select_locale)
    app.before_request(_forget_an_earlier_choice)
    app.url_defaults(_keep_explicit_language)
    app.after_request(_vary_by_language)
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["language_name"] = language_name


def _compiled(language: str) -> bool:
    return (TRANSLATIONS / language.replace("-", "_") / "LC_MESSAGES" / "messages.mo").is_file()


def supported_languages() -> tuple[str, ...]:
    """The languages this app serves readers in, the first the default."""
    settings: Settings = current_app.extensions["membership.settings"]
    return settings.supported_languages


def language_for(raw: object) -> str | None:
    """The supported language a tag such as ``ru``, ``ru-RU`` or ``RU_ru`` names, or None.

    Used for what readers send (``lang``) and what was stored with a sign-up.
    """
    if not isinstance(raw, str):
        return None
    tag = raw.strip().replace("_", "-").lower()[:35]
    if not tag:
        return None
    supported = supported_languages()
    if tag in supported:
        return tag
    primary = tag.split("-", 1)[0]
    return primary if primary in supported else None


_EXPLICIT = "membership.explicit_language"  # request.environ key: read once a request


def _explicit_language() -> str | None:
    """The language this request asks for by name (``lang``), if it is one we serve.

    Read once a request: the locale selector, every ``url_for`` on the page (links keep
    the language) and the ``Vary`` header all ask, and ``GET /support`` is the page a
    surge of readers loads (``benchmarks/support_page.py``)."""
    if not has_request_context():
        return None
    environ = request.environ
    if _EXPLICIT not in environ:
        environ[_EXPLICIT] = _read_explicit_language()
    explicit: str | None = environ[_EXPLICIT]
    return explicit


def _read_explicit_language() -> str | None:
    try:
        query = request.query_string
        if (_LANG_IN_QUERY in query or b"%" in query) and LANG_FIELD in request.args:
            return language_for(request.args.get(LANG_FIELD))
        if request.method != "POST":
            return None
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return language_for(request.form.get(LANG_FIELD))
        if request.is_json:
            body = request.get_json(silent=True)
            if isinstance(body, dict):
                return language_for(body.get(LANG_FIELD))
    except (HTTPException, ValueError, RecursionError):
        # A body too large, JSON nested too deep or a query that is not UTF-8: its error
        # page is served in the browser's language; reading the request must not fail again.
        return None
    return None


def _select_language() -> str:
    """Flask-Babel's locale selector: ``lang``, then ``Accept-Language``, then the default;
    staff pages in English."""
    supported = supported_languages()
    if not has_request_context():
        return supported[0]
    if _is_staff_request():
        return SOURCE_LANGUAGE  # staff pages are written in English only
    explicit = _explicit_language()
    if explicit is not None:
        return explicit
    return _best_match(request.headers.get("Accept-Language", ""), supported)


@lru_cache(maxsize=512)
def _best_match(accept_language: str, supported: tuple[str, ...]) -> str:
    """The served language an ``Accept-Language`` header prefers. Remembered per header:
    browsers send a handful of distinct ones, and parsing one cost more than the rest of
    choosing a language."""
    accepted = LanguageAccept(parse_accept_header(accept_language))
    return accepted.best_match(supported, default=supported[0]) or supported[0]


@cache
def _locale(language: str) -> Locale:
    """The ``Locale`` of a served language, made once: Flask-Babel would parse the
    selector's answer again on every request."""
    locale = Locale.parse(language.replace("-", "_"))
    _LANGUAGE_OF[id(locale)] = language
    return locale


_LANGUAGE_OF: dict[int, str] = {}  # id of a Locale made by _locale: its language


def _select_locale() -> Locale:
    """Flask-Babel's locale selector (``_select_language``'s choice, as a ``Locale``)."""
    return _locale(_select_language())


def current_language() -> str:
    """The language the current request (or ``force_locale`` block) is served in."""
    if not has_app_context():
        return SOURCE_LANGUAGE
    if _BABEL_STATE not in g:
        # Flask-Babel has chosen nothing in this context yet, and nothing is forced (a
        # ``force_locale`` block keeps its choice there): it would ask our selector.
        return _select_language()
    locale = get_locale()
    if locale is None:
        return supported_languages()[0]
    known = _LANGUAGE_OF.get(id(locale))
    if known is not None:
        return known
    return language_for(str(locale)) or supported_languages()[0]


def language_name(tag: str) -> str:
    """A language's own name for itself ("English", "Русский"), for a choice of languages."""
    try:
        name = Locale.parse(tag.replace("-", "_")).get_display_name(tag.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return tag
    return (name or tag)[:1].upper() + (name or tag)[1:]


def asked_language(language: str | None) -> str | None:
    """The ``lang`` a link written for a reader of ``language`` should carry: None for the
    default language (its links need no asking) and for languages not served."""
    served = language_for(language)
    return served if served is not None and served != supported_languages()[0] else None


@contextmanager
def force_locale(language: str | None) -> Iterator[None]:
    """Render in ``language`` (a stored sign-up language; None or unknown: the default).

    Works in a request and in a worker's app context alike, which is where emails are
    rendered: ``with force_locale(reminder.language): mail = reminder_mail(...)``.
    """
    chosen = language_for(language) or supported_languages()[0]
    with _babel_force_locale(chosen.replace("-", "_")):
        yield


def _forget_an_earlier_choice() -> None:
    """Choose the language afresh for this request. Flask-Babel keeps its choice in ``g``,
    which a request shares with whatever app context was already open (a test's, a
    worker's); a request of its own starts with a new one, and nothing to forget."""
    if _BABEL_STATE in g:
        refresh()


_BABEL_STATE = "_flask_babel"  # where Flask-Babel keeps a context's choice in ``g``


def _vary_by_language(response: Response) -> Response:
    """A reader's page chosen by ``Accept-Language`` differs by it: caches must know.
    Scripts, styles and images are the same in every language: their caching is kept."""
    if _is_staff_request() or _explicit_language() is not None:
        return response
    content_type = response.headers.get("Content-Type", "")
    if content_type.split(";", 1)[0].strip().lower() in _WORDED_TYPES:  # its mimetype
        from membership.web.sessions import add_vary  # web imports config, config us

        add_vary(response, "Accept-Language")
    return response


def _is_staff_request() -> bool:
    from membership.web.sessions import is_staff_request  # web imports config, config us

    return is_staff_request()


def _keep_explicit_language(endpoint: str, values: dict[str, Any]) -> None:
    """Links and form actions of a page asked for in a language keep asking for it."""
    if LANG_FIELD in values or not has_request_context() or endpoint == "static":
        return
    if endpoint.split(".", 1)[0] in _STAFF_BLUEPRINTS:
        return
    explicit = _explicit_language()
    if explicit is not None:
        values[LANG_FIELD] = explicit
