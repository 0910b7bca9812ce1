"""Tables of the games: seeds and seeded bets, crash chains, rounds and bets, play limits.

Kept apart from the logic so that core.play.games, core.play.crash and core.play.stakes can all read them
without importing each other. Money is BigInteger minor units; multipliers are ints
(hundredths for crash and results, ten-thousandths for ``multiplier_x10k``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from core.platform import UTCDateTime, id_column, metadata

# Every server seed a user has had. ``revealed_at`` is set when the user rotates away from it;
# until then server_seed is sealed (core.play.games: a SecretBox token under SECRET_KEY, aad
# fair_seed:<user_id>) and must never be shown or logged (only its commitment).
SEALED_COMMENT = "SecretBox token (aad fair_seed:<user_id>) until revealed"
game_seeds = Table(
    "game_seeds",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("server_seed", String(200), nullable=False, comment=SEALED_COMMENT + ", then the seed in clear"),
    Column("commitment", String(64), nullable=False),
    Column("client_seed", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revealed_at", UTCDateTime, nullable=True),
)
Index("ix_game_seeds_user_id", game_seeds.c.user_id, game_seeds.c.id)

# The seed pair in force per user, denormalised so that one UPDATE ... RETURNING fixes a nonce.
fair_seeds = Table(
    "fair_seeds",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("seed_id", BigInteger, nullable=False),
    Column("server_seed", String(200), nullable=False, comment=SEALED_COMMENT),
    Column("client_seed", String(64), nullable=False),
    Column("nonce", BigInteger, nullable=False, server_default="0", comment="the next bet's nonce"),
    Column(
        "next_server_seed",
        String(200),
        nullable=False,
        comment="committed by its hash before use; " + SEALED_COMMENT,
    ),
)

bets = Table(
    "bets",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("game", String(8), nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("payout", BigInteger, nullable=False),
    Column("seed_id", BigInteger, nullable=False),
    Column("nonce", BigInteger, nullable=False),
    Column("client_seed", String(64), nullable=False),
    Column("params", Text, nullable=False, comment="JSON: target/direction/rows/risk and edge_bp"),
    Column("result", BigInteger, nullable=False, comment="roll or limbo result (hundredths), plinko bucket"),
    Column("multiplier_x10k", BigInteger, nullable=False),
    Column("idem", String(100), nullable=False, comment="from the Telegram update: a retry finds this bet"),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("idem", name="uq_bets_idem"),
    UniqueConstraint("seed_id", "nonce", name="uq_bets_seed_id"),
)
Index("ix_bets_user_id", bets.c.user_id, bets.c.id)
Index("ix_bets_user_asset_at", bets.c.user_id, bets.c.asset, bets.c.created_at)

crash_chains = Table(
    "crash_chains",
    metadata,
    id_column(),
    Column("commitment", String(64), nullable=False, comment="terminating hash, published before game 1"),
    Column("length", BigInteger, nullable=False),
    Column("next_game", BigInteger, nullable=False, server_default="1"),
    Column("seed_enc", Text, nullable=False, comment="chain seed, Fernet-encrypted with SECRET_KEY"),
    Column("salt", String(128), nullable=True, comment="public value fixed after the commitment"),
    Column("salt_set_at", UTCDateTime, nullable=True),
    Column("salt_height", BigInteger, nullable=True, comment="Bitcoin block whose hash is the salt"),
    Column("salt_after", UTCDateTime, nullable=True, comment="earliest time that block could exist"),
    Column("active", Boolean, nullable=False, server_default=false()),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("commitment", name="uq_crash_chains_commitment"),
)

# status: betting -> running -> crashed (or stuck: busted, settlement failed, retried later).
# crash_point is secret until the round has busted.
crash_rounds = Table(
    "crash_rounds",
    metadata,
    id_column(),
    Column("chain_id", BigInteger, nullable=False),
    Column("game", BigInteger, nullable=False),
    Column("status", String(8), nullable=False),
    Column("crash_point", BigInteger, nullable=False),
    Column("hash", String(64), nullable=True, comment="game hash, stored once the round has crashed"),
    Column("betting_ends_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("crashed_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("chain_id", "game", name="uq_crash_rounds_chain_id"),
)

# status: open (stake reserved user -> house, cover reserved house -> user) -> won | lost (stake
# posted, cover voided; a win paid from house).
crash_bets = Table(
    "crash_bets",
    metadata,
    id_column(),
    Column("round_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("auto_cashout", BigInteger, nullable=True, comment="hundredths; includes the max-profit cap"),
    Column("asked", BigInteger, nullable=True, comment="the auto cash-out the player set (hundredths)"),
    Column("status", String(8), nullable=False),
    Column("cashout", BigInteger, nullable=True, comment="hundredths paid at"),
    Column("payout", BigInteger, nullable=False, server_default="0"),
    Column("reserve_id", BigInteger, nullable=False),
    Column("cover", BigInteger, nullable=False, server_default="0", comment="largest win beyond the stake"),
    Column("cover_id", BigInteger, nullable=True, comment="its reserve house -> user (none when 0)"),
    Column("idem", String(100), nullable=False),
    Column("chat_id", BigInteger, nullable=False),
    Column("message_id", BigInteger, nullable=True),
    Column("locale", String(8), nullable=False, server_default="en"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("settled_at", UTCDateTime, nullable=True),
    UniqueConstraint("idem", name="uq_crash_bets_idem"),
    UniqueConstraint("round_id", "user_id", name="uq_crash_bets_round_id"),
)
Index("ix_crash_bets_user_status", crash_bets.c.user_id, crash_bets.c.status)
Index("ix_crash_bets_user_asset_at", crash_bets.c.user_id, crash_bets.c.asset, crash_bets.c.created_at)

# /crash typed while a round runs: the join waits here (nothing reserved yet) and is made when the
# next round opens (core.play.crash.join_queued); one waiting join per user.
crash_queue = Table(
    "crash_queue",
    metadata,
    id_column(),
    Column("user_id", BigInteger, nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("auto_cashout", BigInteger, nullable=True, comment="hundredths, as the player typed it"),
    Column("idem", String(100), nullable=False),
    Column("chat_id", BigInteger, nullable=False),
    Column("message_id", BigInteger, nullable=True, comment="the 'queued' message, edited when it opens"),
    Column("locale", String(8), nullable=False, server_default="en"),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", name="uq_crash_queue_user_id"),
    UniqueConstraint("idem", name="uq_crash_queue_idem"),
)

play_limits = Table(
    "play_limits",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("excluded_until", UTCDateTime, nullable=True),
)

loss_limits = Table(
    "loss_limits",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("asset", String(8), primary_key=True),
    Column("daily", BigInteger, nullable=False, comment="most a user may lose per UTC day, minor units"),
    Column("changed_at", UTCDateTime, nullable=False),
)
