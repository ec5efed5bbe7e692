"""Staff accounts: passwords, sign-in with lockout, the TOTP second factor.

Sign-in never tells whether an email belongs to an account: unknown emails, wrong
passwords, wrong codes, disabled and paused accounts all get ``SignInRefused`` with
one message, after the same argon2 work (an unknown email is checked against a dummy
hash). Failures in a row pause an account for a delay that doubles with each further
failure; a success resets the count.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from membership import clock
from membership.config import current_settings
from membership.digits import is_digits
from membership.extensions import db
from membership.models import normalise_email
from membership.staff import audit, sealing
from membership.staff.audit import record_audit
from membership.staff.models import ROLES, StaffUser

log = logging.getLogger(__name__)

PASSWORD_MIN = 12
PASSWORD_MAX = 1024  # argon2 takes any length; this only bounds the work per request
LOCK_AFTER_FAILURES = 5
FIRST_LOCK = timedelta(seconds=30)
LONGEST_LOCK = timedelta(hours=1)
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


def lock_delay(failures: int) -> timedelta:
    """How long sign-in pauses after ``failures`` in a row: 30 s, doubling, at most 1 h."""
    if failures < LOCK_AFTER_FAILURES:
        return timedelta(0)
    doublings = min(failures - LOCK_AFTER_FAILURES, 16)  # 30 s * 2**16 is past the cap already
    return min(FIRST_LOCK * 2**doublings, LONGEST_LOCK)


def is_locked(user: StaffUser, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def _refuse(user: StaffUser | None, reason: str, now: datetime, *, count: bool) -> SignInRefused:
    """Record a failed sign-in (counting it against the account) and commit."""
    if user is not None and count:
        failures = db.session.execute(
            update(StaffUser)
            .where(StaffUser.id == user.id)
            .values(failed_count=StaffUser.failed_count + 1)
            .returning(StaffUser.failed_count)
        ).scalar_one()
        delay = lock_delay(failures)
        if delay:
            db.session.execute(
                update(StaffUser).where(StaffUser.id == user.id).values(locked_until=now + delay)
            )
    record_audit(audit.SIGN_IN_FAILED, staff=user, detail=reason)
    db.session.commit()
    return SignInRefused()


def check_password(email: str, password: str, now: datetime | None = None) -> StaffUser:
    """First step of sign-in: the account whose password this is, or ``SignInRefused``.

    The caller then either asks for the TOTP code (``user.totp_enrolled``) or calls
    ``complete_sign_in``.
    """
    now = now or clock.now()
    user = find_staff(email) if len(email) <= 254 else None
    matches = _password_matches(user.password_hash if user else _dummy_hash(), password)
    if user is None:
        raise _refuse(None, "unknown_account", now, count=False)
    if not user.is_active:
        raise _refuse(user, "disabled", now, count=False)
    if is_locked(user, now):
        # Not counted: a paused account is not paused longer by someone still guessing.
        raise _refuse(user, "locked", now, count=False)
    if not matches:
        raise _refuse(user, "wrong_password", now, count=True)
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


def check_code(user: StaffUser, code: str, now: datetime | None = None) -> StaffUser:
    """Second step of sign-in: the account's current TOTP code, or ``SignInRefused``."""
    now = now or clock.now()
    if not user.is_active:
        raise _refuse(user, "disabled", now, count=False)
    if is_locked(user, now):
        raise _refuse(user, "locked", now, count=False)
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
        raise _refuse(user, "totp_unreadable", now, count=False) from None
    step = _matching_step(secret, code, now, after=user.totp_last_step)
    if step is None or not _claim_step(user, step):
        raise _refuse(user, "wrong_code", now, count=True)
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


def complete_sign_in(user: StaffUser, now: datetime | None = None) -> None:
    """Both steps passed: reset the failure count, record the sign-in, commit."""
    user.failed_count = 0
    user.locked_until = None
    user.last_sign_in_at = now or clock.now()
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


def _confirm_password(user: StaffUser, password: str, now: datetime) -> None:
    """The current password, asked again before a change: wrong answers count towards the
    account's lockout exactly as at sign-in, so a stolen session cannot guess it."""
    if is_locked(user, now):
        _refuse(user, "locked", now, count=False)
        raise WrongPassword("Too many wrong passwords: wait a while, then try again.")
    if not _password_matches(user.password_hash, password):
        _refuse(user, "wrong_password", now, count=True)
        raise WrongPassword("That is not your current password.")


def remove_totp(user: StaffUser, password: str, now: datetime | None = None) -> None:
    """Drop the second factor after the password confirms it is the user; committed."""
    _confirm_password(user, password, now or clock.now())
    user.totp_secret_sealed = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    record_audit(audit.TOTP_REMOVED, target=f"staff:{user.id}")
    db.session.commit()


def change_password(user: StaffUser, current: str, new: str, now: datetime | None = None) -> None:
    """Replace the password and sign out every other session of the account; committed.

    The caller signs the current session in again (its id carries the new version).
    """
    now = now or clock.now()
    _confirm_password(user, current, now)
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
    user.failed_count = 0
    user.locked_until = None
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
    user.failed_count = 0
    user.locked_until = None
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
