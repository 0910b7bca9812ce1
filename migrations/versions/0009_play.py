"""games hardening: sealed server seeds, crash salts committed to a Bitcoin block, crash covers

Revision ID: 0009_play
Revises: 0008_captcha
Create Date: 2026-12-06 19:00:00

Unrevealed server seeds are stored as SecretBox tokens (124 characters) instead of 64 hex
characters. The migration only widens the columns: it cannot encrypt, since it runs without
SECRET_KEY (``bot.py migrate``, ``alembic upgrade``; on SQLite the key may live in
data/secret.key). The bot seals the rows still in clear at its next start
(core.play.games.seal_seeds) and reads both forms meanwhile.

A crash chain names the Bitcoin block whose hash will be its salt (salt_height) and the earliest
time that block could exist (salt_after). Chains made before have neither: one without a salt
is replaced by the next /crashnew.

A crash bet records the most it can win beyond its stake (cover) and the house's reserve of it
(cover_id). Bets open during the upgrade have none (0, NULL) and settle as before.
"""

import sqlalchemy as sa
from alembic import op

import core.platform.schema

revision = "0009_play"
down_revision = "0008_captcha"
branch_labels = None
depends_on = None

SEALED = "SecretBox token (aad fair_seed:<user_id>) until revealed"
SEED_COLUMNS = [  # table, column, new comment, old comment
    ("game_seeds", "server_seed", SEALED + ", then the seed in clear", None),
    ("fair_seeds", "server_seed", SEALED, None),
    (
        "fair_seeds",
        "next_server_seed",
        "committed by its hash before use; " + SEALED,
        "committed by its hash before use",
    ),
]


def _seed_columns(length_from: int, length_to: int, *, upgrading: bool) -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, column, new_comment, old_comment in SEED_COLUMNS:
        comments = (new_comment, old_comment) if upgrading else (old_comment, new_comment)
        extra = {"comment": comments[0], "existing_comment": comments[1]} if postgresql else {}
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.String(length_from),
                type_=sa.String(length_to),
                existing_nullable=False,
                **extra,
            )


def upgrade() -> None:
    _seed_columns(64, 200, upgrading=True)
    with op.batch_alter_table("crash_chains", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "salt_height", sa.BigInteger(), nullable=True, comment="Bitcoin block whose hash is the salt"
            )
        )
        batch_op.add_column(
            sa.Column(
                "salt_after",
                core.platform.schema.UTCDateTime(timezone=True),
                nullable=True,
                comment="earliest time that block could exist",
            )
        )

    with op.batch_alter_table("crash_bets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "cover",
                sa.BigInteger(),
                server_default="0",
                nullable=False,
                comment="largest win beyond the stake",
            )
        )
        batch_op.add_column(
            sa.Column(
                "cover_id", sa.BigInteger(), nullable=True, comment="its reserve house -> user (none when 0)"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("crash_bets", schema=None) as batch_op:
        batch_op.drop_column("cover_id")
        batch_op.drop_column("cover")
    with op.batch_alter_table("crash_chains", schema=None) as batch_op:
        batch_op.drop_column("salt_after")
        batch_op.drop_column("salt_height")
    # Sealed tokens do not fit 64 characters: reveal or drop them before downgrading.
    _seed_columns(200, 64, upgrading=False)
