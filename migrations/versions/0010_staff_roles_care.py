"""Staff roles: 'care' joins 'viewer' and 'admin'; sign-in failures per address and account.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

- ``staff_users.role`` may be ``care``: finds and opens one supporter at a time. Viewers
  see figures only from now on; every existing account keeps its role, so a viewer who
  needs supporters is given ``flask staff set-role EMAIL care``.
- ``staff_sign_in_failures``: failed sign-ins counted per client address (a keyed hash)
  and account, so that someone failing from one address pauses that address, not the
  account everywhere. It replaces ``staff_users.failed_count`` and ``locked_until``,
  dropped here: accounts paused at the upgrade are no longer paused.

The downgrade makes ``care`` accounts viewers again (the old check allows no other
role) and gives every account a failure count of 0.

Locks: on PostgreSQL, the new check constraint reads ``staff_users`` (a handful of rows)
under an exclusive lock, dropping columns changes only the catalogue, and the new table
is empty: milliseconds, whatever the size of the other tables. SQLite cannot change a
check constraint in place, so ``staff_users`` is copied (batch mode) and the original
dropped; with foreign keys on, dropping it would set every ``audit_entries.staff_user_id``
to NULL (``ON DELETE SET NULL``), so those ids are kept aside first and put back after,
one statement that rewrites each audit entry naming an account: seconds for a million,
while nothing else writes.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ROLES_BEFORE = "role IN ('admin', 'viewer')"
ROLES_AFTER = "role IN ('viewer', 'care', 'admin')"


def upgrade() -> None:
    op.create_table(
        "staff_sign_in_failures",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=20), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("address", "account", name=op.f("pk_staff_sign_in_failures")),
    )
    op.create_index(
        "ix_staff_sign_in_failures_last_failed_at", "staff_sign_in_failures", ["last_failed_at"]
    )
    with _audit_ids_kept():
        with op.batch_alter_table("staff_users") as batch:
            batch.drop_constraint(op.f("ck_staff_users_role_known"), type_="check")
            batch.create_check_constraint(op.f("ck_staff_users_role_known"), ROLES_AFTER)
            batch.drop_column("failed_count")
            batch.drop_column("locked_until")


def downgrade() -> None:
    op.execute("UPDATE staff_users SET role = 'viewer' WHERE role = 'care'")
    with _audit_ids_kept():
        with op.batch_alter_table("staff_users") as batch:
            batch.drop_constraint(op.f("ck_staff_users_role_known"), type_="check")
            batch.create_check_constraint(op.f("ck_staff_users_role_known"), ROLES_BEFORE)
            batch.add_column(
                sa.Column("failed_count", sa.Integer(), nullable=False, server_default="0")
            )
            batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.drop_index("ix_staff_sign_in_failures_last_failed_at", "staff_sign_in_failures")
    op.drop_table("staff_sign_in_failures")


class _audit_ids_kept:
    """On SQLite, keep ``audit_entries.staff_user_id`` across a copy of ``staff_users``
    (see the module's docstring); elsewhere, nothing to do."""

    def __enter__(self) -> None:
        self.sqlite = op.get_bind().dialect.name == "sqlite"
        if self.sqlite:
            op.execute(
                "CREATE TEMPORARY TABLE audit_staff_kept AS "
                "SELECT id, staff_user_id FROM audit_entries WHERE staff_user_id IS NOT NULL"
            )

    def __exit__(self, *exc_info: object) -> None:
        if self.sqlite and exc_info[0] is None:
            op.execute(
                "UPDATE audit_entries SET staff_user_id = (SELECT kept.staff_user_id "
                "FROM audit_staff_kept AS kept WHERE kept.id = audit_entries.id) "
                "WHERE id IN (SELECT id FROM audit_staff_kept)"
            )
            op.execute("DROP TABLE audit_staff_kept")
