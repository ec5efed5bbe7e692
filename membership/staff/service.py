"""Staff accounts: passwords, sign-in with lockout, the TOTP second factor.

Sign-in never tells whether an email belongs to an account: unknown emails, wrong
passwords, wrong codes, disabled and paused accounts all get ``SignInRefused`` with
one message, after the same argon2 work (an unknown email is checked against a dummy
hash). The one refusal made before any hashing depends on the client's address alone.

Failures are counted per client address and account (``SignInFailure``), so that whoever
knows an admin's email cannot keep the admin out:

- an address that failed ``LOCK_AFTER_FAILURES`` times in a row for one account is paused
  for that account (30 s, doubling with each further failure, at most an hour); the
  account signs in as usual from any other address;
- an address that failed ``ADDRESS_LOCK_AFTER_FAILURES`` times, whatever the emails, is
  paused for every account and refused before its password is hashed (argon2 costs
  64 MiB and tens of milliseconds a try);
- an account that failed ``ACCOUNT_SLOW_AFTER_FAILURES`` times across all addresses (a
  guesser with many addresses) is paused for addresses it has not signed in from
  lately, never for those it has.

A success clears its address's count for the account; the other counts are forgotten
after a quiet ``FORGET_AFTER``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from membership import clock
from membership.config import current_settings
from membership.extensions import db
from membership.models import normalise_email
from membership.staff import audit, sealing
from membership.staff.audit import record_audit
from membership.staff.models import ROLES, SignInFailure, StaffUser
from membership.web.digits import is_digits

log = logging.getLogger(__name__)

PASSWORD_MIN = 12
PASSWORD_MAX = 1024  # argon2 takes any length; this only bounds the work per request
# Failures from one address for one account before that address pauses for it.
LOCK_AFTER_FAILURES = 5
# Failures from one address, whatever the emails, before it pauses for every account.
ADDRESS_LOCK_AFTER_FAILURES = 20
# Failures for one account from all addresses before addresses it has not signed in from
# lately pause for it.
ACCOUNT_SLOW_AFTER_FAILURES = 20
FIRST_LOCK = timedelta(seconds=30)
LONGEST_LOCK = timedelta(hours=1)
# A count with no failure for this long starts again from nothing.
FORGET_AFTER = timedelta(days=1)
# An address the account signed in from within this long is never slowed for it.
KNOWN_ADDRESS_FOR = timedelta(days=90)
EVERY = "*"  # every address, or every account, in SignInFailure
TOTP_ISSUER = "Membership staff"
TOTP_STEP_SECONDS = 30
# A code from the step before or after is accepted too: phones' clocks drift.
TOTP_DRIFT_STEPS = 1
SIGN_IN_REFUSED = (
    "That email and password do not match an active account, or sign-in is paused "
    "after too many attempts. Check them and try again in a few minutes."
)

_hasher = PasswordHasher()


class SignInRefused(Exception):
    """Wrong email, password or code, or the account is disabled or paused: one message."""

    def __init__(self) -> None:
        super().__init__(SIGN_IN_REFUSED)


class PasswordRejected(ValueError):
    """A new password does not meet the policy; the message says why."""


class WrongPassword(ValueError):
    """The current password given to confirm a change is not the account's."""


class CodeRejected(ValueError):
    """A TOTP code given while enrolling is not the current one."""


class StaffAccountError(ValueError):
    """A ``flask staff`` command cannot do what was asked; the message says why."""


@dataclass(frozen=True)
class TotpEnrolment:
    """What the profile shows to add the account to an authenticator app, and the secret
    sealed (``sealing``), which is all the session may keep until the user confirms it."""

    secret: str
    uri: str
    qr_svg: str
    sealed: str


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def check_new_password(password: str) -> None:
    """Raise ``PasswordRejected`` unless ``password`` is long enough to keep."""
    if len(password) < PASSWORD_MIN:
        raise PasswordRejected(f"A password needs at least {PASSWORD_MIN} characters.")
    if len(password) > PASSWORD_MAX:
        raise PasswordRejected(f"A password can have at most {PASSWORD_MAX} characters.")
    if not password.strip():
        raise PasswordRejected("A password cannot be only spaces.")


def hash_password(password: str) -> str:
    """The argon2 hash of an accepted new password."""
    check_new_password(password)
    return _hasher.hash(password)


