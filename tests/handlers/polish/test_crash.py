"""Issue 12, item 14 through the real dispatcher and the real runner (on an injected clock)."""

from __future__ import annotations

import asyncio
import functools
from datetime import timedelta

from core.money.accounts import user_account
from core.platform.params import Params
from core.platform.schema import utcnow
from core.play import crash
from handlers.play.crash import tell_opened
from jobs.crash import CrashRunner
from tests.handlers.harness import texts
from tests.play import balance, load_chain, new_chain, setup_money

A, B = 111, 112
KEY = "k" * 40  # the tg fixture's SECRET_KEY
SALT = "00000000000000000002a0d9b1c2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0"


class FakeClock:
    def __init__(self):
        self.t = utcnow()

    def now(self):
        return self.t

    async def sleep(self, seconds):
        self.t += timedelta(seconds=seconds)
        await asyncio.sleep(0)


async def salted(db) -> None:
    await new_chain(db, 100, KEY)
    await db.write(crash.set_salt, SALT, admin_id=1)


def runner_for(tg, db, clock) -> CrashRunner:
    params = Params(env={"CRASH_BETTING_SECONDS": "5"})
    return CrashRunner(
        db, tg.bot, params, KEY, clock=clock, tick=0.1, on_open=functools.partial(tell_opened, tg.bot)
    )


def edits_of(tg, chat: int, message_id: int | None = None):
    return [
        s
        for s in tg.session.sent
        if s.method == "editMessageText"
        and s.chat_id == chat
        and (message_id is None or s.message_id == message_id)
    ]


async def test_before_setup_users_are_told_crash_is_not_open_yet(tg, db):
    await setup_money(db, {A: 10**8})
    alice = tg.person(A)
    out = texts(await alice.send("/crash 0.0001 DOGE"))
    assert "not open yet" in out and "few seconds" not in out
    assert "not open yet" in texts(await alice.send("/crash"))
    assert await balance(db, user_account(A)) == 10**8


async def test_crash_typed_while_a_round_runs_joins_the_next_one(tg, db):
    await salted(db)
    await setup_money(db, {A: 10**8, B: 10**8})
    clock = FakeClock()
    runner = runner_for(tg, db, clock)
    await load_chain(db, runner.chains)
    rnd = await db.write(
        crash.open_round, runner.chains, betting_seconds=5, now=utcnow() - timedelta(seconds=9)
    )
    await db.write(crash.start_round, rnd.id, now=utcnow() - timedelta(seconds=2))  # running now
    alice = tg.person(A)
    queued = (await alice.send("/crash 0.0001 DOGE auto 1.5"))[-1]
    assert (
        f"round #{rnd.game} is being played now" in queued.text
        and "in the queue for the next round" in queued.text
    )
    assert "already in the queue" in texts(await alice.send("/crash 0.0002 DOGE"))
    assert await balance(db, user_account(A)) == 10**8  # nothing reserved while waiting
    await db.write(crash.crash_round, rnd.id, "00" * 32, now=utcnow())
    report = await runner.run_round()  # opens the next round: the queued join is made and told
    await runner.flush()
    assert report.round.id != rnd.id
    (bet,) = [b for b in report.bets if b.user_id == A]
    assert bet.amount == 10_000 and bet.asked == 150 and bet.message_id == queued.message_id
    opened = edits_of(tg, A, queued.message_id)
    assert opened and f"Crash round #{report.round.game}" in opened[0].text
    assert "Auto cash-out at 1.50x" in opened[0].text and "starts in" in opened[0].text
    assert any("Cash out" in b[0] for b in opened[0].buttons())
    # the betting window counts down in the same message, one edit a second at most
    counts = [e.text for e in opened if "starts in" in (e.text or "")]
    assert len(counts) >= 3 and any("starts in 2 s" in t for t in counts) and "starts in 1 s" in counts[-1]
    assert len([s for s in tg.session.sent if s.chat_id == A and s.method == "sendMessage"]) == 2  # one view


