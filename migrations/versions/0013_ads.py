"""paid-to-click ads and join tasks: campaigns, views, reports

Revision ID: 0013_ads
Revises: 0015_loyalty
Create Date: 2026-12-06 22:30:00

Budgets live in the ledger (ad_escrow:c<id> sub-accounts); these tables record campaigns,
the visits and joins they paid for, and the viewers' reports (core.earn.tables).
"""

import sqlalchemy as sa
from alembic import op

import core.platform.schema

revision = "0013_ads"
down_revision = "0015_loyalty"
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True)


def upgrade() -> None:
    utc = core.platform.schema.UTCDateTime()
    op.create_table(
        "ad_campaigns",
        _id(),
        sa.Column("advertiser_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False, comment="visit | join"),
        sa.Column("title", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=120), server_default="", nullable=False),
        sa.Column("url", sa.String(length=512), nullable=True, comment="visit: the advertiser's http(s) URL"),
        sa.Column("channel", sa.String(length=64), nullable=True, comment="join: @username of the chat to join"),
        sa.Column("duration", sa.Integer(), server_default="0", nullable=False, comment="visit: seconds, 5-60"),
        sa.Column("asset", sa.String(length=8), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False, comment="the viewer's reward per view, minor units"),
        sa.Column("fee", sa.BigInteger(), nullable=False, comment="the platform's cut per view, minor units"),
        sa.Column("views", sa.Integer(), nullable=False, comment="views bought, top-ups included"),
        sa.Column("lang", sa.String(length=8), nullable=True, comment="language targeting; null: everyone"),
        sa.Column("frequency", sa.Integer(), nullable=False, comment="seconds: one paid view per viewer per window"),
        sa.Column("status", sa.String(length=12), nullable=False, comment="draft|review|active|paused|rejected|cancelled"),
        sa.Column("reserve_id", sa.BigInteger(), nullable=True, comment="the pending funding transfer until moderation"),
        sa.Column("revision", sa.Integer(), server_default="0", nullable=False, comment="edits sent back to review"),
        sa.Column("reason", sa.String(length=200), nullable=True, comment="the moderator's reason of a rejection"),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.CheckConstraint("price > 0 AND fee >= 0 AND views > 0", name=op.f("ck_ad_campaigns_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_campaigns")),
    )
    op.create_index("ix_ad_campaigns_status", "ad_campaigns", ["status", "id"])
    op.create_index("ix_ad_campaigns_advertiser", "ad_campaigns", ["advertiser_id", "id"])
    op.create_table(
        "ad_views",
        _id(),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True, comment="SHA-256 of the one-time link"),
        sa.Column("issued_at", utc, nullable=True, comment="when the link was issued (in the token)"),
        sa.Column("started_at", utc, nullable=False, comment="first open of the link, server clock"),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("period", sa.BigInteger(), nullable=True, comment="frequency window of the payment"),
        sa.Column("paid_at", utc, nullable=True, comment="paid, or reserved for a join"),
        sa.Column("held_until", utc, nullable=True, comment="join: when the reserve may be posted"),
        sa.Column("reward_id", sa.BigInteger(), nullable=True, comment="the viewer's transfer (pending for a join)"),
        sa.Column("fee_id", sa.BigInteger(), nullable=True, comment="the platform's transfer (pending for a join)"),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_views")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_ad_views_token_hash")),
    )
    op.create_index("ix_ad_views_user", "ad_views", ["user_id", "campaign_id", "id"])
    op.create_index("ix_ad_views_campaign", "ad_views", ["campaign_id", "status"])
    op.create_index("ix_ad_views_held", "ad_views", ["status", "held_until"])
    op.create_table(
        "ad_reports",
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "user_id", name=op.f("pk_ad_reports")),
    )


def downgrade() -> None:
    op.drop_table("ad_reports")
    op.drop_index("ix_ad_views_held", table_name="ad_views")
    op.drop_index("ix_ad_views_campaign", table_name="ad_views")
    op.drop_index("ix_ad_views_user", table_name="ad_views")
    op.drop_table("ad_views")
    op.drop_index("ix_ad_campaigns_advertiser", table_name="ad_campaigns")
    op.drop_index("ix_ad_campaigns_status", table_name="ad_campaigns")
    op.drop_table("ad_campaigns")
