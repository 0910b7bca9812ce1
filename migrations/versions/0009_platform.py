"""platform hardening: one user per username

Revision ID: 0009_platform
Revises: 0006_lookup_indexes
Create Date: 2026-12-06 19:00:00

- users: a username belongs to one user. Where several rows share one (case-insensitive),
  the most recently seen user keeps it; the lookup index becomes unique.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_platform"
down_revision = "0006_lookup_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One holder per username: the most recently seen keeps it (ties: the higher id).
    op.execute(
        sa.text(
            "UPDATE users SET username = NULL WHERE username IS NOT NULL AND EXISTS ("
            " SELECT 1 FROM users u2 WHERE lower(u2.username) = lower(users.username)"
            " AND u2.id <> users.id"
            " AND (u2.seen_at > users.seen_at OR (u2.seen_at = users.seen_at AND u2.id > users.id)))"
        )
    )
    op.drop_index("ix_users_username_lower", table_name="users")
    op.create_index("ix_users_username_lower", "users", [sa.text("lower(username)")], unique=True)


def downgrade() -> None:
    op.drop_index("ix_users_username_lower", table_name="users")
    op.create_index("ix_users_username_lower", "users", [sa.text("lower(username)")], unique=False)
