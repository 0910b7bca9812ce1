"""exchange: prices per source, swap quotes, daily swap volume (issue 16)

Revision ID: 0016_exchange
Revises: 0014_offers
Create Date: 2026-12-06 22:15:00
"""

import sqlalchemy as sa
from alembic import op

import core.platform.schema

revision = "0016_exchange"
down_revision = "0014_offers"
branch_labels = None
depends_on = None

UTC = core.platform.schema.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "exchange_prices",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column(
            "price", sa.String(length=48), nullable=True, comment="USD per whole coin, a decimal string"
        ),
        sa.Column("fetched_at", UTC, nullable=True, comment="when the accepted price was read"),
        sa.Column(
            "held_price", sa.String(length=48), nullable=True, comment="a jump waiting for a second source"
        ),
        sa.Column("held_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("source", "asset", name=op.f("pk_exchange_prices")),
    )
    op.create_table(
        "exchange_sources",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("polled_at", UTC, nullable=True),
        sa.Column("retry_at", UTC, nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_exchange_sources")),
    )
    op.create_table(
        "swap_quotes",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False, comment="swap | sweep"),
        sa.Column("target", sa.String(length=16), nullable=False, comment="the coin received"),
        sa.Column("legs", sa.Text(), nullable=False, comment="JSON list of legs (core.exchange.quotes.Leg)"),
        sa.Column(
            "state",
            sa.String(length=12),
            server_default="open",
            nullable=False,
            comment="open | done | replaced | cancelled",
        ),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("done_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_swap_quotes")),
    )
    op.create_index("ix_swap_quotes_user", "swap_quotes", ["user_id", "id"], unique=False)
    op.create_table(
        "swap_volume",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False, comment="days since 1970-01-01, UTC"),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "asset", "day", name=op.f("pk_swap_volume")),
    )


def downgrade() -> None:
    op.drop_table("swap_volume")
    op.drop_index("ix_swap_quotes_user", table_name="swap_quotes")
    op.drop_table("swap_quotes")
    op.drop_table("exchange_sources")
    op.drop_table("exchange_prices")