def _password_matches(password_hash: str, password: str) -> bool:
    if len(password) > PASSWORD_MAX:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find_staff(email: str) -> StaffUser | None:
    """The account signing in with ``email``, whatever its case and surrounding spaces."""
    return db.session.scalar(select(StaffUser).where(StaffUser.email == normalise_email(email)))


def lock_delay(failures: int, after: int = LOCK_AFTER_FAILURES) -> timedelta:
    """How long sign-in pauses after ``failures``, once ``after`` are reached: 30 s,
    doubling, at most 1 h."""
    if failures < after:
        return timedelta(0)
    doublings = min(failures - after, 16)  # 30 s * 2**16 is past the cap already
    return min(FIRST_LOCK * 2**doublings, LONGEST_LOCK)


def address_key(address: str | None) -> str:
    """The key under which a client address's failures are counted: a keyed hash (the
    table does not list who tried from where), of the /64 for IPv6 (one subscriber's)."""
    text = address or "unknown"
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        if isinstance(ip, ipaddress.IPv6Address):
            mapped = ip.ipv4_mapped
            text = str(mapped) if mapped else str(ipaddress.ip_network(f"{ip}/64", strict=False))
    key = current_settings().secret_key.encode()
    return hmac.new(key, b"staff-sign-in:" + text.encode(), hashlib.sha256).hexdigest()[:32]


def _row(address: str, account: str) -> SignInFailure | None:
    return db.session.get(SignInFailure, (address, account), populate_existing=True)


def _paused(row: SignInFailure | None, now: datetime) -> bool:
    return row is not None and row.locked_until is not None and row.locked_until > now


def _known(row: SignInFailure | None, now: datetime) -> bool:
    signed_in_at = row.signed_in_at if row is not None else None
    return signed_in_at is not None and signed_in_at > now - KNOWN_ADDRESS_FOR


def _address_paused(address: str, now: datetime) -> bool:
    """True when this address failed too often to try any account for now."""
    return _paused(_row(address, EVERY), now)


def _is_locked(user: StaffUser, address: str, now: datetime) -> bool:
    """True when ``user`` may not sign in from ``address`` now: that address failed too
    often for the account, or the account is guessed at from many addresses and this is
    not one it signed in from lately."""
    here = _row(address, str(user.id))
    if _paused(here, now):
        return True
    return not _known(here, now) and _paused(_row(EVERY, str(user.id)), now)


def _insert(**values: Any) -> Any:
    """An ``INSERT`` into ``SignInFailure`` for the session's database (PostgreSQL and
    SQLite spell ``ON CONFLICT`` alike)."""
    dialect = db.session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(SignInFailure).values(**values)


def _count_failure(address: str, account: str, now: datetime, after: int) -> None:
    """One more failure for (``address``, ``account``), in one statement so that guesses
    in parallel all count; paused once ``after`` are reached."""
    quiet = or_(
        SignInFailure.last_failed_at.is_(None),
        SignInFailure.last_failed_at < now - FORGET_AFTER,
    )
    statement = (
        _insert(address=address, account=account, failed_count=1, last_failed_at=now)
        .on_conflict_do_update(
            index_elements=["address", "account"],
            set_={
                "failed_count": case((quiet, 1), else_=SignInFailure.failed_count + 1),
                "last_failed_at": now,
            },
        )
        .returning(SignInFailure.failed_count)
    )
    failures = db.session.execute(statement).scalar_one()
    delay = lock_delay(failures, after)
    if delay:
        db.session.execute(
            update(SignInFailure)
            .where(SignInFailure.address == address, SignInFailure.account == account)
            .values(locked_until=now + delay)
        )


def _count(user: StaffUser | None, address: str, now: datetime) -> None:
    """Count one failure against the address, and against the account when there is one."""
    _count_failure(address, EVERY, now, ADDRESS_LOCK_AFTER_FAILURES)
    if user is not None:
        _count_failure(address, str(user.id), now, LOCK_AFTER_FAILURES)
        _count_failure(EVERY, str(user.id), now, ACCOUNT_SLOW_AFTER_FAILURES)


def failures_of(user_id: int | None, address: str | None = None) -> SignInFailure | None:
    """The failures counted against an account (None: any account) from one client address
    (None: from every address)."""
    key = address_key(address) if address is not None else EVERY
    return _row(key, str(user_id) if user_id is not None else EVERY)


