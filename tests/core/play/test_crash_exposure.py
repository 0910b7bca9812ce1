"""Crash exposure: a round can never owe more than the house holds, and a settlement that fails
does not stop the game.

Each bet's largest possible win beyond its stake is reserved from the house when it joins
(two-phase: voided at settlement, when the actual win is paid), within a per-round cap
(``crash.max_round_profit``, a share of the house); a bet that would pass the cap gets a lower
auto cash-out, or is refused.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

import pytest
from aiogram import Bot
from sqlalchemy import select

from core.money import ledger
from core.money.accounts import HOUSE, user_account
from core.platform.db import Database
from core.platform.notices import notices
from core.platform.params import Params
from core.platform.schema import utcnow
from core.play import crash, crash_chain
from core.play.stakes import GameRefused, Rules
from handlers.common.i18n import get_i18n
from handlers.common.notices import render
from jobs.crash import CrashRunner
from tests.core.play.test_crash import KEY, SALT, find_round, join
from tests.handlers.harness import BOT_TOKEN, RecordingSession, texts
from tests.jobs.test_crash_runner import FakeClock
from tests.play import RULES, balance, load_chain, new_chain, setup_money

HOUSE_FUNDS = 1_000_000  # DOGE minor units: 1 % is 10_000 a bet, 5 % (the default round cap) 50_000
ROUND_CAP = HOUSE_FUNDS * 500 // 10_000


async def joined_or_refused(db, user, now, **kw):
    try:
        bet, _ = await join(db, user, now, **kw)
        return bet
    except GameRefused as e:
        return e


async def test_many_bets_at_the_cap_cannot_owe_more_than_the_house_holds(db):
    """150 players each asking 2x on 10_000 (the per-bet cap): together 1.5 times the house.
    Before: every bet joined, the settlement of a round busting above 2x could not be paid, was
    retried forever, and no round opened again. Now the round reserves what it may pay."""
    chains, now = crash.ChainCache(KEY), utcnow()
    await setup_money(db, {u: 100_000 for u in range(1, 151)}, house=HOUSE_FUNDS)
    rnd = await find_round(db, chains, now, lambda cp: cp >= 200)
    results = [await joined_or_refused(db, u, now, amount=10_000, auto=200) for u in range(1, 151)]
    bets = [r for r in results if isinstance(r, crash.CrashBet)]
    refused = [r for r in results if isinstance(r, GameRefused)]
    assert bets and refused and len(bets) + len(refused) == 150
    assert {r.reason for r in refused} == {"round_full"}
    assert all(b.auto_cashout <= 200 for b in bets)
    assert any(b.auto_cashout < 200 for b in bets)  # capped to fit the round, not refused at once
    covered = sum(b.amount * b.auto_cashout // 100 - b.amount for b in bets)
    assert covered <= ROUND_CAP
    house = await db.read(ledger.balance, HOUSE, "DOGE")
    assert house.held == covered  # reserved from the house at join
    assert house.available == HOUSE_FUNDS - covered
    await db.write(crash.start_round, rnd.id, now=now)
    settled = await db.write(crash.crash_round, rnd.id, "ab" * 32, now=rnd.bust_at())
    assert all(b.status == "won" for b in settled)  # everyone's auto was at or below the bust
    house = await db.read(ledger.balance, HOUSE, "DOGE")
    assert house.held == 0 and house.balance == HOUSE_FUNDS - covered
    for b in bets:
        assert (
            await balance(db, user_account(b.user_id))
            == 100_000 - b.amount + b.amount * b.auto_cashout // 100
        )
    assert (await db.read(crash.get_round, rnd.id)).status == "crashed"


async def test_a_cash_out_releases_the_reserve_and_pays_only_what_it_won(db):
    chains, now = crash.ChainCache(KEY), utcnow()
    await setup_money(db, {1: 100_000}, house=HOUSE_FUNDS)
    rnd = await find_round(db, chains, now, lambda cp: cp >= 150)
    bet, _ = await join(db, 1, now, amount=10_000, auto=200)
    assert (await db.read(ledger.balance, HOUSE, "DOGE")).held == 10_000
    await db.write(crash.start_round, rnd.id, now=now)
    at = now + timedelta(milliseconds=crash_chain.time_to_reach(130))
    out = await db.write(crash.cash_out, user_id=1, bet_id=bet.id, now=at)
    assert out.payout == 13_000
    house = await db.read(ledger.balance, HOUSE, "DOGE")
    assert house.held == 0 and house.balance == HOUSE_FUNDS - 3_000
    assert await balance(db, user_account(1)) == 103_000


async def test_racing_joins_keep_the_round_within_its_cap(db, database_url):
    """Joins from several bot instances at once (one transaction each, real concurrency on
    PostgreSQL): the reserves they take together never pass the round's cap."""
    chains, now = crash.ChainCache(KEY), utcnow()
    players = range(1, 61)
    await setup_money(db, {u: 100_000 for u in players}, house=HOUSE_FUNDS)
    rnd = await find_round(db, chains, now, lambda cp: cp >= 200)
    instances = [Database(database_url) for _ in range(6)]
    for instance in instances:
        await instance.start()
    try:
        results = await asyncio.gather(
            *(
                instances[u % len(instances)].write(
                    crash.join,
                    user_id=u,
                    asset="DOGE",
                    amount=10_000,
                    auto_cashout=200,
                    rules=RULES,
                    idem=f"race:{u}",
                    chat_id=u,
                    now=now,
                )
                for u in players
            ),
            return_exceptions=True,
        )
    finally:
        for instance in instances:
            await instance.close()
    bets = [b for b, _ in (r for r in results if isinstance(r, tuple))]
    refused = [r for r in results if isinstance(r, GameRefused) and r.reason == "round_full"]
    assert len(bets) + len(refused) == 60, [r for r in results if not isinstance(r, tuple | GameRefused)][:3]
    covered = sum(b.amount * b.auto_cashout // 100 - b.amount for b in bets)
    assert 0 < covered <= ROUND_CAP
    assert (await db.read(ledger.balance, HOUSE, "DOGE")).held == covered
    await db.write(crash.start_round, rnd.id, now=now)
    await db.write(crash.crash_round, rnd.id, "ab" * 32, now=rnd.bust_at())
    assert (await db.read(ledger.balance, HOUSE, "DOGE")).balance == HOUSE_FUNDS - covered


async def test_the_round_cap_is_a_setting(db):
    chains, now = crash.ChainCache(KEY), utcnow()
    await setup_money(db, {1: 10**9}, house=HOUSE_FUNDS)
    await find_round(db, chains, now, lambda cp: True)
    wide = Rules(
        edge_bp=100,
        min_bet=100,
        max_bet=10**12,
        max_profit_bp=10_000,
        limbo_max=100_000,
        round_profit_bp=2_000,
    )
    bet, _ = await db.write(
        crash.join,
        user_id=1,
        asset="DOGE",
        amount=100_000,
        auto_cashout=10_000,
        rules=wide,
        idem="wide",
        chat_id=1,
        now=now,
    )
    assert bet.auto_cashout == 300  # 20 % of 1e6 = 2e5 profit on 1e5: 3.00x, not 100x
    assert (await db.read(ledger.balance, HOUSE, "DOGE")).held == 200_000


class FailOnce:
    """crash_round that fails the first time (a bug, a constraint, a lost disk): the real one after."""

    def __init__(self):
        self.failed = False

    def __call__(self, conn, round_id, game_hash_hex, now=None):
        if not self.failed:
            self.failed = True
            raise RuntimeError("settlement exploded")
        return REAL_CRASH_ROUND(conn, round_id, game_hash_hex, now=now)


REAL_CRASH_ROUND = crash.crash_round


async def test_a_failed_settlement_is_reported_and_the_game_goes_on(db, monkeypatch):
    """Before: the runner retried the same settlement forever and never opened another round.
    Now: the round is marked stuck (its stakes and reserves stay on hold, the books balance), the
    admins get a notice through the outbox, the next round opens, and the stuck round is settled
    by a later try."""
    clock = FakeClock()
    session = RecordingSession()
    runner = CrashRunner(
        db,
        Bot(BOT_TOKEN, session=session),
        Params(env={"CRASH_BETTING_SECONDS": "1"}),
        KEY,
        clock=clock,
        tick=0.5,
        admin_ids=frozenset({9001, 9002}),
    )
    await new_chain(db, 50, KEY)
    await db.write(crash.set_salt, SALT, admin_id=1)
    await setup_money(db, {1: 100_000, 2: 100_000}, house=HOUSE_FUNDS)
    await load_chain(db, runner.chains)
    rnd = await db.write(crash.open_round, runner.chains, betting_seconds=1, now=clock.now())
    b1, _ = await join(db, 1, clock.now(), amount=10_000, auto=101)  # wins whenever the bust > 1.00x
    b2, _ = await join(db, 2, clock.now(), amount=10_000)
    failing = FailOnce()
    monkeypatch.setattr(crash, "crash_round", failing)
    report = await runner.run_round()
    assert failing.failed and report.stuck and report.round.id == rnd.id
    stuck = await db.read(crash.get_round, rnd.id)
    assert stuck.status == "stuck" and stuck.hash is not None
    sent = await db.read(lambda c: c.execute(select(notices.c.chat_id, notices.c.template)).all())
    assert sorted(sent) == [(9001, "crash_stuck"), (9002, "crash_stuck")]
    notice = await db.read(lambda c: c.execute(select(notices).where(notices.c.chat_id == 9001)).one())
    with get_i18n().context(), get_i18n().use_locale("en"):  # what the outbox will send
        told = render(notice.template, json.loads(notice.params))
    assert f"Crash round #{rnd.game} could not be settled: RuntimeError: settlement exploded" in told
    assert (await db.read(ledger.balance, user_account(2), "DOGE")).held == 10_000  # safe, on hold
    # The game goes on: the next round opens and plays; before it, the stuck one is settled.
    second = await runner.run_round()
    assert second is not None and not second.stuck and second.round.game == rnd.game + 1
    settled = {b.user_id: b for b in await db.read(crash.round_bets, rnd.id)}
    assert (await db.read(crash.get_round, rnd.id)).status == "crashed"
    for b in (b1, b2):  # as if settled at the bust: an auto cash-out at or below it won
        assert settled[b.user_id].status == ("won" if b.auto_cashout <= rnd.crash_point else "lost")
    assert (await db.read(ledger.balance, user_account(2), "DOGE")).held == 0
    assert (await db.read(ledger.balance, HOUSE, "DOGE")).held == 0
    templates = await db.read(
        lambda c: sorted(c.execute(select(notices.c.chat_id, notices.c.template)).all())
    )
    assert (9001, "crash_settled") in templates and (1, "crash_result") in templates


@pytest.mark.parametrize("stake", [50, 99])
async def test_a_stake_too_small_to_win_a_unit_reserves_nothing(db, stake):
    """1.01x of 50 minor units is 50: nothing to reserve (the ledger moves no zero amounts)."""
    chains, now = crash.ChainCache(KEY), utcnow()
    await setup_money(db, {1: 10_000}, house=HOUSE_FUNDS)
    await find_round(db, chains, now, lambda cp: True)
    low = Rules(edge_bp=100, min_bet=1, max_bet=10**12, max_profit_bp=100, limbo_max=100_000)
    bet, _ = await db.write(
        crash.join,
        user_id=1,
        asset="DOGE",
        amount=stake,
        auto_cashout=101,
        rules=low,
        idem="s",
        chat_id=1,
        now=now,
    )
    assert bet.auto_cashout == 101 and (await db.read(ledger.balance, HOUSE, "DOGE")).held == 0


async def test_a_full_round_refuses_with_a_clear_message(tg, db):
    """Through the real dispatcher: players joining a round at its cap read a lower auto
    cash-out, then why they cannot join; a refused join moves nothing."""
    chains, now = crash.ChainCache("k" * 40), utcnow()  # the dispatcher's SECRET_KEY
    await setup_money(db, {u: 10**9 for u in range(1, 9)}, house=HOUSE_FUNDS)
    await new_chain(db, 50, "k" * 40)
    await db.write(crash.set_salt, SALT, admin_id=1)
    await load_chain(db, chains)
    await db.write(crash.open_round, chains, betting_seconds=60, now=now)
    replies = [texts(await tg.person(u).send("/crash 0.0001 DOGE auto 2")) for u in range(1, 9)]
    assert "Auto cash-out at 2.00x" in replies[0]
    assert any(re.search(r"Auto cash-out at 1\.[0-9]{2}x", r) for r in replies)  # lowered to fit
    assert "This round cannot take more winnings" in replies[-1]
    assert await balance(db, user_account(8)) == 10**9
