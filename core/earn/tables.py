"""Tables of offerwalls (core.earn.offers) and of debts (core.earn.debts)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from core.platform.schema import UTCDateTime, id_column, metadata

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
