"""Crash rounds through core: chain and salt, joining, cash-out by the server clock, settlement."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.money.accounts import HOUSE, user_account
from core.platform.schema import utcnow
from core.play import crash, crash_chain
from tests.play import RULES, TIP, balance, load_chain, new_chain, setup_money

KEY = "s" * 40
SALT = "00000000000000000002a0d9b1c2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0"


async def salted_round(db, chains, now):
    await new_chain(db, 50, KEY, now=now)
    assert await db.write(crash.open_round, chains, betting_seconds=10, now=now) is None  # no salt yet
    await db.write(crash.set_salt, SALT, admin_id=1, now=now)
    await load_chain(db, chains)
    return await db.write(crash.open_round, chains, betting_seconds=10, now=now)


async def find_round(db, chains, now, want):
    """Play empty rounds until one whose crash point satisfies ``want``."""
    rnd = await salted_round(db, chains, now)
    while not want(rnd.crash_point):
        await db.write(crash.start_round, rnd.id, now=now)
        await db.write(crash.crash_round, rnd.id, "00" * 32, now=now)
        rnd = await db.write(crash.open_round, chains, betting_seconds=10, now=now)
    return rnd


async def test_round_hash_chains_to_commitment_and_gives_crash_point(db):
    chains, now = crash.ChainCache(KEY), utcnow()
    rnd = await salted_round(db, chains, now)
    chain = await db.read(crash.latest_chain)
    h = chains.game_hash(chain.id, rnd.game)
    assert crash_chain.verifies_to_terminating(h, bytes.fromhex(chain.commitment), 100) == 1
    assert crash_chain.crash_point(h, SALT) == rnd.crash_point


@pytest.mark.parametrize("salt", ["", "zz" * 32, "ab", "ab" * 31, "ab" * 33, "a" * 128, "0x" + "ab" * 31])
async def test_bad_salt_refused(db, salt):
    """The salt is a Bitcoin block hash: exactly 64 hex characters, nothing else."""
    await new_chain(db, 5, KEY)
    with pytest.raises(crash.CrashRefused) as e:
        await db.write(crash.set_salt, salt, admin_id=1)
    assert e.value.reason == "bad_salt" and e.value.params["height"] == TIP + 6
    assert (await db.read(crash.latest_chain)).salt is None


async def test_a_chain_commits_to_a_future_block_and_takes_only_its_hash_once_it_can_exist(db):
    """/crashnew fixes the chain and names a block not mined yet (tip + crash.salt_blocks);
    /crashsalt before that block could have been mined (a block a minute at the very fastest)
    is refused, so the salt cannot be one the operator knew when the chain was made."""
    at = utcnow()
    built = await asyncio.to_thread(crash.build_chain, 20)
    chain = await db.write(
        crash.create_chain, built, secret_key=KEY, admin_id=1, tip_height=912_345, salt_blocks=6, now=at
    )
    assert chain.salt_height == 912_351 and chain.salt_after == at + timedelta(minutes=6)
    assert chain.committed_at == at
    block = "00000000000000000001" + "ab" * 22
    for early in (at, at + timedelta(minutes=5, seconds=59)):
        with pytest.raises(crash.CrashRefused) as e:
            await db.write(crash.set_salt, block, admin_id=1, now=early)
        assert e.value.reason == "salt_early" and e.value.params["height"] == 912_351
    assert (await db.read(crash.latest_chain)).salt is None
    salted = await db.write(crash.set_salt, block.upper(), admin_id=1, now=at + timedelta(minutes=6))
    assert salted.salt == block and salted.salt_height == 912_351


async def test_a_block_the_node_has_seen_is_taken_at_once(db):
    """A configured Bitcoin node that returned the block's hash proves it was mined."""
    at = utcnow()
    built = await asyncio.to_thread(crash.build_chain, 20)
    await db.write(
        crash.create_chain, built, secret_key=KEY, admin_id=1, tip_height=10, salt_blocks=1, now=at
    )
    salted = await db.write(crash.set_salt, SALT, admin_id=1, now=at, node_confirmed=True)
    assert salted.salt == SALT


