"""ops: broadcasts and their recipients

Revision ID: 0018_ops
Revises: 0012_polish_b
Create Date: 2026-12-06 23:45:00

- broadcasts: a message (HTML, photo, URL button), its segment and state.
- broadcast_recipients: the audience fixed at confirmation, one row per user with its send state.
"""

from alembic import op
import sqlalchemy as sa
import core.platform.schema


revision = "0018_ops"
down_revision = "0012_polish_b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("admin_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False, comment="Telegram HTML, as previewed"),
        sa.Column("photo", sa.String(length=256), nullable=True, comment="file_id of an optional photo"),
        sa.Column("button_text", sa.String(length=64), nullable=True),
        sa.Column("button_url", sa.String(length=512), nullable=True),
        sa.Column(
            "segment", sa.String(length=32), nullable=True, comment="everyone | lang:xx | active:N | coin:XXX"
        ),
        sa.Column(
            "state",
            sa.String(length=12),
            nullable=False,
            comment="draft | running | paused | cancelled | done",
        ),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("progress_chat", sa.BigInteger(), nullable=True),
        sa.Column("progress_message", sa.BigInteger(), nullable=True),
        sa.Column("created_at", core.platform.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", core.platform.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", core.platform.schema.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "broadcast_recipients",
        sa.Column("broadcast_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "state",
            sa.SmallInteger(),
            server_default="0",
            nullable=False,
            comment="PENDING 0, SENDING 1, SENT 2, BLOCKED 3, FAILED 4",
        ),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"]),
        sa.PrimaryKeyConstraint("broadcast_id", "user_id"),
    )
    op.create_index(
        "ix_broadcast_recipients_state",
        "broadcast_recipients",
        ["broadcast_id", "state", "user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_broadcast_recipients_state", table_name="broadcast_recipients")
    op.drop_table("broadcast_recipients")
    op.drop_table("broadcasts")
