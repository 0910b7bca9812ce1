"""Tables of earning: paid-to-click ads and join tasks (core.earn.ads), offerwalls
(core.earn.offers) and debts (core.earn.debts).

Ads: money never lives here: a campaign's budget is the balance of its own escrow sub-account
``ad_escrow:c<id>`` in the ledger, and every paid view is a transfer keyed by
(campaign, viewer, frequency window). These rows say what happened (a visit started, a view
paid, held, voided or marked invalid) and why, next to the transfers that moved the money.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from core.platform.schema import UTCDateTime, id_column, metadata

ad_campaigns = Table(
    "ad_campaigns",
    metadata,
    id_column(),
    Column("advertiser_id", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False, comment="visit | join"),
    Column("title", String(40), nullable=False),
    Column("description", String(120), nullable=False, server_default=""),
    Column("url", String(512), nullable=True, comment="visit: the advertiser's http(s) URL"),
    Column("channel", String(64), nullable=True, comment="join: @username of the chat to join"),
    Column("duration", Integer, nullable=False, server_default="0", comment="visit: seconds, 5-60"),
    Column("asset", String(8), nullable=False),
    Column("price", BigInteger, nullable=False, comment="the viewer's reward per view, minor units"),
    Column("fee", BigInteger, nullable=False, comment="the platform's cut per view, minor units"),
    Column("views", Integer, nullable=False, comment="views bought, top-ups included"),
    Column("lang", String(8), nullable=True, comment="language targeting; null: everyone"),
    Column("frequency", Integer, nullable=False, comment="seconds: one paid view per viewer per window"),
    Column("status", String(12), nullable=False, comment="draft|review|active|paused|rejected|cancelled"),
    Column("reserve_id", BigInteger, nullable=True, comment="the pending funding transfer until moderation"),
    Column("revision", Integer, nullable=False, server_default="0", comment="edits sent back to review"),
    Column("reason", String(200), nullable=True, comment="the moderator's reason of a rejection"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("price > 0 AND fee >= 0 AND views > 0", name="positive"),
)
Index("ix_ad_campaigns_status", ad_campaigns.c.status, ad_campaigns.c.id)
Index("ix_ad_campaigns_advertiser", ad_campaigns.c.advertiser_id, ad_campaigns.c.id)

# One row per visit started through a tracking link (token_hash) or per verified join.
# status: started (link opened) | paid | held (join reward reserved) | void (join left, or
# the campaign could not pay: ``reason``) | invalid (an admin found fraud).
ad_views = Table(
    "ad_views",
    metadata,
    id_column(),
    Column("campaign_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("token_hash", String(64), nullable=True, unique=True, comment="SHA-256 of the one-time link"),
    Column("issued_at", UTCDateTime, nullable=True, comment="when the link was issued (in the token)"),
    Column("started_at", UTCDateTime, nullable=False, comment="first open of the link, server clock"),
    Column("status", String(8), nullable=False),
    Column("period", BigInteger, nullable=True, comment="frequency window of the payment"),
    Column("paid_at", UTCDateTime, nullable=True, comment="paid, or reserved for a join"),
    Column("held_until", UTCDateTime, nullable=True, comment="join: when the reserve may be posted"),
    Column("reward_id", BigInteger, nullable=True, comment="the viewer's transfer (pending for a join)"),
    Column("fee_id", BigInteger, nullable=True, comment="the platform's transfer (pending for a join)"),
    Column("reason", String(32), nullable=True),
)
Index("ix_ad_views_user", ad_views.c.user_id, ad_views.c.campaign_id, ad_views.c.id)
Index("ix_ad_views_campaign", ad_views.c.campaign_id, ad_views.c.status)
Index("ix_ad_views_held", ad_views.c.status, ad_views.c.held_until)

ad_reports = Table(
    "ad_reports",
    metadata,
    Column("campaign_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("campaign_id", "user_id"),
)

# --- offerwalls (core.earn.offers) and debts (core.earn.debts) ---


offer_walls = Table(
    "offer_walls",
    metadata,
    id_column(),
    Column("name", String(32), nullable=False, unique=True),
    Column("network", String(16), nullable=False),
    Column("app_id", String(100), nullable=False),
    Column("secret", String(400), nullable=False, comment="SecretBox token, aad offerwall:<name>"),
    Column("asset", String(8), nullable=False),
    Column("rate", BigInteger, nullable=False, comment="asset units per reward unit, x 10^(decimals+8)"),
    Column("hold_above", BigInteger, nullable=False, comment="credits above this are held (minor units)"),
    Column("ips", Text, nullable=True, comment="source-IP allowlist, comma-separated; NULL: any"),
    Column("enabled", Boolean, nullable=False),
    Column("removed_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# The opaque id a user carries on one wall: stable, derived from the user, never the Telegram id.
offer_subs = Table(
    "offer_subs",
    metadata,
    Column("wall_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("sub_id", String(64), nullable=False),
    PrimaryKeyConstraint("wall_id", "user_id"),
    UniqueConstraint("wall_id", "sub_id", name="uq_offer_subs_sub"),
)

# One row per (wall, transaction id): the credit and what became of it.
offer_credits = Table(
    "offer_credits",
    metadata,
    id_column(),
    Column("wall_id", BigInteger, nullable=False),
    Column("txid", String(100), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("units", BigInteger, nullable=False, comment="reward units x 1e8"),
    Column("amount", BigInteger, nullable=False, comment="minor units credited (0 for a reversal first)"),
    Column("state", String(12), nullable=False, comment="held | released | reversed | voided | preempted"),
    Column("release_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("settled_at", UTCDateTime, nullable=True, comment="released or reversed"),
    Column("proof", String(128), nullable=True, comment="signature, where it does not cover txid"),
    Column("noticed", Boolean, nullable=False, server_default=false(), comment="the user was told its state"),
    UniqueConstraint("wall_id", "txid", name="uq_offer_credits_tx"),
    UniqueConstraint("wall_id", "proof", name="uq_offer_credits_proof"),
)
Index("ix_offer_credits_due", offer_credits.c.state, offer_credits.c.release_at)
Index("ix_offer_credits_user", offer_credits.c.user_id, offer_credits.c.state)
Index("ix_offer_credits_news", offer_credits.c.noticed)

# What a user owes back (a reversal took more than they had): repaid first from later earnings.
debts = Table(
    "debts",
    metadata,
    Column("user_id", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("creditor", String(64), nullable=False, comment="the system account the debt is owed to"),
    Column("amount", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "asset", "creditor"),
)
