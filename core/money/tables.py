"""The ledger's tables: accounts, transfers (append-only) and entries (one per leg)."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, String, Table, Text

from core.platform import UTCDateTime, id_column, metadata

# One row per (owner, asset). Owners are "user:<id>" or a system account name.
# balance is posted money; debits_pending/credits_pending are two-phase reserves.
accounts = Table(
    "accounts",
    metadata,
    Column("owner", String(64), primary_key=True),
    Column("asset", String(8), primary_key=True),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("debits_pending", BigInteger, nullable=False, server_default="0"),
    Column("credits_pending", BigInteger, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("debits_pending >= 0 AND credits_pending >= 0", name="pending_not_negative"),
    CheckConstraint("owner = 'world' OR balance - debits_pending >= 0", name="not_negative"),
)

# Append-only. kind: posted | pending | post | void. A post/void names the pending
# transfer it resolves (unique: each pending resolves at most once); a correction
# names the transfer it reverses.
transfers = Table(
    "transfers",
    metadata,
    id_column(),
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),
    Column("debit", String(64), nullable=False),
    Column("credit", String(64), nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("code", String(32), nullable=False),
    Column("meta", Text, nullable=False, server_default="{}"),
    Column("pending_id", BigInteger, ForeignKey("transfers.id"), nullable=True, unique=True),
    Column("reverses_id", BigInteger, ForeignKey("transfers.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit <> credit", name="two_accounts"),
)

# One row per leg of a posted transfer: -amount on the debit side, +amount on the credit.
entries = Table(
    "entries",
    metadata,
    id_column(),
    Column("transfer_id", BigInteger, ForeignKey("transfers.id"), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
)
Index("ix_entries_owner_id", entries.c.owner, entries.c.id)
