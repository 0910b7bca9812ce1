"""social: sends, tips held for people who have not started the bot, checks and their claims (issue 17)

Revision ID: 0017_social
Revises: 0019_trust
Create Date: 2026-12-06 22:11:14.517055
"""

import sqlalchemy as sa
from alembic import op

import core.platform.schema

revision = "0017_social"
down_revision = "0019_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "social_check_tries",
        sa.Column("check_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("since", core.platform.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("check_id", "user_id", name=op.f("pk_social_check_tries")),
    )
    op.create_table(
        "social_checks",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("code", sa.String(length=24), nullable=False, comment="deep link payload c<code>"),
        sa.Column("creator_id", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False, comment="per activation, minor units"),
        sa.Column("activations", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), server_default="0", nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False, comment="open | revoked | expired"),
        sa.Column(
            "password", sa.String(length=64), nullable=True, comment="salted hash of the password; null: none"
        ),
        sa.Column("new_users_only", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "channel", sa.String(length=64), nullable=True, comment="@channel whose members only may claim"
        ),
        sa.Column("expires_at", core.platform.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "inline_message_id", sa.String(length=128), nullable=True, comment="made from an inline result"
        ),
        sa.Column("created_at", core.platform.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", core.platform.schema.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_checks")),
        sa.UniqueConstraint("code", name=op.f("uq_social_checks_code")),
        sa.UniqueConstraint("inline_message_id", name=op.f("uq_social_checks_inline_message_id")),
    )
    with op.batch_alter_table("social_checks", schema=None) as batch_op:
        batch_op.create_index("ix_social_checks_creator", ["creator_id", "id"], unique=False)
        batch_op.create_index("ix_social_checks_open", ["state", "expires_at"], unique=False)

    op.create_table(
        "social_claims",
        sa.Column("check_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("claimed_at", core.platform.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("check_id", "user_id", name=op.f("pk_social_claims")),
    )
    op.create_table(
        "social_sends",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("sender_id", sa.BigInteger(), nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False, comment="minor units"),
        sa.Column("state", sa.String(length=12), nullable=False, comment="draft | sent | cancelled"),
        sa.Column("transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", core.platform.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.platform.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_sends")),
    )
    with op.batch_alter_table("social_sends", schema=None) as batch_op:
        batch_op.create_index("ix_social_sends_sender", ["sender_id", "id"], unique=False)

    op.create_table(
        "social_tips",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("code", sa.String(length=24), nullable=False, comment="claim link payload t<code>"),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False, comment="the /tip message"),
        sa.Column("sender_id", sa.BigInteger(), nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False, comment="minor units"),
        sa.Column("state", sa.String(length=12), nullable=False, comment="paid | held | claimed | returned"),
        sa.Column("pending_id", sa.BigInteger(), nullable=True, comment="the held transfer"),
        sa.Column("created_at", core.platform.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.platform.schema.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social_tips")),
        sa.UniqueConstraint("chat_id", "message_id", name="uq_social_tips_message"),
        sa.UniqueConstraint("code", name=op.f("uq_social_tips_code")),
    )
    with op.batch_alter_table("social_tips", schema=None) as batch_op:
        batch_op.create_index("ix_social_tips_state", ["state", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("social_tips", schema=None) as batch_op:
        batch_op.drop_index("ix_social_tips_state")

    op.drop_table("social_tips")
    with op.batch_alter_table("social_sends", schema=None) as batch_op:
        batch_op.drop_index("ix_social_sends_sender")

    op.drop_table("social_sends")
    op.drop_table("social_claims")
    with op.batch_alter_table("social_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_social_checks_open")
        batch_op.drop_index("ix_social_checks_creator")

    op.drop_table("social_checks")
    op.drop_table("social_check_tries")