def _refuse(
    user: StaffUser | None, reason: str, now: datetime, *, address: str, count: bool
) -> SignInRefused:
    """Record a failed sign-in (counting it against the address and account) and commit."""
    if count:
        _count(user, address, now)
    record_audit(audit.SIGN_IN_FAILED, staff=user, detail=reason)
    db.session.commit()
    return SignInRefused()


def check_password(
    email: str, password: str, client_address: str | None, now: datetime | None = None
) -> StaffUser:
    """First step of sign-in from ``client_address``: the account whose password this is,
    or ``SignInRefused``.

    The caller then either asks for the TOTP code (``user.totp_enrolled``) or calls
    ``complete_sign_in``.
    """
    now = now or clock.now()
    address = address_key(client_address)
    user = find_staff(email) if len(email) <= 254 else None
    if _address_paused(address, now):
        # Before hashing: this refusal depends on the address alone, never on the email.
        raise _refuse(user, "address_paused", now, address=address, count=False)
    matches = _password_matches(user.password_hash if user else _dummy_hash(), password)
    if user is None:
        raise _refuse(None, "unknown_account", now, address=address, count=True)
    if not user.is_active:
        raise _refuse(user, "disabled", now, address=address, count=True)
    if _is_locked(user, address, now):
        # Not counted: a paused address is not paused longer by someone still guessing.
        raise _refuse(user, "locked", now, address=address, count=False)
    if not matches:
        raise _refuse(user, "wrong_password", now, address=address, count=True)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)  # stronger parameters since it was set
        db.session.commit()
    return user


def pending_user(user_id: int, session_version: int) -> StaffUser | None:
    """The account half-way through sign-in, if nothing changed on it since the password."""
    user = db.session.get(StaffUser, user_id)
    if user is None or not user.is_active or user.session_version != session_version:
        return None
    return user


def check_code(
    user: StaffUser, code: str, client_address: str | None, now: datetime | None = None
) -> StaffUser:
    """Second step of sign-in from ``client_address``: the account's current TOTP code,
    or ``SignInRefused``."""
    now = now or clock.now()
    address = address_key(client_address)
    if not user.is_active:
        raise _refuse(user, "disabled", now, address=address, count=False)
    if _address_paused(address, now) or _is_locked(user, address, now):
        raise _refuse(user, "locked", now, address=address, count=False)
    settings = current_settings()
    try:
        secret = sealing.unseal(settings, user.totp_secret_sealed or "", for_account=user.id)
    except sealing.Unreadable:
        # SECRET_KEY changed without the old one in SECRET_KEY_FALLBACKS: no code can match
        # (`flask staff reset-password --remove-totp` lets the user enrol again).
        # Logged without the account (the audit log names it): a configuration problem.
        log.warning(
            "a staff TOTP secret cannot be opened with SECRET_KEY or SECRET_KEY_FALLBACKS; "
            "was SECRET_KEY changed without keeping the old one as a fallback?"
        )
        raise _refuse(user, "totp_unreadable", now, address=address, count=False) from None
    step = _matching_step(secret, code, now, after=user.totp_last_step)
    if step is None or not _claim_step(user, step):
        raise _refuse(user, "wrong_code", now, address=address, count=True)
    if not sealing.sealed_under_current_key(settings, user.totp_secret_sealed or ""):
        # Opened by a fallback key: sealed again under the current one.
        user.totp_secret_sealed = sealing.seal(settings, secret, for_account=user.id)
    return user


