"""polish b: crash queue, notice threads

Revision ID: 0012_polish_b
Revises: 0016_exchange
Create Date: 2026-12-06 22:16:00

- crash_bets.asked: the auto cash-out the player set (the stored one may be the profit cap).
- crash_queue: a /crash typed while a round runs waits here for the next round (issue 12).
- notices.thread / message_id: the notices of one thread (a withdrawal's states) edit the
  message the first one was sent as, instead of sending one message each.
"""

import sqlalchemy as sa
from alembic import op

import core.platform.schema


revision = "0012_polish_b"
down_revision = "0016_exchange"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crash_queue",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "auto_cashout", sa.BigInteger(), nullable=True, comment="hundredths, as the player typed it"
        ),
        sa.Column("idem", sa.String(length=100), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger(), nullable=True, comment="the 'queued' message, edited when it opens"
        ),
        sa.Column("locale", sa.String(length=8), server_default="en", nullable=False),
        sa.Column("created_at", core.platform.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crash_queue")),
        sa.UniqueConstraint("idem", name="uq_crash_queue_idem"),
        sa.UniqueConstraint("user_id", name="uq_crash_queue_user_id"),
    )
    with op.batch_alter_table("crash_bets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "asked", sa.BigInteger(), nullable=True, comment="the auto cash-out the player set (hundredths)"
            )
        )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "thread",
                sa.String(length=120),
                nullable=True,
                comment="notices of one thread edit one message",
            )
        )
        batch_op.add_column(
            sa.Column(
                "message_id", sa.BigInteger(), nullable=True, comment="the message this notice was sent as"
            )
        )
        batch_op.create_index("ix_notices_thread", ["thread"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_thread")
        batch_op.drop_column("message_id")
        batch_op.drop_column("thread")

    with op.batch_alter_table("crash_bets", schema=None) as batch_op:
        batch_op.drop_column("asked")
    op.drop_table("crash_queue")
