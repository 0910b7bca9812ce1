"""moderation: bans, frozen withdrawals and appeals on the users table

Revision ID: 0020_moderation
Revises: 0018_ops
Create Date: 2026-12-07 01:50:00

- users.banned_at / ban_reason / banned_by: an admin's ban (core.identity.standing).
- users.frozen_at / freeze_reason / frozen_by: withdrawals (and sends) frozen.
- users.appealed_at: the last /appeal, for its one-an-hour limit.
- ix_audit_log_target: /user lists the audit lines about a user.
"""

from alembic import op
import sqlalchemy as sa
import core.platform.schema


revision = "0020_moderation"
down_revision = "0018_ops"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("banned_at", lambda: core.platform.schema.UTCDateTime(timezone=True), None),
    ("ban_reason", lambda: sa.String(length=200), None),
    ("banned_by", sa.BigInteger, None),
    ("frozen_at", lambda: core.platform.schema.UTCDateTime(timezone=True), None),
    ("freeze_reason", lambda: sa.String(length=200), None),
    ("frozen_by", sa.BigInteger, None),
    ("appealed_at", lambda: core.platform.schema.UTCDateTime(timezone=True), "last /appeal: one an hour"),
)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name, kind, comment in _COLUMNS:
            batch_op.add_column(sa.Column(name, kind(), nullable=True, comment=comment))
    op.create_index("ix_audit_log_target", "audit_log", ["target"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name, _kind, _comment in reversed(_COLUMNS):
            batch_op.drop_column(name)
