"""Settings read from the environment once, validated at start-up.

Every setting is documented in the README with its default. A missing or
malformed setting fails here with a sentence that says what to set, never later
in the middle of a request.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from membership import money
from membership.identity.settings import IdentitySettings, load_identity
from membership.vocabulary import Frequency
from membership.web.digits import is_digits

FREQUENCIES: tuple[str, ...] = tuple(Frequency)
ENVIRONMENTS = ("development", "testing", "production")

DEFAULT_PRESETS: dict[str, tuple[str, ...]] = {
    "once": ("10", "25", "50"),
    "monthly": ("2", "5", "10"),
    "annual": ("25", "50", "100"),
}
DEFAULT_MIN_MAJOR = "2"
DEFAULT_MAX_MAJOR = "10000"


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class AmountRule:
    """What a reader may give for one frequency in one currency, in minor units."""

    presets: tuple[int, ...]
    minimum: int
    maximum: int


@dataclass(frozen=True)
class ReminderSettings:
    """Remind me later: mail, sending, retention, cross-site callers and rate limits."""

    smtp_url: str | None = None
    mail_from: str = "reminders@localhost"
    retention_days: int = 30
    max_attempts: int = 5
    claim_timeout_seconds: int = 1800
    cors_allowed_origins: tuple[str, ...] = ()
    signup_limit_per_ip: str = "10 per minute;100 per hour"
    signup_limit_per_email: str = "5 per hour;10 per day"


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one running app."""

    env: str
    secret_key: str
    database_url: str
    public_base_url: str
    currencies: tuple[str, ...]
    amount_rules: Mapping[tuple[str, str], AmountRule]
    stripe_secret_key: str | None = None
    stripe_webhook_secrets: tuple[str, ...] = ()
    stripe_api_base: str | None = None
    stripe_products: Mapping[str, str] = field(default_factory=dict)
    reminders: ReminderSettings = field(default_factory=ReminderSettings)
    staff_require_totp: bool = False
    # Earlier SECRET_KEYs, after a rotation: they still open sessions and sealed TOTP secrets.
    secret_key_fallbacks: tuple[str, ...] = ()
    ratelimit_storage_uri: str = "memory://"
    trusted_proxy_hops: int = 0
    # Each Continue opens a Stripe Checkout Session: a flood would spend Stripe's API
    # limit (readers could no longer give) and fill the reports with made-up sources.
    checkout_limit_per_ip: str = "20 per minute;200 per hour"
    # Supporters a care or admin account may find or open, per account: one at a time, by
    # need, never a walk through everyone by id or through a list of emails.
    staff_supporter_limit: str = "60 per hour;300 per day"
    # The one host (``staff.example.org``, or with a port) that serves the staff pages;
    # /staff on any other host is a 404. None: every host serves them.
    staff_host: str | None = None
    # Supporter notices (membership.notices): the words a receipt carries for tax purposes
    # (RECEIPT_TEXT), and whether Stripe emails receipts instead (STRIPE_SENDS_RECEIPTS).
    receipt_text: str = ""
    stripe_sends_receipts: bool = False
    # The newsroom's name, addresses, logo, accent colour, payment methods (identity/).
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    # The languages readers are served in, the first the default (membership.i18n).
    supported_languages: tuple[str, ...] = ("en", "ru")

    @property
    def stripe_enabled(self) -> bool:
        """Checkout needs a secret key; without one the app runs in dev mode."""
        return bool(self.stripe_secret_key)

    @property
    def default_currency(self) -> str:
        return self.currencies[0]

    def amount_rule(self, frequency: str, currency: str) -> AmountRule:
        return self.amount_rules[(frequency, currency)]


def load_settings(
    environ: Mapping[str, str] | None = None, instance_path: str | None = None
) -> Settings:
    """Build Settings from environment variables (``os.environ`` by default)."""
    env_vars = os.environ if environ is None else environ
    env = env_vars.get("APP_ENV", "production").strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}.")
    try:
        return _load(env_vars, env, instance_path)
    except ConfigError as exc:
        if env_vars.get("APP_ENV", "").strip():
            raise
        # Production is the default, so a local checkout's first `flask` command lands here.
        raise ConfigError(
            f"{exc} (APP_ENV is not set, so these are production's rules; on a development "
            "machine set APP_ENV=development)"
        ) from None


