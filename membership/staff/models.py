"""Staff accounts, their sign-in failures and the audit log of what staff did.

A staff account holds what sign-in needs and nothing more: an email to sign in with,
an argon2 hash, a role, the TOTP secret once enrolled (sealed: ``membership.staff.sealing``)
and the session version. Failed sign-ins are counted apart, per account and client
address (``SignInFailure``), so that someone failing from one address pauses only that
address. The audit log names the staff member, the action, the target (an id, never a
supporter's email or name), the time and the address the request came from.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from membership import clock
from membership.extensions import db
from membership.models import UTCDateTime, normalise_email


class Role(StrEnum):
    """What a staff account may see: each role has everything of the one before it."""

    # Aggregates only: dashboard, sources, cohorts, counts. No supporter's email or name.
    VIEWER = "viewer"
    # Also finds one supporter by exact email and opens them, one at a time, audited.
    CARE = "care"
    # Also the supporter list, exports and the audit log (staff accounts: `flask staff`).
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.VIEWER: "figures only, no supporter's email or name",
    Role.CARE: "also finds and opens one supporter at a time",
    Role.ADMIN: "also the supporter list, exports and the audit log",
}
ROLES: tuple[str, ...] = tuple(role.value for role in Role)


class StaffUser(db.Model):  # type: ignore[name-defined]
    """Someone of the newsroom who may look at reports, in one of the ``Role``s."""

    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="role_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Normalised (membership.models.normalise_email), so sign-in ignores case and spaces.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The authenticator app's secret, sealed (membership.staff.sealing); NULL until enrolled.
    totp_secret_sealed: Mapped[str | None] = mapped_column(String(255))
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # Part of the session's user id: bumping it signs out every session of the account.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    def __init__(self, **kwargs: object) -> None:
        if isinstance(kwargs.get("email"), str):
            kwargs["email"] = normalise_email(str(kwargs["email"]))
        super().__init__(**kwargs)

    # Flask-Login's user interface.
    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The id kept in the session: changing the version ends every older session."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    @property
    def sees_supporters(self) -> bool:
        """May find and open individual supporters (their email, name, payments)."""
        return self.role in (Role.CARE, Role.ADMIN)

    @property
    def totp_enrolled(self) -> bool:
        return self.totp_secret_sealed is not None


class SignInFailure(db.Model):  # type: ignore[name-defined]
    """Failed sign-ins counted for one client address and one account.

    ``address`` is a keyed hash of the client's address (an IPv6 address by its /64),
    or ``*`` for every address; ``account`` a staff account's id, or ``*`` for every
    account and emails that have none. So a row is one of: an address against one account
    (pauses that address for that account), an address against all (pauses the address
    before any password is hashed), or an account from all addresses (slows sign-in from
    addresses the account has never signed in from). ``membership.staff.service`` says
    how many failures pause which.
    """

    __tablename__ = "staff_sign_in_failures"
    __table_args__ = (
        PrimaryKeyConstraint("address", "account"),
        Index("ix_staff_sign_in_failures_last_failed_at", "last_failed_at"),
    )

    address: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(20))
    # Failures since the last success here, forgotten after a quiet day.
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Until when sign-in is refused here (a delay that doubles with each further failure).
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last successful sign-in of the account from the address: a known address.
    signed_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(db.Model):  # type: ignore[name-defined]
    """One thing a staff member did (or tried): who, what, to which id, when, from where."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_staff_user_id_at", "staff_user_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # Kept when the account is deleted: the email at the time still says who it was.
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    staff_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(40))
    # An id (supporter id, export period, staff email for account changes), never a
    # supporter's email or name.
    target: Mapped[str | None] = mapped_column(String(200))
    # Why, in a word or two ("wrong_password", "locked"); never personal data.
    detail: Mapped[str | None] = mapped_column(String(100))
    remote_addr: Mapped[str | None] = mapped_column(String(45))
