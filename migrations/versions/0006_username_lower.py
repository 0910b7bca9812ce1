"""users: index lower(username), the expression the lookups use

Revision ID: 0006_username_lower
Revises: 0005_cashout
Create Date: 2026-11-30 14:50:00

The index made by 0001 was on the plain column, which ``lower(username) = :n`` cannot
use: each /credit @name and each faucet API ``send`` to a username scanned the table.
"""

from alembic import op
import sqlalchemy as sa


revision = "0006_username_lower"
down_revision = "0005_cashout"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_username_lower")
    op.create_index("ix_users_username_lower", "users", [sa.text("lower(username)")], unique=False)


def downgrade() -> None:
    op.drop_index("ix_users_username_lower", table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index("ix_users_username_lower", ["username"], unique=False)
