"""earning hardening: referral daily caps

Revision ID: 0011_earn
Revises: 0006_lookup_indexes
Create Date: 2026-12-01 10:00:00

referral_days counts the commission the platform paid each referrer per asset and UTC
day, for referral.daily_cap.<ASSET>.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_earn"
down_revision = "0006_lookup_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referral_days",
        sa.Column("referrer_id", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False, comment="days since the epoch (UTC)"),
        sa.Column(
            "paid", sa.BigInteger(), nullable=False, comment="platform-paid commission that day, minor units"
        ),
        sa.Column("granted", sa.BigInteger(), nullable=False, comment="what the latest earning was granted"),
        sa.PrimaryKeyConstraint("referrer_id", "asset", "day", name=op.f("pk_referral_days")),
    )


def downgrade() -> None:
    op.drop_table("referral_days")
