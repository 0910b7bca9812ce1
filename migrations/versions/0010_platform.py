"""platform hardening: 2FA failures counted in one row, one user per username, lease holders since

Revision ID: 0010_platform
Revises: 0009_play
Create Date: 2026-12-06 19:00:00

- twofa.failures / failures_since replace the twofa_failures log: one conditional UPDATE
  counts a wrong code and checks the limit (core.identity.twofa). Failures of the last 24 hours are
  carried over.
- users: a username belongs to one user. Where several rows share one (case-insensitive),
  the most recently seen user keeps it; the lookup index becomes unique.
- leases.since: when the current holder took the lease (shown by /admin).
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import core.platform.schema

revision = "0010_platform"
down_revision = "0009_play"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("twofa", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "failures",
                sa.Integer(),
                server_default="0",
                nullable=False,
                comment="wrong codes since failures_since",
            )
        )
        batch_op.add_column(
            sa.Column(
                "failures_since",
                core.platform.schema.UTCDateTime(timezone=True),
                nullable=True,
                comment="the first counted wrong code of the window",
            )
        )
    cutoff = sa.bindparam("cutoff", datetime.now(UTC) - timedelta(hours=24), type_=core.platform.schema.UTCDateTime)
    op.execute(
        sa.text(
            "UPDATE twofa SET"
            " failures = (SELECT count(*) FROM twofa_failures f"
            "  WHERE f.user_id = twofa.user_id AND f.at > :cutoff),"
            " failures_since = (SELECT min(f.at) FROM twofa_failures f"
            "  WHERE f.user_id = twofa.user_id AND f.at > :cutoff)"
        ).bindparams(cutoff)
    )
    with op.batch_alter_table("twofa_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_twofa_failures_user_at")
    op.drop_table("twofa_failures")

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

    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "since",
                core.platform.schema.UTCDateTime(timezone=True),
                nullable=True,
                comment="when the holder took the lease",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("leases", schema=None) as batch_op:
        batch_op.drop_column("since")
    op.drop_index("ix_users_username_lower", table_name="users")
    op.create_index("ix_users_username_lower", "users", [sa.text("lower(username)")], unique=False)
    op.create_table(
        "twofa_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("at", core.platform.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_twofa_failures")),
    )
    with op.batch_alter_table("twofa_failures", schema=None) as batch_op:
        batch_op.create_index("ix_twofa_failures_user_at", ["user_id", "at"], unique=False)
    with op.batch_alter_table("twofa", schema=None) as batch_op:
        batch_op.drop_column("failures_since")
        batch_op.drop_column("failures")
