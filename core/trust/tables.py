"""Tables of trust: published proofs of liabilities, the platform's declared reserves, and the
on-chain progress of sent withdrawals.

A proof keeps every leaf (user, balance, salt), packed a chunk at a time, so any user can be given
their path later, and the tree's nodes from ``CHUNK_LEVEL`` up; the levels below are rebuilt from
one chunk of leaves when a proof is served (core.trust.proof). Sums fit BigInteger: the ledger caps what the world may
owe at 10**18 minor units, and users cannot hold more than the world owes.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, UniqueConstraint

from core.platform.schema import UTCDateTime, id_column, metadata

proof_roots = Table(
    "proof_roots",
    metadata,
    id_column(),
    Column("asset", String(8), nullable=False),
    Column("day", String(10), nullable=False, comment="UTC date the balances were taken, YYYY-MM-DD"),
    Column("root_hash", String(64), nullable=True, comment="hex; null while the tree is being written"),
    Column("total", BigInteger, nullable=False, server_default="0", comment="sum of the leaves, minor units"),
    Column("leaves", Integer, nullable=False, server_default="0"),
    Column("taken_at", UTCDateTime, nullable=False, comment="when the balances were read"),
    Column("published_at", UTCDateTime, nullable=True),
    UniqueConstraint("asset", "day", name="uq_proof_roots_asset_day"),
)

# The leaves in tree order, CHUNK at a time: ``data`` packs the chunk's user ids and balances
# (8-byte little-endian each) and salts (32 bytes each); ``first_salt`` finds a user's chunk from
# their salt (leaves are ordered by salt). One row per 128 users keeps the daily write small.
proof_chunks = Table(
    "proof_chunks",
    metadata,
    Column("root_id", BigInteger, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("first_salt", LargeBinary(32), nullable=False),
    Column(
        "data",
        LargeBinary,
        nullable=False,
        comment="user ids, balances, salts; salts shown only to their user",
    ),
)
Index("ix_proof_chunks_root_id_first_salt", proof_chunks.c.root_id, proof_chunks.c.first_salt, unique=True)

proof_nodes = Table(
    "proof_nodes",
    metadata,
    Column("root_id", BigInteger, primary_key=True, autoincrement=False),
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("sum", BigInteger, nullable=False),
)

# The platform's wallets per coin. ``hot``: the payout backend's wallet (address = the backend's
# name), its balance read by a job; ``cold``: an address an admin declared, its balance typed by
# an admin (/reserves add, /reserves set). ``taken_at`` says when the figure was true.
reserve_wallets = Table(
    "reserve_wallets",
    metadata,
    id_column(),
    Column("asset", String(8), nullable=False),
    Column("kind", String(4), nullable=False, comment="hot | cold"),
    Column("address", String(128), nullable=False),
    Column("label", String(64), nullable=True),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("updated_by", BigInteger, nullable=True, comment="the admin, for cold wallets"),
    Column("short_by", BigInteger, nullable=True, comment="hot: what approved withdrawals need beyond it"),
    UniqueConstraint("asset", "kind", "address", name="uq_reserve_wallets_asset_kind_address"),
)

# A sent payout transaction followed on chain until it is final (or flagged as dropped).
payout_tracking = Table(
    "payout_tracking",
    metadata,
    Column("batch_id", BigInteger, primary_key=True, autoincrement=False),
    Column("asset", String(8), nullable=False),
    Column("txid", String(128), nullable=False),
    Column("confirmations", Integer, nullable=False, server_default="0"),
    Column("sent_at", UTCDateTime, nullable=False),
    Column("checked_at", UTCDateTime, nullable=True),
    Column("confirmed_at", UTCDateTime, nullable=True, comment="first confirmation seen"),
    Column("final_at", UTCDateTime, nullable=True),
    Column("missing_since", UTCDateTime, nullable=True, comment="not found by the node since"),
    Column("dropped_at", UTCDateTime, nullable=True, comment="flagged to admins; never re-sent by itself"),
)
