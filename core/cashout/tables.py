"""Cashout's tables, in one place (on core.platform's ``metadata``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, UniqueConstraint

from core.platform import UTCDateTime, id_column, metadata

# core.cashout.addressbook
withdrawal_addresses = Table(
    "withdrawal_addresses",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("label", String(24), nullable=False),
    Column("address", String(128), nullable=False, comment="normal form from core.money.addresses"),
    Column("chain", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "label", name="uq_withdrawal_addresses_user_label"),
)

# core.cashout.withdrawals
withdrawals = Table(
    "withdrawals",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False, comment="leaves the balance, fee included"),
    Column("fee", BigInteger, nullable=False),
    Column("address", String(128), nullable=False),
    Column("chain", String(16), nullable=False),
    Column("state", String(12), nullable=False),
    Column("reserve_id", BigInteger, nullable=True),
    Column("batch_id", BigInteger, nullable=True),
    Column("txid", String(128), nullable=True),
    Column("reason", String(200), nullable=True),
    Column("approved_by", BigInteger, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_withdrawals_user", withdrawals.c.user_id, withdrawals.c.id)
Index("ix_withdrawals_state", withdrawals.c.state, withdrawals.c.asset)
Index("ix_withdrawals_batch", withdrawals.c.batch_id)

# core.cashout.payouts
payout_batches = Table(
    "payout_batches",
    metadata,
    id_column(),
    Column("key", String(64), nullable=False, unique=True),
    Column("asset", String(8), nullable=False),
    Column("backend", String(16), nullable=False),
    Column("state", String(12), nullable=False, comment="open | sending | manual | unknown | done"),
    Column("txid", String(128), nullable=True),
    Column("error", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
