"""Unrevealed server seeds at rest: only ciphertext in the database and in SQL logs.

Whoever reads a backup, a replica or the SQL log must not learn a seed before it is revealed:
with it they would know every result of its bets in advance.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import bindparam, select, text, update

from core.money.accounts import user_account
from core.platform.db import Database
from core.platform.schema import UTCDateTime
from core.play import fair, games
from core.play.stakes import GameRefused
from core.play.tables import fair_seeds, game_seeds
from tests.play import RULES, balance, setup_money

U = 42
KEY = "k" * 40


def dump(conn) -> str:
    """Every value of both seed tables as text, as a backup would hold them."""
    rows = [r for t in ("game_seeds", "fair_seeds") for r in conn.execute(text(f"SELECT * FROM {t}"))]
    return "\n".join(" ".join(str(v) for v in r) for r in rows)


async def bet(db, idem: str, key: str = KEY):
    return await db.write(
        games.place_bet,
        user_id=U,
        game="limbo",
        asset="DOGE",
        amount=10_000,
        params={"target": 200},
        rules=RULES,
        idem=idem,
        secret_key=key,
    )


async def test_no_unrevealed_seed_is_stored_in_clear(db):
    await setup_money(db, {U: 10**9})
    first = await db.write(games.seed_state, U, secret_key=KEY)
    for i in range(3):
        await bet(db, f"a{i}")
    before = await db.read(dump)  # the active seed and the next one are both unrevealed here
    rot1 = await db.write(games.rotate_seed, U, secret_key=KEY)
    await bet(db, "b0")
    between = await db.read(dump)  # the second seed (now active) and the third (next) are secret
    rot2 = await db.write(games.rotate_seed, U, secret_key=KEY)
    rot3 = await db.write(games.rotate_seed, U, secret_key=KEY)
    seed1, seed2, seed3 = rot1.revealed_seed, rot2.revealed_seed, rot3.revealed_seed
    assert fair.commitment(seed1) == first.commitment and fair.commitment(seed2) == first.next_commitment
    for seed in (seed1, seed2):
        assert seed not in before
    for seed in (seed2, seed3):
        assert seed not in between
    after = await db.read(dump)
    assert seed1 in after and seed2 in after and seed3 in after  # revealed seeds are public: kept plain
    check = await db.read(games.check_bet, U, 1)  # /verify still proves the old bets
    assert check.verification is not None and check.verification.server_seed == seed1


async def test_sql_logs_never_carry_an_unrevealed_seed(database_url, db, caplog):
    """SQLAlchemy's echo at its most verbose (statements, parameters and result rows)."""
    await setup_money(db, {U: 10**9})
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    logged = Database(database_url)  # connections opened now log every statement
    await logged.start()
    try:
        await logged.write(games.seed_state, U, secret_key=KEY)
        for i in range(2):
            await bet(logged, f"a{i}")
        rot1 = await logged.write(games.rotate_seed, U, secret_key=KEY)  # reveals seed 1
        await bet(logged, "b0")
    finally:
        await logged.close()
    log = caplog.text
    caplog.set_level(logging.WARNING, logger="sqlalchemy.engine")
    assert "INSERT INTO game_seeds" in log and rot1.revealed_seed in log  # the log did capture seeds
    rot2 = await db.write(games.rotate_seed, U, secret_key=KEY)
    rot3 = await db.write(games.rotate_seed, U, secret_key=KEY)
    assert rot2.revealed_seed not in log and rot3.revealed_seed not in log


async def test_seeds_written_before_encryption_are_read_and_then_sealed(db):
    """Rows from before this change hold seeds in clear: they still play, and ``seal_seeds``
    (run at every start) encrypts them in place."""
    await setup_money(db, {U: 10**9})
    server, nxt = fair.new_server_seed(), fair.new_server_seed()
    await db.write(games.seed_state, U, secret_key=KEY)

    def plain(conn):  # what an old version wrote
        seed_id = conn.execute(select(fair_seeds.c.seed_id).where(fair_seeds.c.user_id == U)).scalar_one()
        conn.execute(
            update(game_seeds)
            .where(game_seeds.c.id == seed_id)
            .values(server_seed=server, commitment=fair.commitment(server))
        )
        conn.execute(
            update(fair_seeds)
            .where(fair_seeds.c.user_id == U)
            .values(server_seed=server, next_server_seed=nxt)
        )

    await db.write(plain)
    st = await db.write(games.seed_state, U, secret_key=KEY)
    assert (st.commitment, st.next_commitment) == (fair.commitment(server), fair.commitment(nxt))
    placed = await bet(db, "old")
    assert await db.write(games.seal_seeds, secret_key=KEY) == 3  # two in fair_seeds, one in game_seeds
    assert await db.write(games.seal_seeds, secret_key=KEY) == 0
    sealed = await db.read(dump)
    assert server not in sealed and nxt not in sealed
    rot = await db.write(games.rotate_seed, U, secret_key=KEY)
    assert rot.revealed_seed == server and rot.state.commitment == fair.commitment(nxt)
    v = (await db.read(games.check_bet, U, placed.id)).verification
    assert v.server_seed == server and v.result == placed.result