def _load(env_vars: Mapping[str, str], env: str, instance_path: str | None) -> Settings:
    currencies = _parse_currencies(env_vars.get("SUPPORT_CURRENCIES", "USD,EUR,GBP"))
    webhook_secrets = _comma_list(env_vars.get("STRIPE_WEBHOOK_SECRET", ""))
    public_base_url = env_vars.get("PUBLIC_BASE_URL", "").strip().rstrip("/")
    if not public_base_url:
        if env == "production":
            raise ConfigError(
                "Set PUBLIC_BASE_URL to the public address of this app "
                "(for example https://support.example.org); Stripe sends readers back there."
            )
        public_base_url = "http://127.0.0.1:5000"
    if env == "production" and not public_base_url.lower().startswith("https://"):
        raise ConfigError(
            "PUBLIC_BASE_URL must start with https:// in production: reminder emails carry "
            "links whose token cancels the reminder, and Stripe sends readers back there."
        )

    stripe_secret_key = env_vars.get("STRIPE_SECRET_KEY", "").strip() or None
    if env == "production" and not (stripe_secret_key and webhook_secrets):
        raise ConfigError(
            "Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET in production: without them "
            "readers cannot give and no payment reaches the ledger."
        )

    return Settings(
        env=env,
        secret_key=_secret_key(env, env_vars.get("SECRET_KEY", ""), instance_path),
        database_url=_database_url(env_vars.get("DATABASE_URL", ""), instance_path),
        public_base_url=public_base_url,
        currencies=currencies,
        amount_rules=_parse_amount_rules(env_vars.get("SUPPORT_AMOUNTS", ""), currencies),
        stripe_secret_key=stripe_secret_key,
        stripe_webhook_secrets=webhook_secrets,
        stripe_api_base=env_vars.get("STRIPE_API_BASE", "").strip().rstrip("/") or None,
        stripe_products={
            frequency: value
            for frequency in FREQUENCIES
            if (value := env_vars.get(f"STRIPE_PRODUCT_{frequency.upper()}", "").strip())
        },
        reminders=_reminder_settings(env, env_vars),
        # On by default in production: a password alone opens every supporter's data.
        staff_require_totp=_flag(
            "STAFF_REQUIRE_TOTP",
            env_vars.get("STAFF_REQUIRE_TOTP", "true" if env == "production" else ""),
        ),
        secret_key_fallbacks=_comma_list(env_vars.get("SECRET_KEY_FALLBACKS", "")),
        ratelimit_storage_uri=_ratelimit_storage_uri(
            env, env_vars.get("RATELIMIT_STORAGE_URI", ""), env_vars.get("WEB_CONCURRENCY", "")
        ),
        trusted_proxy_hops=_proxy_hops(env_vars.get("TRUSTED_PROXY_HOPS", "")),
        staff_host=_host(env_vars.get("STAFF_HOST", "")),
        receipt_text=_receipt_text(env_vars.get("RECEIPT_TEXT", "")),
        stripe_sends_receipts=_flag(
            "STRIPE_SENDS_RECEIPTS", env_vars.get("STRIPE_SENDS_RECEIPTS", "")
        ),
        identity=load_identity(env_vars, instance_path),
        checkout_limit_per_ip=rate_limit(
            env_vars, "CHECKOUT_LIMIT_PER_IP", Settings.checkout_limit_per_ip
        ),
        staff_supporter_limit=rate_limit(
            env_vars, "STAFF_SUPPORTER_LIMIT", Settings.staff_supporter_limit
        ),
        supported_languages=_languages(env_vars.get("SUPPORTED_LANGUAGES", "")),
    )


