"""The crash runner on an injected clock: rounds run, settle at the bust, views stay in budget."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from aiogram import Bot

from core.money.accounts import user_account
from core.platform import leases
from core.platform.params import Params
from core.platform.schema import utcnow
from core.play import crash, crash_chain
from jobs.crash import CrashRunner, EditBudget
from tests.core.play.test_crash import KEY, SALT
from tests.handlers.harness import BOT_TOKEN, RecordingSession
from tests.play import RULES, balance, load_chain, new_chain, setup_money


class FakeClock:
    def __init__(self):
        self.t = utcnow()

    def now(self):
        return self.t

    async def sleep(self, seconds):
        self.t += timedelta(seconds=seconds)
        await asyncio.sleep(0)


def test_edit_budget_is_fair_and_bounded():
    budget = EditBudget(rate=25)
    chats = list(range(100))
    t = 0.0
    while t < 10:
        budget.pick(t, chats)
        t += 0.1
    per_second = Counter(int(at) for at, _ in budget.sent)
    assert max(per_second.values()) <= 25 + 25  # the bucket starts full: one burst at most
    assert sum(per_second.values()) <= 25 * 10 + 25
    per_chat = Counter(chat for _, chat in budget.sent)
    assert max(per_chat.values()) - min(per_chat.values()) <= 1  # round-robin: everyone gets a turn
    by_chat: dict[int, list[float]] = {}
    for at, chat in budget.sent:
        by_chat.setdefault(chat, []).append(at)
    assert all(
        b - a >= 1 - 1e-9 for times in by_chat.values() for a, b in zip(times, times[1:], strict=False)
    )


async def test_runner_plays_a_round_and_settles_at_the_bust(db):
    clock = FakeClock()
    params = Params(env={"CRASH_BETTING_SECONDS": "5"})
    session = RecordingSession()
    bot = Bot(BOT_TOKEN, session=session)
    runner = CrashRunner(db, bot, params, KEY, clock=clock, tick=0.1)
    assert await runner.run_round() is None  # no chain yet
    await new_chain(db, 100, KEY)
    assert await runner.run_round() is None  # no salt yet
    await db.write(crash.set_salt, SALT, admin_id=1)
    await setup_money(db, {u: 100_000 for u in range(1, 31)})
    await load_chain(db, runner.chains)
    while True:
        rnd = await db.write(crash.open_round, runner.chains, betting_seconds=5, now=clock.now())
        if rnd.crash_point >= 150:
            break
        await db.write(crash.start_round, rnd.id, now=clock.now())
        await db.write(crash.crash_round, rnd.id, "00" * 32, now=clock.now())
    for u in range(1, 31):
        bet, _ = await db.write(
            crash.join,
            user_id=u,
            asset="DOGE",
            amount=10_000,
            auto_cashout=120 if u % 2 else None,
            rules=RULES,
            idem=f"j{u}",
            chat_id=u,
            now=clock.now(),
        )
        await db.write(crash.set_message, bet.id, 5000 + u)
    report = await runner.run_round()
    await runner.flush()
    assert report.round.id == rnd.id and report.settled_late_by < timedelta(seconds=1)
    assert all(b.status in ("won", "lost") for b in report.bets)
    for u in range(1, 31):
        want = 102_000 if u % 2 else 90_000
        assert await balance(db, user_account(u)) == want
    edits = [s for s in session.sent if s.method == "editMessageText"]
    assert edits and any("crashed at" in (s.text or "") for s in edits)
    by_chat: dict[int, int] = Counter(s.chat_id for s in edits)
    seconds = (report.round.bust_at() - report.round.started_at).total_seconds()
    # ≤ 1 a second while running, plus the final one, plus the countdown while betting (5 s, issue 12)
    assert max(by_chat.values()) <= int(seconds) + 2 + 6
    revealed = (await db.read(crash.get_round, rnd.id)).hash
    chain = await db.read(crash.latest_chain)
    assert crash_chain.verifies_to_terminating(bytes.fromhex(revealed), bytes.fromhex(chain.commitment), 200)
    assert crash_chain.crash_point(bytes.fromhex(revealed), SALT) == rnd.crash_point


async def test_only_one_runner_holds_the_lease(db):
    from core.platform import leases

    clock = FakeClock()
    params = Params(env={})
    bot = Bot(BOT_TOKEN, session=RecordingSession())
    first = CrashRunner(db, bot, params, KEY, clock=clock)
    assert await first._lease()
    assert not await db.write(leases.acquire, "crash", "someone-else", 30, now=clock.now())
    first.start()
    await asyncio.sleep(0.05)
    await first.stop()
    assert await db.write(leases.acquire, "crash", "someone-else", 30, now=clock.now())


async def test_a_runner_loads_chains_itself_and_resumes_after_a_restart(db):
    """The runner builds a chain (in a worker thread) the first time it needs it: for a new
    chain's first round, and for the hash of a round it resumes after a restart."""
    clock = FakeClock()
    params = Params(env={"CRASH_BETTING_SECONDS": "1"})
    bot = Bot(BOT_TOKEN, session=RecordingSession())
    await new_chain(db, 30, KEY)
    await db.write(crash.set_salt, SALT, admin_id=1)
    first = await CrashRunner(db, bot, params, KEY, clock=clock, tick=0.5).run_round()
    assert first is not None and first.round.game == 1
    before_restart = CrashRunner(db, bot, params, KEY, clock=clock)
    rnd = await before_restart._open_round()
    await db.write(crash.start_round, rnd.id, now=clock.now())  # the instance dies here
    report = await CrashRunner(db, bot, params, KEY, clock=clock, tick=0.5).run_round()
    assert report.round.id == rnd.id and report.round.game == 2
    game_1 = bytes.fromhex((await db.read(crash.get_round, first.round.id)).hash)
    game_2 = bytes.fromhex((await db.read(crash.get_round, rnd.id)).hash)
    assert crash_chain.verify_link(game_1, game_2)  # SHA-256(game 2's hash) == game 1's
    assert crash_chain.crash_point(game_2, SALT) == rnd.crash_point