async def test_an_unsalted_chain_is_replaced_only_before_its_block_can_exist(db):
    """Replacing a chain once its salt block may be known would let an operator keep the chain
    that busts early with that salt: only a commitment whose block cannot exist yet is replaced."""
    at = utcnow()
    for when in (at, at + timedelta(minutes=3)):
        built = await asyncio.to_thread(crash.build_chain, 20)
        await db.write(crash.check_new_chain, now=when)
        await db.write(
            crash.create_chain, built, secret_key=KEY, admin_id=1, tip_height=100, salt_blocks=6, now=when
        )
    later = at + timedelta(minutes=10)  # the second chain's block (106) may exist now
    with pytest.raises(crash.CrashRefused) as e:
        await db.write(crash.check_new_chain, now=later)
    assert e.value.reason == "chain_exists"
    built = await asyncio.to_thread(crash.build_chain, 20)
    with pytest.raises(crash.CrashRefused):
        await db.write(
            crash.create_chain, built, secret_key=KEY, admin_id=1, tip_height=200, salt_blocks=6, now=later
        )


async def test_salt_is_set_once(db):
    await new_chain(db, 5, KEY)
    await db.write(crash.set_salt, SALT, admin_id=1)
    with pytest.raises(crash.CrashRefused) as e:
        await db.write(crash.set_salt, "ab" * 32, admin_id=1)
    assert e.value.reason == "salt_set"


async def join(db, user, now, amount=10_000, auto=None, idem=None):
    return await db.write(
        crash.join,
        user_id=user,
        asset="DOGE",
        amount=amount,
        auto_cashout=auto,
        rules=RULES,
        idem=idem or f"j:{user}",
        chat_id=user,
        now=now,
    )


async def test_cash_out_pays_by_server_clock_once_and_not_after_crash(db):
    chains, now = crash.ChainCache(KEY), utcnow()
    await setup_money(db, {1: 100_000, 2: 100_000, 3: 100_000})
    rnd = await find_round(db, chains, now, lambda cp: cp >= 150)
    b1, _ = await join(db, 1, now)
    b2, _ = await join(db, 2, now)
    b3, _ = await join(db, 3, now, auto=120)
    again, _ = await join(db, 1, now)  # the same update again
    assert again.replayed and again.id == b1.id
    with pytest.raises(crash.CrashRefused) as e:
        await join(db, 1, now, idem="other message")
    assert e.value.reason == "already_joined"
    assert await balance(db, user_account(1)) == 90_000  # reserved
    with pytest.raises(crash.CrashRefused):
        await db.write(crash.cash_out, user_id=1, bet_id=b1.id, now=now)  # not started
    start = now + timedelta(seconds=10)
    with pytest.raises(crash.CrashRefused) as e:
        await join(db, 4, start)
    assert e.value.reason == "betting_closed"
    rnd = await db.write(crash.start_round, rnd.id, now=start)
    at = start + timedelta(milliseconds=crash_chain.time_to_reach(140))
    out = await db.write(crash.cash_out, user_id=1, bet_id=b1.id, now=at)
    assert out.status == "won" and out.cashout == 140 and out.payout == 14_000
    with pytest.raises(crash.CrashRefused) as e:
        await db.write(crash.cash_out, user_id=1, bet_id=b1.id, now=at)
    assert e.value.reason == "already_cashed"
    with pytest.raises(crash.CrashRefused) as e:
        await db.write(crash.cash_out, user_id=2, bet_id=b1.id, now=at)  # not theirs
    assert e.value.reason == "not_found"
    late = rnd.bust_at() + timedelta(milliseconds=1)
    with pytest.raises(crash.CrashRefused) as e:
        await db.write(crash.cash_out, user_id=2, bet_id=b2.id, now=late)
    assert e.value.reason == "crashed"
    settled = await db.write(crash.crash_round, rnd.id, "ab" * 32, now=late)
    by_user = {b.user_id: b for b in settled}
    assert by_user[2].status == "lost" and by_user[3].status == "won" and by_user[3].payout == 12_000
    assert await balance(db, user_account(1)) == 104_000
    assert await balance(db, user_account(2)) == 90_000
    assert await balance(db, user_account(3)) == 102_000
    with pytest.raises(crash.CrashRefused) as e:
        await db.write(crash.cash_out, user_id=2, bet_id=b2.id, now=late)
    assert e.value.reason == "crashed"
    assert (await db.read(crash.get_round, rnd.id)).hash == "ab" * 32


