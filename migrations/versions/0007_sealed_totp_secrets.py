"""TOTP secrets sealed under a key derived from SECRET_KEY.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

``staff_users.totp_secret`` (the secret as is) becomes ``totp_secret_sealed``
(``membership.staff.sealing``): whoever reads the database can no longer make a staff
member's codes. Enrolled secrets are sealed here, with the running app's SECRET_KEY
(Flask-Migrate runs migrations inside the app), so every enrolled staff member signs in
as before; the downgrade opens them again. The old column is blanked before it is
dropped, and dropped in place (``ALTER TABLE ... DROP COLUMN``, SQLite 3.35 or later):
on SQLite, batch mode would copy the table and drop the original, and the dropped
table's rows would set ``audit_entries.staff_user_id`` to NULL (``ON DELETE SET NULL``).
The database files may still hold the old values in free space until ``VACUUM``.

"""
from alembic import op
import sqlalchemy as sa
import base64

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

STAFF = sa.table(
    'staff_users',
    sa.column('id', sa.Integer),
    sa.column('totp_secret', sa.String),
    sa.column('totp_secret_sealed', sa.String),
)


def upgrade() -> None:
    op.add_column(
        'staff_users', sa.Column('totp_secret_sealed', sa.String(length=255), nullable=True)
    )
    _copy('totp_secret', 'totp_secret_sealed', _seal)
    op.execute(STAFF.update().values(totp_secret=None))
    op.drop_column('staff_users', 'totp_secret')


def downgrade() -> None:
    op.add_column('staff_users', sa.Column('totp_secret', sa.String(length=64), nullable=True))
    _copy('totp_secret_sealed', 'totp_secret', _unseal)
    op.drop_column('staff_users', 'totp_secret_sealed')


def _copy(source: str, target: str, convert) -> None:
    settings = current_app.extensions['membership.settings']
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(STAFF.c.id, STAFF.c[source]).where(STAFF.c[source].is_not(None))
    ).all()
    for staff_id, value in rows:
        connection.execute(
            STAFF.update()
            .where(STAFF.c.id == staff_id)
            .values({target: convert(settings, value, for_account=staff_id)})
        )


# Sealing as membership.staff.sealing did when this revision was written, copied here so
# that this migration keeps working whatever that module becomes (migrations never import
# live code): Fernet under a key derived from SECRET_KEY with HKDF-SHA256 and this label,
# each value bound to its account id; the fallbacks only open.
_LABEL = b"membership: staff TOTP secrets, v1"


def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _keys(settings) -> MultiFernet:
    keys = (settings.secret_key, *settings.secret_key_fallbacks)
    return MultiFernet([_fernet(key) for key in keys])


def _seal(settings, secret: str, *, for_account: int) -> str:
    return _keys(settings).encrypt(f"{for_account}:{secret}".encode()).decode("ascii")


def _unseal(settings, sealed: str, *, for_account: int) -> str:
    plain = _keys(settings).decrypt(sealed.encode("ascii")).decode()
    account, _, secret = plain.partition(":")
    if account != str(for_account):
        raise ValueError("sealed for another account")
    return secret
