"""Staff sign-in, accounts, the TOTP second factor and the audit log."""

from membership.staff.views import blueprint

__all__ = ["blueprint"]
