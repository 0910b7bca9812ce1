"""Tables of loyalty: check-in streaks, boosts, daily activity, and staking positions' history.

Points themselves live in the ledger (asset ``RP``); these rows hold only what the ledger
cannot: streak state, the boost in force, how active a user was per UTC day, and how each
staking position's size changed over time (for stake x time within an epoch).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, PrimaryKeyConstraint, String, Table, false

from core.platform.schema import UTCDateTime, id_column, metadata

# One row per user who ever checked in, bought a freeze or a boost.
loyalty_users = Table(
    "loyalty_users",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("streak", Integer, nullable=False, server_default="0", comment="days in a row, 0 when broken"),
    Column(
        "covered_day",
        Integer,
        nullable=False,
        server_default="0",
        comment="last UTC day (days since 1970-01-01) checked in or saved by a freeze",
    ),
    Column("freezes", Integer, nullable=False, server_default="0", comment="streak freezes held"),
    Column(
        "reminders", Boolean, nullable=False, server_default=false(), comment="opted in to streak reminders"
    ),
    Column("boost_bp", Integer, nullable=False, server_default="0", comment="boost in basis points"),
    Column("boost_until", UTCDateTime, nullable=True),
)
Index("ix_loyalty_users_covered_day", loyalty_users.c.covered_day)

# How many rewarded actions a user made per UTC day (faucet claims, ad views, offers, bets,
# the check-in): the daily bonus job pays by it.
loyalty_activity = Table(
    "loyalty_activity",
    metadata,
    Column("day", Integer, nullable=False, comment="days since 1970-01-01 (UTC)"),
    Column("user_id", BigInteger, nullable=False),
    Column("actions", Integer, nullable=False),
    PrimaryKeyConstraint("day", "user_id"),
)

# Every change of a staking position's size, so an epoch weighs stake x time exactly.
stake_log = Table(
    "stake_log",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("amount_before", BigInteger, nullable=False, comment="DUST staked right before, minor units"),
    Column("amount_after", BigInteger, nullable=False, comment="DUST staked right after, minor units"),
)
Index("ix_stake_log_user_at", stake_log.c.user_id, stake_log.c.at)
Index("ix_stake_log_at", stake_log.c.at)

# An epoch's pool per asset, fixed the first time it is computed, so a run killed in the
# middle pays the rest from the same numbers.
stake_epochs = Table(
    "stake_epochs",
    metadata,
    Column("epoch", Integer, nullable=False, comment="UTC day, days since 1970-01-01"),
    Column("asset", String(8), nullable=False),
    Column("pool", BigInteger, nullable=False, comment="what the epoch shares out, minor units"),
    Column("paid", BigInteger, nullable=False, comment="sum of the positions' rewards"),
    Column("remainder", BigInteger, nullable=False, comment="pool - paid: stays with the platform"),
    Column(
        "weight",
        String(40),
        nullable=False,
        comment="total stake x seconds (a decimal string: may pass BIGINT)",
    ),
    Column("positions", Integer, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("epoch", "asset"),
)

# What each position earned per epoch and asset (also in the ledger, key stake:{user}:{epoch}:{asset}).
stake_rewards = Table(
    "stake_rewards",
    metadata,
    Column("user_id", BigInteger, nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "epoch", "asset"),
)

# Unstaked DUST on its cooldown: a pending transfer from the position to the user, posted when due.
unstakes = Table(
    "unstakes",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("transfer_id", BigInteger, nullable=False, unique=True, comment="the pending transfer"),
    Column("amount", BigInteger, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("released", Boolean, nullable=False, server_default=false()),
)
Index("ix_unstakes_due", unstakes.c.released, unstakes.c.due_at)

# How far the daily bonus job got for a day: the last user id of its last committed chunk,
# written in the chunk's own transaction, so a run started again resumes there (the keys
# would make a replay harmless anyway; this makes it cheap).
daily_progress = Table(
    "daily_progress",
    metadata,
    Column("day", Integer, primary_key=True, autoincrement=False, comment="days since 1970-01-01 (UTC)"),
    Column("after", BigInteger, nullable=False, comment="users up to this id are paid"),
    Column("done_at", UTCDateTime, nullable=True),
)