class ContestedClock(FakeClock):
    """A second instance tries to take the crash lease at every tick of the first one."""

    def __init__(self, db):
        super().__init__()
        self.db, self.taken_at = db, []

    async def sleep(self, seconds):
        await super().sleep(seconds)
        if await self.db.write(leases.acquire, "crash", "other-instance", 30, now=self.t):
            self.taken_at.append(self.t)


async def test_the_lease_is_held_through_a_long_betting_window(db):
    clock = ContestedClock(db)
    params = Params(env={"CRASH_BETTING_SECONDS": "120"})  # four lease lifetimes
    runner = CrashRunner(db, Bot(BOT_TOKEN, session=RecordingSession()), params, KEY, clock=clock, tick=1)
    await new_chain(db, 30, KEY)
    await db.write(crash.set_salt, SALT, admin_id=1)
    assert await runner._lease()
    report = await runner.run_round()
    assert clock.taken_at == [] and report is not None  # nobody else ran any part of it
    assert (await db.read(crash.get_round, report.round.id)).status == "crashed"


async def test_a_runner_that_lost_the_lease_leaves_the_round_to_the_holder(db):
    clock = FakeClock()
    params = Params(env={"CRASH_BETTING_SECONDS": "120"})
    runner = CrashRunner(db, Bot(BOT_TOKEN, session=RecordingSession()), params, KEY, clock=clock, tick=1)
    await new_chain(db, 30, KEY)
    await db.write(crash.set_salt, SALT, admin_id=1)
    # Another instance holds the lease: the round opened here is not started here.
    assert await db.write(leases.acquire, "crash", "other-instance", 3600, now=clock.now())
    assert await runner.run_round() is None
    rnd = await db.read(crash.current_round)
    assert rnd is not None and rnd.status == "betting"