async def test_auto_cash_out_shown_only_when_set_and_the_cap_as_the_cap(tg, db):
    await salted(db)
    await setup_money(db, {A: 10**8, B: 10**8}, house=10**9)  # the cap: 0.1 DOGE per bet
    runner = runner_for(tg, db, FakeClock())
    await load_chain(db, runner.chains)
    await db.write(crash.open_round, runner.chains, betting_seconds=30)
    alice, bob = tg.person(A), tg.person(B)
    plain = texts(await alice.send("/crash 0.0001 DOGE"))
    assert "Auto cash-out" not in plain and "Profit cap: the bet cashes out by itself at 1001.00x" in plain
    assert "starts in 30 s" in plain or "starts in 29 s" in plain
    asked = texts(await bob.send("/crash 0.0001 DOGE auto 2"))
    assert "Auto cash-out at 2.00x" in asked and "Profit cap" not in asked


async def test_an_auto_cash_out_shows_at_once_and_removes_the_button(tg, db):
    await salted(db)
    await setup_money(db, {A: 10**8})
    clock = FakeClock()
    runner = runner_for(tg, db, clock)
    await load_chain(db, runner.chains)
    while True:  # a round that reaches 1.30x
        rnd = await db.write(crash.open_round, runner.chains, betting_seconds=5, now=clock.now())
        if rnd.crash_point >= 200:
            break
        await db.write(crash.start_round, rnd.id, now=clock.now())
        await db.write(crash.crash_round, rnd.id, "00" * 32, now=clock.now())
    bet, _rnd = await db.write(
        crash.join,
        user_id=A,
        asset="DOGE",
        amount=10_000,
        auto_cashout=130,
        rules=__import__("tests.play", fromlist=["RULES"]).RULES,
        idem="auto",
        chat_id=A,
        now=clock.now(),
    )
    await db.write(crash.set_message, bet.id, 4242)
    await runner.run_round()
    await runner.flush()
    views = edits_of(tg, A, 4242)
    done = [i for i, e in enumerate(views) if "Auto cash-out at 1.30x: 0.00013000 DOGE" in (e.text or "")]
    assert done, [e.text for e in views]
    assert views[done[0]].markup is None
    assert all(not any("Cash out" in b[0] for b in e.buttons()) for e in views[done[0] :])
    assert await balance(db, user_account(A)) == 10**8 + 3_000


async def test_crash_bets_appear_in_bets_with_the_hash_and_a_verify_link(tg, db):
    await salted(db)
    await setup_money(db, {A: 10**8})
    clock = FakeClock()
    runner = runner_for(tg, db, clock)
    await load_chain(db, runner.chains)
    rnd = await db.write(crash.open_round, runner.chains, betting_seconds=30)
    alice = tg.person(A)
    await alice.send("/crash 0.0001 DOGE auto 1.01")
    assert "open" in texts(await alice.send("/bets"))
    await db.write(crash.start_round, rnd.id)
    game_hash = runner.chains.game_hash(rnd.chain_id, rnd.game).hex()
    await db.write(crash.crash_round, rnd.id, game_hash)
    listing = texts(await alice.send("/bets"))
    assert (
        f"Round #{rnd.game}" in listing and game_hash[:16] in listing and f"/crashround_{rnd.id}" in listing
    )
    proof = texts(await alice.send(f"/crashround_{rnd.id}"))
    assert game_hash in proof and SALT in proof and "terminating hash" in proof and "⚠️" not in proof
    assert f"Crash point from it: {rnd.crash_point // 100}." in proof
    assert "not over yet" in texts(await alice.send("/crashround 999"))


async def test_cash_out_removes_the_button_at_once(tg, db):
    await salted(db)
    await setup_money(db, {A: 10**8})
    runner = runner_for(tg, db, FakeClock())
    await load_chain(db, runner.chains)
    while True:
        rnd = await db.write(crash.open_round, runner.chains, betting_seconds=30)
        if rnd.crash_point >= 200:
            break
        await db.write(crash.start_round, rnd.id)
        await db.write(crash.crash_round, rnd.id, "00" * 32)
    alice = tg.person(A)
    joined = (await alice.send("/crash 0.0001 DOGE"))[-1]
    from core.play import crash_chain

    await db.write(
        crash.start_round, rnd.id, now=utcnow() - timedelta(milliseconds=crash_chain.time_to_reach(150))
    )
    sent = await alice.tap(joined.buttons()[0][1], joined)
    (edit,) = [s for s in sent if s.method == "editMessageText"]
    assert "You cashed out at 1.5" in edit.text and edit.markup is None
