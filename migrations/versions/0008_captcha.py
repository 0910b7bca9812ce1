"""captcha challenges for every feature: faucet_challenges becomes captcha_challenges

Revision ID: 0008_captcha
Revises: 0007_earn
Create Date: 2026-12-01

The faucet's emoji puzzles (answerable by reading the message) move into one table that
any feature uses (purpose, subject, kind). Rows keep their ids, so a faucet transfer's
``meta.challenge`` still names its puzzle; they become purpose 'faucet', kind 'emoji'.
"""

import sqlalchemy as sa
from alembic import op

import core.platform.schema

revision = "0008_captcha"
down_revision = "0007_earn"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "captcha_challenges",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False, comment="the feature that asked: faucet, ads, ..."),
        sa.Column("subject", sa.String(length=32), nullable=False, comment="what a right answer unlocks, e.g. the coin"),
        sa.Column(
            "kind",
            sa.String(length=12),
            nullable=False,
            comment="buttons | turnstile | hcaptcha (emoji: before 0013)",
        ),
        sa.Column("options", sa.String(length=200), nullable=False, comment="JSON list of what the puzzle shows"),
        sa.Column(
            "answer", sa.Integer(), nullable=False, comment="the right option; never sent to the client"
        ),
        sa.Column("created_at", core.platform.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", core.platform.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=8), nullable=True, comment="right | wrong | replaced"),
        sa.Column("token_hash", sa.String(length=64), nullable=True, comment="SHA-256 of a provider token"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_captcha_challenges")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_captcha_challenges_token_hash")),
    )
    op.create_index("ix_captcha_challenges_user_id", "captcha_challenges", ["user_id", "id"], unique=False)
    op.create_index(
        "ix_captcha_challenges_open",
        "captcha_challenges",
        ["user_id"],
        unique=False,
        sqlite_where=sa.text("answered_at IS NULL"),
        postgresql_where=sa.text("answered_at IS NULL"),
    )
    op.execute(
        "INSERT INTO captcha_challenges "
        "(id, user_id, purpose, subject, kind, options, answer, created_at, answered_at, outcome) "
        "SELECT id, user_id, 'faucet', asset, 'emoji', options, answer, created_at, answered_at, "
        "CASE WHEN outcome IN ('paid', 'dry', 'already') THEN 'right' ELSE outcome END "
        "FROM faucet_challenges"
    )
    if op.get_bind().dialect.name == "postgresql":  # ids were copied: the sequence continues after them
        op.execute(
            "SELECT setval(pg_get_serial_sequence('captcha_challenges', 'id'), "
            "COALESCE((SELECT MAX(id) FROM captcha_challenges), 0) + 1, false)"
        )
    op.drop_index("ix_faucet_challenges_open", table_name="faucet_challenges")
    op.drop_index("ix_faucet_challenges_user_id", table_name="faucet_challenges")
    op.drop_table("faucet_challenges")


def downgrade() -> None:
    op.create_table(
        "faucet_challenges",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.String(length=8), nullable=False),
        sa.Column("options", sa.String(length=200), nullable=False, comment="JSON list of the emoji shown"),
        sa.Column(
            "answer",
            sa.Integer(),
            nullable=False,
            comment="index of the right option; never sent to the client",
        ),
        sa.Column("created_at", core.platform.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", core.platform.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "outcome", sa.String(length=8), nullable=True, comment="paid | wrong | dry | already | replaced"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faucet_challenges")),
    )
    op.create_index("ix_faucet_challenges_user_id", "faucet_challenges", ["user_id", "id"], unique=False)
    op.create_index(
        "ix_faucet_challenges_open",
        "faucet_challenges",
        ["user_id"],
        unique=False,
        sqlite_where=sa.text("answered_at IS NULL"),
        postgresql_where=sa.text("answered_at IS NULL"),
    )
    # Only the faucet's puzzles go back; a picture's answer is still an index into its options.
    op.execute(
        "INSERT INTO faucet_challenges (id, user_id, asset, options, answer, created_at, answered_at, outcome) "
        "SELECT id, user_id, subject, options, answer, created_at, answered_at, "
        "CASE WHEN outcome = 'right' THEN 'paid' ELSE outcome END "
        "FROM captcha_challenges WHERE purpose = 'faucet' AND LENGTH(subject) <= 8"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('faucet_challenges', 'id'), "
            "COALESCE((SELECT MAX(id) FROM faucet_challenges), 0) + 1, false)"
        )
    op.drop_index("ix_captcha_challenges_open", table_name="captcha_challenges")
    op.drop_index("ix_captcha_challenges_user_id", table_name="captcha_challenges")
    op.drop_table("captcha_challenges")