def _claim_step(user: StaffUser, step: int) -> bool:
    """Record the code's time step as used, unless it (or a later one) already is: one
    conditional UPDATE, so that of two sign-ins racing with the same code (seen over a
    shoulder, replayed from a proxy) only one gets in, whatever each read before."""
    claimed = db.session.scalar(
        update(StaffUser)
        .where(
            StaffUser.id == user.id,
            or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .returning(StaffUser.id)
        .execution_options(synchronize_session=False)
    )
    if claimed is None:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def complete_sign_in(
    user: StaffUser, client_address: str | None, now: datetime | None = None
) -> None:
    """Both steps passed from ``client_address``: clear its failures for the account and
    mark it known, forget stale counts, record the sign-in, commit."""
    now = now or clock.now()
    address = address_key(client_address)
    db.session.execute(
        _insert(
            address=address, account=str(user.id), failed_count=0, signed_in_at=now
        ).on_conflict_do_update(
            index_elements=["address", "account"],
            set_={"failed_count": 0, "locked_until": None, "signed_in_at": now},
        )
    )
    # Counts nobody added to for a day, of addresses no account signed in from lately.
    db.session.execute(
        delete(SignInFailure).where(
            SignInFailure.last_failed_at < now - FORGET_AFTER,
            or_(
                SignInFailure.signed_in_at.is_(None),
                SignInFailure.signed_in_at < now - KNOWN_ADDRESS_FOR,
            ),
        )
    )
    user.last_sign_in_at = now
    record_audit(audit.SIGN_IN, staff=user)
    db.session.commit()


def record_sign_out(user: StaffUser) -> None:
    """Sign-out ends every session of the account, on the server: sessions live only in
    the signed cookie, so a copy of it taken earlier would otherwise go on working."""
    user.session_version += 1
    record_audit(audit.SIGN_OUT, staff=user)
    db.session.commit()


# --- TOTP -----------------------------------------------------------------------------


def _normalise_code(code: str) -> str:
    return "".join(code.split())


def _matching_step(secret: str, code: str, now: datetime, after: int | None) -> int | None:
    """The time step whose code ``code`` is (within drift), if not used already."""
    code = _normalise_code(code)
    if not secret or len(code) != 6 or not is_digits(code):
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS)
    current = int(now.timestamp()) // TOTP_STEP_SECONDS
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if after is not None and step <= after:
            continue  # a code is good once: someone who saw it cannot replay it
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def totp_code(secret: str, now: datetime) -> str:
    """The code an authenticator app shows at ``now`` (for tests and the CLI)."""
    return pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS).at(now)


def new_totp_enrolment(user: StaffUser) -> TotpEnrolment:
    """A fresh secret for ``user`` with its otpauth URI and QR code as inline SVG."""
    secret = pyotp.random_base32()
    return _enrolment(user, secret, sealing.seal(current_settings(), secret, for_account=user.id))


def totp_enrolment(user: StaffUser, sealed: str) -> TotpEnrolment | None:
    """The enrolment begun earlier (its sealed secret, kept in the session), or None when
    that can no longer be opened (SECRET_KEY changed): the caller begins a new one."""
    try:
        secret = sealing.unseal(current_settings(), sealed, for_account=user.id)
    except sealing.Unreadable:
        return None
    return _enrolment(user, secret, sealed)


def _enrolment(user: StaffUser, secret: str, sealed: str) -> TotpEnrolment:
    uri = pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=TOTP_ISSUER
    )
    svg = segno.make(uri, error="m").svg_inline(scale=4, title="TOTP enrolment code")
    return TotpEnrolment(secret=secret, uri=uri, qr_svg=svg, sealed=sealed)


def enrol_totp(
    user: StaffUser, enrolment: TotpEnrolment, code: str, now: datetime | None = None
) -> None:
    """Keep the enrolment's secret (sealed) once the user proves their app shows its code;
    audited, committed."""
    now = now or clock.now()
    step = _matching_step(enrolment.secret, code, now, after=None)
    if step is None:
        raise CodeRejected("That code does not match. Enter the 6 digits your app shows now.")
    user.totp_secret_sealed = sealing.seal(
        current_settings(), enrolment.secret, for_account=user.id
    )
    user.totp_enrolled_at = now
    user.totp_last_step = step
    record_audit(audit.TOTP_ENROLLED, target=f"staff:{user.id}")
    db.session.commit()


def _confirm_password(
    user: StaffUser, password: str, client_address: str | None, now: datetime
) -> None:
    """The current password, asked again before a change: wrong answers count towards the
    lockout exactly as at sign-in, so a stolen session cannot guess it."""
    address = address_key(client_address)
    if _address_paused(address, now) or _is_locked(user, address, now):
        _refuse(user, "locked", now, address=address, count=False)
        raise WrongPassword("Too many wrong passwords: wait a while, then try again.")
    if not _password_matches(user.password_hash, password):
        _refuse(user, "wrong_password", now, address=address, count=True)
        raise WrongPassword("That is not your current password.")


