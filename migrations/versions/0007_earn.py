"""earning hardening: referral daily caps, who used a faucet site, site notices per day, notice priority

Revision ID: 0007_earn
Revises: 0006_lookup_indexes
Create Date: 2026-12-01 10:00:00

referral_days counts the commission the platform paid each referrer per asset and UTC
day, for referral.daily_cap.<ASSET>. faucet_site_users records who used a site (it paid
an address they linked, or they rated it); faucet_site_strangers counts a site's daily
payments to users who did not; faucet_site_payee_days sums each user's site payments per
day for the one daily notice. notices.priority lets withdrawal news pass a flood of
site-payment notices.
"""

import sqlalchemy as sa
from alembic import op

import core.platform.schema

revision = "0007_earn"
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
    op.create_table(
        "faucet_site_users",
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("since", core.platform.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("how", sa.String(length=8), nullable=False, comment="address | rating"),
        sa.PrimaryKeyConstraint("site_id", "user_id", name=op.f("pk_faucet_site_users")),
    )
    op.create_table(
        "faucet_site_strangers",
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False, comment="days since the epoch (UTC)"),
        sa.Column(
            "payments", sa.Integer(), nullable=False, comment="payments to users who never used the site"
        ),
        sa.PrimaryKeyConstraint("site_id", "day", name=op.f("pk_faucet_site_strangers")),
    )
    op.create_table(
        "faucet_site_payee_days",
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False, comment="days since the epoch (UTC)"),
        sa.Column("asset", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False, comment="paid that day, minor units"),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.Integer(), nullable=False, comment="of those, payments to a linked address"),
        sa.PrimaryKeyConstraint("site_id", "user_id", "day", name=op.f("pk_faucet_site_payee_days")),
    )
    op.create_index(
        "ix_faucet_site_payee_days_user", "faucet_site_payee_days", ["user_id", "day"], unique=False
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "priority",
                sa.SmallInteger(),
                server_default="1",
                nullable=False,
                comment="0 high, 1 normal, 2 low",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("priority")
    op.drop_index("ix_faucet_site_payee_days_user", table_name="faucet_site_payee_days")
    op.drop_table("faucet_site_payee_days")
    op.drop_table("faucet_site_strangers")
    op.drop_table("faucet_site_users")
    op.drop_table("referral_days")
