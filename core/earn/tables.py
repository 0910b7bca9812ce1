"""Earn's tables, in one place (on core.platform's ``metadata``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, PrimaryKeyConstraint, String, Table, true

from core.platform import UTCDateTime, id_column, metadata

# core.earn.referrals
referrals = Table(
    "referrals",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False, comment="the invited user"),
    Column("referrer_id", BigInteger, nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column(
        "activated_at", UTCDateTime, nullable=True, comment="first solved captcha; commission from then on"
    ),
)
# What the platform paid each referrer per asset and UTC day, for referral.daily_cap.<ASSET>.
referral_days = Table(
    "referral_days",
    metadata,
    Column("referrer_id", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("day", Integer, nullable=False, comment="days since the epoch (UTC)"),
    Column("paid", BigInteger, nullable=False, comment="platform-paid commission that day, minor units"),
    Column("granted", BigInteger, nullable=False, comment="what the latest earning was granted"),
    PrimaryKeyConstraint("referrer_id", "asset", "day"),
)

# core.earn.sites
sites = Table(
    "faucet_sites",
    metadata,
    id_column(),
    Column("owner_id", BigInteger, nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("url", String(200), nullable=False),
    Column("asset", String(8), nullable=False),
    Column("reward", BigInteger, nullable=False, comment="minor units per claim, as advertised"),
    Column("timer", Integer, nullable=False, comment="seconds between claims, as advertised"),
    Column("key_hash", String(64), nullable=False, unique=True, comment="SHA-256 of the API key"),
    Column("daily_cap", BigInteger, nullable=False, server_default="0", comment="0: no cap"),
    Column(
        "ip_allowlist", String(600), nullable=False, server_default="", comment="comma-separated; empty: any"
    ),
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("rating_sum", Integer, nullable=False, server_default="0"),
    Column("rating_count", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
)
payouts = Table(
    "faucet_site_payouts",
    metadata,
    id_column(),
    Column("site_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("referral", Boolean, nullable=False),
    Column("to_text", String(128), nullable=False),
    Column("transfer_id", BigInteger, nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_faucet_site_payouts_site_id", payouts.c.site_id, payouts.c.id)
Index("ix_faucet_site_payouts_site_created", payouts.c.site_id, payouts.c.created_at)
site_days = Table(
    "faucet_site_days",
    metadata,
    Column("site_id", BigInteger, nullable=False),
    Column("day", Integer, nullable=False, comment="days since the epoch (UTC)"),
    Column("sent", BigInteger, nullable=False),
    PrimaryKeyConstraint("site_id", "day"),
)
ratings = Table(
    "faucet_site_ratings",
    metadata,
    Column("site_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("stars", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("site_id", "user_id"),
)

# core.earn.site_payees
site_users = Table(
    "faucet_site_users",
    metadata,
    Column("site_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("how", String(8), nullable=False, comment="address | rating"),
    PrimaryKeyConstraint("site_id", "user_id"),
)
strangers = Table(
    "faucet_site_strangers",
    metadata,
    Column("site_id", BigInteger, nullable=False),
    Column("day", Integer, nullable=False, comment="days since the epoch (UTC)"),
    Column("payments", Integer, nullable=False, comment="payments to users who never used the site"),
    PrimaryKeyConstraint("site_id", "day"),
)
payee_days = Table(
    "faucet_site_payee_days",
    metadata,
    Column("site_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("day", Integer, nullable=False, comment="days since the epoch (UTC)"),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False, comment="paid that day, minor units"),
    Column("payments", Integer, nullable=False),
    Column("to_address", Integer, nullable=False, comment="of those, payments to a linked address"),
    PrimaryKeyConstraint("site_id", "user_id", "day"),
)
Index("ix_faucet_site_payee_days_user", payee_days.c.user_id, payee_days.c.day)

# core.earn.payout_links
payout_links = Table(
    "payout_links",
    metadata,
    Column("asset", String(8), primary_key=True),
    Column("address", String(128), primary_key=True),
    Column("user_id", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_payout_links_user_id", payout_links.c.user_id)