def _reminder_settings(env: str, env_vars: Mapping[str, str]) -> ReminderSettings:
    smtp_url = env_vars.get("SMTP_URL", "").strip() or None
    if smtp_url is not None:
        parts = urlsplit(smtp_url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError(
                "SMTP_URL must look like smtp://user:password@host:587 (STARTTLS) or "
                "smtps://user:password@host:465 (TLS from the start)."
            )
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError as exc:
            raise ConfigError("SMTP_URL has a port that is not a number.") from exc
    mail_from = env_vars.get("MAIL_FROM", "").strip()
    if not mail_from:
        if env == "production" and smtp_url:
            raise ConfigError(
                "Set MAIL_FROM to the address reminders are sent from "
                "(for example 'Our Newsroom <support@news.example.org>')."
            )
        mail_from = "reminders@localhost"
    elif "@" not in mail_from:
        raise ConfigError("MAIL_FROM must be an email address, such as support@news.example.org.")
    origins = []
    for origin in env_vars.get("CORS_ALLOWED_ORIGINS", "").split(","):
        origin = origin.strip().rstrip("/")
        if not origin:
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise ConfigError(
                f"CORS_ALLOWED_ORIGINS entries must be origins such as https://news.example.org "
                f"(scheme and host, no path), not {origin!r}."
            )
        origins.append(origin.lower())
    return ReminderSettings(
        smtp_url=smtp_url,
        mail_from=mail_from,
        retention_days=_positive_int(env_vars, "REMINDER_RETENTION_DAYS", 30),
        max_attempts=_positive_int(env_vars, "REMINDER_MAX_ATTEMPTS", 5),
        claim_timeout_seconds=_positive_int(env_vars, "REMINDER_CLAIM_TIMEOUT_SECONDS", 1800),
        cors_allowed_origins=tuple(origins),
        signup_limit_per_ip=rate_limit(
            env_vars, "REMINDER_SIGNUP_LIMIT_PER_IP", ReminderSettings.signup_limit_per_ip
        ),
        signup_limit_per_email=rate_limit(
            env_vars, "REMINDER_SIGNUP_LIMIT_PER_EMAIL", ReminderSettings.signup_limit_per_email
        ),
    )


def rate_limit(env_vars: Mapping[str, str], name: str, default: str) -> str:
    """The rate limits ``name`` sets (``'10 per minute;100 per hour'``), else ``default``;
    ``ConfigError`` with a sentence when they are not limits."""
    value = env_vars.get(name, "").strip() or default
    if not _RATE_LIMIT.match(value):
        raise ConfigError(
            f"{name} must be rate limits such as '10 per minute;100 per hour', not {value!r}."
        )
    return value


_RATE_LIMIT = re.compile(
    r"^\s*\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day|month|year)s?\s*"
    r"([;,]\s*\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day|month|year)s?\s*)*$"
)


def _positive_int(env_vars: Mapping[str, str], name: str, default: int) -> int:
    raw = env_vars.get(name, "").strip()
    if not raw:
        return default
    if not is_digits(raw) or int(raw) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, not {raw!r}.")
    return int(raw)


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be true or false, not {raw!r}.")


MAX_RECEIPT_TEXT = 2000


def _receipt_text(raw: str) -> str:
    """RECEIPT_TEXT: the newsroom's words on every receipt (its legal name, tax number, that
    no goods were given in return); ``\\n`` in the variable starts a new line."""
    text = raw.replace("\\n", "\n").strip()
    if len(text) > MAX_RECEIPT_TEXT:
        raise ConfigError(
            f"RECEIPT_TEXT is {len(text)} characters long; keep it under {MAX_RECEIPT_TEXT}."
        )
    return text


def _host(raw: str) -> str | None:
    """A host name, with a port if given, as ``Host`` headers write it (lower case)."""
    value = raw.strip().lower()
    if not value:
        return None
    if "/" in value or "@" in value or " " in value:
        raise ConfigError(f"STAFF_HOST must be a host name such as staff.example.org, not {raw!r}.")
    return value


def _proxy_hops(raw: str) -> int:
    value = raw.strip() or "0"
    if not is_digits(value) or int(value) > 5:
        raise ConfigError(
            "TRUSTED_PROXY_HOPS must be the number of reverse proxies in front of the app "
            f"(0 to 5), not {raw!r}."
        )
    return int(value)


def _ratelimit_storage_uri(env: str, raw: str, workers_raw: str) -> str:
    """Where the limiter counts. ``memory://`` counts in each process: with several workers
    every limit would be that many times looser, so production refuses it then.
    ``WEB_CONCURRENCY`` (which gunicorn reads as its number of workers) says how many;
    unset, it is gunicorn's default of one."""
    uri = raw.strip() or "memory://"
    if "://" not in uri:
        raise ConfigError(
            "RATELIMIT_STORAGE_URI must be a storage URI such as memory:// or "
            f"redis://127.0.0.1:6379, not {raw!r}."
        )
    workers = workers_raw.strip()
    if workers and (not is_digits(workers) or int(workers) < 1):
        raise ConfigError(
            f"WEB_CONCURRENCY must be the number of web workers (1 or more), not {workers_raw!r}."
        )
    if env == "production" and uri.startswith("memory://") and workers and int(workers) > 1:
        raise ConfigError(
            f"RATELIMIT_STORAGE_URI is memory:// while WEB_CONCURRENCY is {workers}: each "
            "worker would count on its own, and every limit (Continue, sign-in) would be "
            f"{workers} times looser. Set RATELIMIT_STORAGE_URI to a store every worker "
            "shares, such as redis://127.0.0.1:6379/0, or serve with WEB_CONCURRENCY=1."
        )
    return uri


_LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")


def _languages(raw: str) -> tuple[str, ...]:
    """SUPPORTED_LANGUAGES (``"en,ru"``): lower-case tags, the first the default. Whether
    each has a catalogue is checked by ``membership.i18n`` at start-up."""
    tags = tuple(dict.fromkeys(part.replace("_", "-").lower() for part in _comma_list(raw)))
    if not tags:
        return Settings.supported_languages
    bad = [tag for tag in tags if not _LANGUAGE_TAG.match(tag)]
    if bad:
        raise ConfigError(
            f"SUPPORTED_LANGUAGES must list language tags such as en,ru, not {', '.join(bad)}."
        )
    return tags


def _comma_list(raw: str) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")``: several secrets in one variable, for rotation."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _secret_key(env: str, configured: str, instance_path: str | None) -> str:
    if configured:
        if env == "production" and len(configured) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production.")
        return configured
    if env == "production":
        raise ConfigError(
            "Set SECRET_KEY to a long random string (for example the output of "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`); "
            "the app refuses to start in production without it."
        )
    if instance_path is None:
        return secrets.token_hex(32)
    # Development: keep one key across restarts so sign-ins and forms survive a reload.
    key_file = Path(instance_path) / "dev-secret-key"
    if key_file.exists():
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def with_postgres_driver(url: str) -> str:
    """A database URL with psycopg named for PostgreSQL: ``postgres://`` and
    ``postgresql://`` (as hosting providers give them) mean ``postgresql+psycopg://``."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _database_url(configured: str, instance_path: str | None) -> str:
    url = with_postgres_driver(configured)
    if url:
        return url
    base = Path(instance_path) if instance_path else Path("instance")
    base.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(base / 'membership.sqlite3').resolve()}"


def _parse_currencies(raw: str) -> tuple[str, ...]:
    codes = tuple(dict.fromkeys(c.strip().upper() for c in raw.split(",") if c.strip()))
    if not codes:
        raise ConfigError("SUPPORT_CURRENCIES must list at least one currency, such as USD,EUR.")
    bad = [c for c in codes if not money.is_currency_code(c)]
    if bad:
        raise ConfigError(f"SUPPORT_CURRENCIES has codes that are not ISO 4217: {', '.join(bad)}.")
    return codes


def _parse_amount_rules(raw: str, currencies: tuple[str, ...]) -> dict[tuple[str, str], AmountRule]:
    """Resolve defaults <- "frequency" <- "frequency:CURRENCY" overrides from SUPPORT_AMOUNTS."""
    overrides: dict[str, Any] = {}
    if raw.strip():
        try:
            overrides = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"SUPPORT_AMOUNTS is not valid JSON: {exc}.") from exc
        if not isinstance(overrides, dict):
            raise ConfigError("SUPPORT_AMOUNTS must be a JSON object.")
        for key in overrides:
            frequency, _, currency = key.partition(":")
            if frequency not in FREQUENCIES or (currency and currency not in currencies):
                raise ConfigError(
                    f"SUPPORT_AMOUNTS key {key!r} must be a frequency ({', '.join(FREQUENCIES)}) "
                    "optionally followed by ':' and an enabled currency, such as 'monthly:EUR'."
                )

    rules: dict[tuple[str, str], AmountRule] = {}
    for frequency in FREQUENCIES:
        for currency in currencies:
            spec: dict[str, Any] = {
                "presets": list(DEFAULT_PRESETS[frequency]),
                "min": DEFAULT_MIN_MAJOR,
                "max": DEFAULT_MAX_MAJOR,
            }
            for key in (frequency, f"{frequency}:{currency}"):
                part = overrides.get(key) or {}
                if not isinstance(part, dict):
                    raise ConfigError(f"SUPPORT_AMOUNTS[{key!r}] must be an object.")
                spec.update({k: v for k, v in part.items() if k in ("presets", "min", "max")})
            rules[(frequency, currency)] = _amount_rule(frequency, currency, spec)
    return rules


def _amount_rule(frequency: str, currency: str, spec: dict[str, Any]) -> AmountRule:
    where = f"SUPPORT_AMOUNTS for {frequency} {currency}"
    try:
        minimum = money.to_minor(_decimal(spec["min"]), currency)
        maximum = money.to_minor(_decimal(spec["max"]), currency)
        presets = tuple(money.to_minor(_decimal(p), currency) for p in spec["presets"])
    except (money.InvalidAmount, InvalidOperation, TypeError) as exc:
        raise ConfigError(f"{where}: amounts must be numbers in major units ({exc}).") from exc
    # Stripe refuses anything below its own minimum charge, so never offer it.
    minimum = max(minimum, money.STRIPE_MINIMUM_MINOR.get(currency, 1))
    if minimum > maximum:
        raise ConfigError(f"{where}: min is above max.")
    if any(not minimum <= p <= maximum for p in presets):
        raise ConfigError(f"{where}: every preset must lie between min and max.")
    return AmountRule(presets=presets, minimum=minimum, maximum=maximum)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):  # JSON numbers such as 2.5 arrive as floats; read them exactly
        value = repr(value)
    return Decimal(str(value))


def current_settings() -> Settings:
    """The Settings of the app handling the current request or CLI command."""
    from flask import current_app

    settings: Settings = current_app.extensions["membership.settings"]
    return settings


# Bodies bigger than this are refused with 413 before any view reads them. Form fields
# have their own, much smaller, limits and get a message per field.
MAX_REQUEST_BYTES = 2 * 1024 * 1024


def flask_settings(settings: Settings) -> dict[str, Any]:
    """Flask's and its extensions' configuration, from ours."""
    production = settings.env == "production"
    return dict(
        SECRET_KEY=settings.secret_key,
        SECRET_KEY_FALLBACKS=list(settings.secret_key_fallbacks),
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        # hide_parameters: database errors then never carry emails or names into logs.
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "hide_parameters": True},
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        PREFERRED_URL_SCHEME="https" if production else "http",
        TESTING=settings.env == "testing",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session cookie
        # Signed with the current key, accepted under any kept one, as sessions are
        # (itsdangerous signs with the last key of the list and checks with all).
        WTF_CSRF_SECRET_KEY=[*settings.secret_key_fallbacks, settings.secret_key],
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_HEADERS_ENABLED=True,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=production,
    )
