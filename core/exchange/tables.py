"""Tables of the exchange: prices per source, swap quotes and per-user daily swap volume."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from core.platform import UTCDateTime, id_column, metadata

# The last accepted USD price of each coin per source ("coingecko", "binance"; "manual" for an
# admin's /rates set), as a decimal string. A price that jumped too far in one poll waits in
# held_price until a second source confirms it (core.exchange.prices).
exchange_prices = Table(
    "exchange_prices",
    metadata,
    Column("source", String(16), primary_key=True),
    Column("asset", String(16), primary_key=True),
    Column("price", String(48), nullable=True, comment="USD per whole coin, a decimal string"),
    Column("fetched_at", UTCDateTime, nullable=True, comment="when the accepted price was read"),
    Column("held_price", String(48), nullable=True, comment="a jump waiting for a second source"),
    Column("held_at", UTCDateTime, nullable=True),
)

# One row per price source: when it was last polled, when it may be asked again (429/418
# Retry-After) and its last error, for /rates.
exchange_sources = Table(
    "exchange_sources",
    metadata,
    Column("source", String(16), primary_key=True),
    Column("polled_at", UTCDateTime, nullable=True),
    Column("retry_at", UTCDateTime, nullable=True),
    Column("error", String(200), nullable=True),
)

# A quote shown to a user: one leg (swap) or several (sweep), as JSON, valid until expires_at.
# Confirm turns an open quote into done exactly once (or replaced by a fresh quote).
swap_quotes = Table(
    "swap_quotes",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False, comment="swap | sweep"),
    Column("target", String(16), nullable=False, comment="the coin received"),
    Column("legs", Text, nullable=False, comment="JSON list of legs (core.exchange.quotes.Leg)"),
    Column(
        "state",
        String(12),
        nullable=False,
        server_default="open",
        comment="open | done | replaced | cancelled",
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
)
Index("ix_swap_quotes_user", swap_quotes.c.user_id, swap_quotes.c.id)

# What a user swapped away per coin and UTC day (minor units), for swap.daily_limit.<ASSET>.
swap_volume = Table(
    "swap_volume",
    metadata,
    Column("user_id", BigInteger, primary_key=True),
    Column("asset", String(16), primary_key=True),
    Column("day", Integer, primary_key=True, comment="days since 1970-01-01, UTC"),
    Column("amount", BigInteger, nullable=False),
)
