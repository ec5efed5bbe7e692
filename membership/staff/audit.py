"""The audit log: ``record_audit`` notes who did what, to which id, when and from where.

Every sign-in, failed sign-in, sign-out, export, search for a supporter and view of a
supporter's detail is recorded, and so are changes to staff accounts. ``record_audit``
only adds the entry to the current ``db.session``: the caller commits it with the rest of
its unit of work (a view that only reads commits right after calling it).
"""

from __future__ import annotations

from typing import Final

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import func, select

from membership import clock
from membership.extensions import db
from membership.staff.models import AuditEntry, StaffUser

SIGN_IN: Final = "sign_in"
SIGN_IN_FAILED: Final = "sign_in_failed"
SIGN_OUT: Final = "sign_out"
EXPORT_PAYMENTS: Final = "export_payments"
EXPORT_SUPPORTERS: Final = "export_supporters"
VIEW_SUPPORTER: Final = "view_supporter"
# A search by exact email (care and admins): it answers "is this person a supporter?".
# The target is the supporter's id when one was found; the email is never kept.
FIND_SUPPORTER: Final = "find_supporter"
# The supporter list (admins only), a page of emails and names.
LIST_SUPPORTERS: Final = "list_supporters"
# The at-risk report's rows (care and admins): supporter ids to open, no emails.
VIEW_AT_RISK: Final = "view_at_risk"
TOTP_ENROLLED: Final = "totp_enrolled"
TOTP_REMOVED: Final = "totp_removed"
PASSWORD_CHANGED: Final = "password_changed"  # noqa: S105 - an action name
STAFF_CREATED: Final = "staff_created"
STAFF_DISABLED: Final = "staff_disabled"
STAFF_ENABLED: Final = "staff_enabled"
STAFF_ROLE_CHANGED: Final = "staff_role_changed"
PASSWORD_RESET: Final = "password_reset"  # noqa: S105 - an action name
# A supporter's data erased at their request (``flask supporters erase``): by id.
ERASE_SUPPORTER: Final = "erase_supporter"
# From a supporter's page: a sign-in link sent them, a recurring gift cancelled for them.
SEND_SIGN_IN_LINK: Final = "send_sign_in_link"
CANCEL_FOR_SUPPORTER: Final = "cancel_for_supporter"

ACTIONS: Final = (
    SIGN_IN,
    SIGN_IN_FAILED,
    SIGN_OUT,
    EXPORT_PAYMENTS,
    EXPORT_SUPPORTERS,
    VIEW_SUPPORTER,
    FIND_SUPPORTER,
    LIST_SUPPORTERS,
    VIEW_AT_RISK,
    TOTP_ENROLLED,
    TOTP_REMOVED,
    PASSWORD_CHANGED,
    STAFF_CREATED,
    STAFF_DISABLED,
    STAFF_ENABLED,
    STAFF_ROLE_CHANGED,
    PASSWORD_RESET,
    ERASE_SUPPORTER,
    SEND_SIGN_IN_LINK,
    CANCEL_FOR_SUPPORTER,
)

TARGET_MAX = 200


def record_audit(
    action: str,
    target: str | None = None,
    *,
    staff: StaffUser | None = None,
    detail: str | None = None,
) -> None:
    """Add an audit entry for ``action`` to the current session; the caller commits.

    The staff member is the signed-in one unless ``staff`` names another (a failed
    sign-in, a command run on the server). ``target`` is an id such as a supporter's
    id, never their email or name; ``detail`` a word or two of why. Outside a request
    (a ``flask staff`` command) the address is left empty.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; add it to membership.staff.audit")
    who = staff
    if who is None and has_request_context() and current_user.is_authenticated:
        who = current_user._get_current_object()  # the model, not the proxy
    db.session.add(
        AuditEntry(
            at=clock.now(),
            staff_user_id=who.id if who is not None else None,
            staff_email=who.email if who is not None else None,
            action=action,
            target=target[:TARGET_MAX] if target is not None else None,
            detail=detail,
            remote_addr=request.remote_addr if has_request_context() else None,
        )
    )


def record_audit_now(
    action: str,
    target: str | None = None,
    *,
    staff: StaffUser | None = None,
    detail: str | None = None,
) -> None:
    """``record_audit`` and commit: for a read of supporters' data (a page, an export),
    whose only write is its audit entry. The commit expires the session's rows, so a page
    is rendered before this."""
    record_audit(action, target, staff=staff, detail=detail)
    db.session.commit()


def audit_page(page: int, per_page: int = 50) -> tuple[list[AuditEntry], bool]:
    """One page of the audit log, newest first, and whether an older page exists."""
    offset = (max(page, 1) - 1) * per_page
    rows = db.session.scalars(
        select(AuditEntry)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset(offset)
        .limit(per_page + 1)
    ).all()
    return list(rows[:per_page]), len(rows) > per_page


def count_entries(action: str | None = None) -> int:
    """How many entries the log holds (of one action): for tests and the audit page."""
    query = select(func.count()).select_from(AuditEntry)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return int(db.session.scalar(query) or 0)