async def test_instant_bust_cannot_be_escaped(db):
    chains, now = crash.ChainCache(KEY), utcnow()
    await setup_money(db, {1: 100_000})
    rnd = await find_round(db, chains, now, lambda cp: cp >= 200)
    b, _ = await join(db, 1, now)
    rnd = await db.write(crash.start_round, rnd.id, now=now)
    with pytest.raises(crash.CrashRefused):
        await db.write(crash.cash_out, user_id=1, bet_id=b.id, now=now)  # 1.00x never pays


async def test_20_concurrent_cash_outs_pay_once(db):
    chains, now = crash.ChainCache(KEY), utcnow()
    await setup_money(db, {1: 100_000})
    rnd = await find_round(db, chains, now, lambda cp: cp >= 150)
    b, _ = await join(db, 1, now)
    await db.write(crash.start_round, rnd.id, now=now)
    at = now + timedelta(milliseconds=crash_chain.time_to_reach(130))
    results = await asyncio.gather(
        *(db.write(crash.cash_out, user_id=1, bet_id=b.id, now=at) for _ in range(20)), return_exceptions=True
    )
    paid = [r for r in results if isinstance(r, crash.CrashBet)]
    refused = [r for r in results if isinstance(r, crash.CrashRefused) and r.reason == "already_cashed"]
    assert len(paid) == 1 and len(refused) == 19, results[:3]
    assert await balance(db, user_account(1)) == 100_000 - 10_000 + 13_000
    assert await balance(db, HOUSE) == 10**14 - 3_000


async def test_max_profit_caps_the_auto_cash_out(db):
    chains, now = crash.ChainCache(KEY), utcnow()
    await setup_money(db, {1: 10**9}, house=10**7)  # cap: 1e5 profit
    await salted_round(db, chains, now)
    b, _ = await join(db, 1, now, amount=100_000, auto=500)
    assert b.auto_cashout == 200  # (1e5 + 1e5) / 1e5 = 2.00x


async def test_seeds_rotate_while_a_crash_bet_is_open(db):
    """Crash draws from its own chain, never from the player's seeds: rotating is no risk to it."""
    from core.play import games

    chains, now = crash.ChainCache(KEY), utcnow()
    await setup_money(db, {1: 100_000})
    await salted_round(db, chains, now)
    b, _ = await join(db, 1, now)
    before = await db.write(games.seed_state, 1, secret_key=KEY)
    rot = await db.write(games.rotate_seed, 1, "new seed", now=now, secret_key=KEY)
    assert rot.revealed_commitment == before.commitment and rot.state.client_seed == "new seed"
    assert (await db.read(crash.round_bets, b.round_id))[0].status == "open"


async def test_auto_cash_out_at_the_ceiling_is_kept(db):
    """1,000,000x is a valid auto cash-out, and a bet without one still stops at the ceiling:
    a press can never win more than the stake check allowed for."""
    chains, now = crash.ChainCache(KEY), utcnow()
    await setup_money(db, {1: 10**9, 2: 10**9})  # house 1e14: the cap is far above 1,000,000x
    await salted_round(db, chains, now)
    explicit, _ = await join(db, 1, now, amount=100, auto=crash.AUTO_MAX)
    unset, _ = await join(db, 2, now, amount=100)
    assert explicit.auto_cashout == crash.AUTO_MAX and unset.auto_cashout == crash.AUTO_MAX


async def test_a_chain_is_never_hashed_inside_a_transaction(db):
    """Building a chain is up to 10^7 SHA-256: a cold cache makes open_round refuse (and change
    nothing) rather than hash while holding the write transaction; once loaded, it opens."""
    chains, now = crash.ChainCache(KEY), utcnow()
    chain = await new_chain(db, 50, KEY, now=now)
    await db.write(crash.set_salt, SALT, admin_id=1, now=now)
    with pytest.raises(crash.ChainNotLoaded) as e:
        await db.write(crash.open_round, chains, betting_seconds=10, now=now)
    assert e.value.chain_id == chain.id
    assert (await db.read(crash.latest_chain)).next_game == 1 and await db.read(crash.current_round) is None
    chains.load(await db.read(crash.sealed_chain, chain.id))
    assert (await db.write(crash.open_round, chains, betting_seconds=10, now=now)).game == 1