async def test_a_sealed_seed_opens_only_for_its_user_and_key(db):
    await setup_money(db, {U: 10**9, U + 1: 10**9})
    await db.write(games.seed_state, U, secret_key=KEY)
    await db.write(games.seed_state, U + 1, secret_key=KEY)

    def swap(conn):  # someone with write access copies another user's sealed seed
        other = conn.execute(
            select(fair_seeds.c.server_seed).where(fair_seeds.c.user_id == U + 1)
        ).scalar_one()
        conn.execute(update(fair_seeds).where(fair_seeds.c.user_id == U).values(server_seed=other))

    await db.write(swap)
    with pytest.raises(GameRefused) as e:
        await bet(db, "x")
    assert e.value.reason == "seeds_unreadable"
    with pytest.raises(GameRefused) as e:
        await db.write(games.seed_state, U + 1, secret_key="another key that is long enough....")
    assert e.value.reason == "seeds_unreadable"
    assert await balance(db, user_account(U)) == 10**9  # nothing moved


async def test_an_upgrade_keeps_seeds_from_before_and_the_first_start_seals_them(tmp_path, migrated_template):
    """A database at 0006 with a player's seeds in clear: after the migration and bot.py's
    start-up sealing, no unrevealed seed is left in clear, and the old seeds still play and
    reveal to their commitments."""
    import asyncio

    from core.platform.migrate import upgrade
    from tests.conftest import PG_URL, reset_pg_schema

    url = PG_URL or f"sqlite+aiosqlite:///{tmp_path}/old.db"
    try:
        await upgrade_with_old_seeds(url)
    finally:
        if PG_URL:  # leave the shared test schema at head, as the session set it up
            await asyncio.to_thread(reset_pg_schema, PG_URL)
            await asyncio.to_thread(upgrade, PG_URL)


async def upgrade_with_old_seeds(url: str) -> None:
    import asyncio
    from datetime import UTC, datetime

    from core.money.ledger import check_invariants
    from core.platform.migrate import upgrade
    from tests.conftest import PG_URL, reset_pg_schema

    if PG_URL:
        await asyncio.to_thread(reset_pg_schema, PG_URL)
    await asyncio.to_thread(upgrade, url, "0006_lookup_indexes")
    server, nxt, client = fair.new_server_seed(), fair.new_server_seed(), "old client seed"
    old = Database(url)
    await old.start()
    then = datetime(2026, 12, 1, 10, tzinfo=UTC)

    def as_0006_wrote(conn):
        conn.execute(
            text(
                "INSERT INTO game_seeds (user_id, server_seed, commitment, client_seed, created_at)"
                " VALUES (:u, :s, :c, :cl, :t)"
            ).bindparams(bindparam("t", type_=UTCDateTime)),
            {"u": U, "s": server, "c": fair.commitment(server), "cl": client, "t": then},
        )
        conn.execute(
            text(
                "INSERT INTO fair_seeds (user_id, seed_id, server_seed, client_seed, nonce, next_server_seed)"
                " VALUES (:u, 1, :s, :cl, 0, :n)"
            ),
            {"u": U, "s": server, "cl": client, "n": nxt},
        )

    await old.write(as_0006_wrote)
    await old.close()
    await asyncio.to_thread(upgrade, url)
    new = Database(url)
    await new.start()
    try:
        assert await new.write(games.seal_seeds, secret_key=KEY) == 3
        assert server not in await new.read(dump) and nxt not in await new.read(dump)
        await setup_money(new, {U: 10**9})
        placed = await bet(new, "after-upgrade")
        assert placed.client_seed == client and placed.nonce == 0
        rot = await new.write(games.rotate_seed, U, secret_key=KEY)
        assert rot.revealed_seed == server and rot.state.commitment == fair.commitment(nxt)
        assert (await new.read(games.check_bet, U, placed.id)).verification.result == placed.result
        assert await new.read(check_invariants) == []
    finally:
        await new.close()
