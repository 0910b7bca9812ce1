"""indexes for two lookups: lower(username), and each user's open faucet challenges

Revision ID: 0006_lookup_indexes
Revises: 0005_cashout
Create Date: 2026-11-30 14:50:00

The index made by 0001 was on the plain username column, which ``lower(username) = :n``
cannot use: each /credit @name and each faucet API ``send`` to a username scanned the
table. A new faucet challenge retires the user's open ones; the partial index finds
those without reading the user's whole history.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_lookup_indexes"
down_revision = "0005_cashout"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_username_lower")
    op.create_index("ix_users_username_lower", "users", [sa.text("lower(username)")], unique=False)
    op.create_index(
        "ix_faucet_challenges_open",
        "faucet_challenges",
        ["user_id"],
        unique=False,
        sqlite_where=sa.text("answered_at IS NULL"),
        postgresql_where=sa.text("answered_at IS NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":  # SQLite keeps no column comments
        op.alter_column(
            "faucet_challenges",
            "outcome",
            existing_type=sa.String(8),
            existing_nullable=True,
            comment="paid | wrong | dry | already | replaced",
            existing_comment="paid | wrong | dry | already",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "faucet_challenges",
            "outcome",
            existing_type=sa.String(8),
            existing_nullable=True,
            comment="paid | wrong | dry | already",
            existing_comment="paid | wrong | dry | already | replaced",
        )
    op.drop_index("ix_faucet_challenges_open", table_name="faucet_challenges")
    op.drop_index("ix_users_username_lower", table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index("ix_users_username_lower", ["username"], unique=False)
