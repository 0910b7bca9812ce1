"""Tables of operations: stored broadcasts and their materialised recipients."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, SmallInteger, String, Table, Text, text

from core.identity import users_table as users
from core.money import accounts_table as accounts
from core.money import transfers_table as transfers
from core.platform import UTCDateTime, id_column, metadata
from core.play import bets_table as bets
from core.play import crash_bets_table as crash_bets

broadcasts = Table(
    "broadcasts",
    metadata,
    id_column(),
    Column("admin_id", BigInteger, nullable=False),
    Column("text", Text, nullable=False, comment="Telegram HTML, as previewed"),
    Column("photo", String(256), nullable=True, comment="file_id of an optional photo"),
    Column("button_text", String(64), nullable=True),
    Column("button_url", String(512), nullable=True),
    Column("segment", String(32), nullable=True, comment="everyone | lang:xx | active:N | coin:XXX"),
    Column("state", String(12), nullable=False, comment="draft | running | paused | cancelled | done"),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("progress_chat", BigInteger, nullable=True),
    Column("progress_message", BigInteger, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
)

broadcast_recipients = Table(
    "broadcast_recipients",
    metadata,
    Column("broadcast_id", BigInteger, ForeignKey("broadcasts.id"), primary_key=True),
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column(
        "state",
        SmallInteger,
        nullable=False,
        server_default="0",
        comment="PENDING 0, SENDING 1, SENT 2, BLOCKED 3, FAILED 4",
    ),
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
)
Index(
    "ix_broadcast_recipients_state",
    broadcast_recipients.c.broadcast_id,
    broadcast_recipients.c.state,
    broadcast_recipients.c.user_id,
)

# The console's indexes on other capabilities' tables (core.ops.dashboard and reports read by them;
# migration 0021_console). Each makes one dashboard figure an index range instead of a table scan.
Index("ix_users_seen_at", users.c.seen_at)  # active in 24 h / 7 d, broadcast "active" segments
Index("ix_users_created_at", users.c.created_at)  # new today, new users per day
# Users who blocked the bot (a few percent): counted without reading every user.
Index(
    "ix_users_blocked",
    users.c.id,
    sqlite_where=text("is_blocked IS 1"),
    postgresql_where=text("is_blocked IS true"),
)
# Transfers by code and time, covering what the sums read: fees, ad fees, faucet pace, earnings.
Index(
    "ix_transfers_code_at",
    transfers.c.code,
    transfers.c.created_at,
    transfers.c.asset,
    transfers.c.amount,
    transfers.c.kind,
)
# Only system accounts (a few hundred rows against millions of users'): liabilities = -sum(these).
Index(
    "ix_accounts_system",
    accounts.c.owner,
    accounts.c.asset,
    accounts.c.balance,
    sqlite_where=text("owner NOT LIKE 'user:%'"),
    postgresql_where=text("owner NOT LIKE 'user:%'"),
)
Index("ix_bets_created_at", bets.c.created_at)  # house net per day and game
Index("ix_crash_bets_settled_at", crash_bets.c.settled_at)