def remove_totp(
    user: StaffUser, password: str, client_address: str | None, now: datetime | None = None
) -> None:
    """Drop the second factor after the password confirms it is the user; committed."""
    _confirm_password(user, password, client_address, now or clock.now())
    user.totp_secret_sealed = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    record_audit(audit.TOTP_REMOVED, target=f"staff:{user.id}")
    db.session.commit()


def change_password(
    user: StaffUser,
    current: str,
    new: str,
    client_address: str | None,
    now: datetime | None = None,
) -> None:
    """Replace the password and sign out every other session of the account; committed.

    The caller signs the current session in again (its id carries the new version).
    """
    now = now or clock.now()
    _confirm_password(user, current, client_address, now)
    user.password_hash = hash_password(new)
    user.password_changed_at = now or clock.now()
    user.session_version += 1
    record_audit(audit.PASSWORD_CHANGED, target=f"staff:{user.id}")
    db.session.commit()


# --- accounts (flask staff ...) -------------------------------------------------------


def create_staff(email: str, role: str, password: str) -> StaffUser:
    """A new active account; ``StaffAccountError`` or ``PasswordRejected`` say what is wrong."""
    email = normalise_email(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        raise StaffAccountError("Give the staff member's email address, such as ana@example.org.")
    if role not in ROLES:
        raise StaffAccountError(f"The role must be one of {', '.join(ROLES)}.")
    user = StaffUser(email=email, role=role, password_hash=hash_password(password))
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise StaffAccountError(f"There is already a staff account for {email}.") from None
    record_audit(audit.STAFF_CREATED, target=f"staff:{user.id}", detail=role)
    db.session.commit()
    return user


def _lift_pauses(user: StaffUser) -> None:
    """Forget the account's failures from every address (its known addresses stay known)."""
    account = SignInFailure.account == str(user.id)
    db.session.execute(delete(SignInFailure).where(account, SignInFailure.signed_in_at.is_(None)))
    db.session.execute(
        update(SignInFailure)
        .where(account, SignInFailure.signed_in_at.is_not(None))
        .values(failed_count=0, locked_until=None)
    )


def set_role(email: str, role: str) -> StaffUser:
    """Give an account another role; it applies from the account's next request."""
    if role not in ROLES:
        raise StaffAccountError(f"The role must be one of {', '.join(ROLES)}.")
    user = _existing(email)
    user.role = role
    record_audit(audit.STAFF_ROLE_CHANGED, target=f"staff:{user.id}", detail=role)
    db.session.commit()
    return user


def list_staff() -> list[StaffUser]:
    """Every staff account, by email."""
    return list(db.session.scalars(select(StaffUser).order_by(StaffUser.email)))


def _existing(email: str) -> StaffUser:
    user = find_staff(email)
    if user is None:
        raise StaffAccountError(f"There is no staff account for {normalise_email(email)}.")
    return user


def disable_staff(email: str, now: datetime | None = None) -> StaffUser:
    """Refuse sign-in from now on and end the account's sessions on their next request."""
    user = _existing(email)
    if user.disabled_at is None:
        user.disabled_at = now or clock.now()
        user.session_version += 1
    record_audit(audit.STAFF_DISABLED, target=f"staff:{user.id}")
    db.session.commit()
    return user


def enable_staff(email: str) -> StaffUser:
    """Let a disabled account sign in again, with a clean failure count."""
    user = _existing(email)
    user.disabled_at = None
    _lift_pauses(user)
    record_audit(audit.STAFF_ENABLED, target=f"staff:{user.id}")
    db.session.commit()
    return user


def reset_password(
    email: str, password: str, *, remove_totp: bool = False, now: datetime | None = None
) -> StaffUser:
    """Set a new password, lift any pause and sign out every session of the account.

    ``remove_totp`` also drops the second factor, for a lost phone; the user enrols again.
    """
    user = _existing(email)
    user.password_hash = hash_password(password)
    user.password_changed_at = now or clock.now()
    user.session_version += 1
    _lift_pauses(user)
    if remove_totp:
        user.totp_secret_sealed = None
        user.totp_enrolled_at = None
        user.totp_last_step = None
    record_audit(
        audit.PASSWORD_RESET,
        target=f"staff:{user.id}",
        detail="totp_removed" if remove_totp else None,
    )
    db.session.commit()
    return user
