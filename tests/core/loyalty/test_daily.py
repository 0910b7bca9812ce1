"""Check-ins, streaks across UTC midnight, freezes, and the daily bonus (clock injected)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from core.loyalty import daily, points
from core.loyalty.errors import LoyaltyError
from core.loyalty.points import Rules
from core.money import ledger
from core.money.accounts import user_account
from core.platform.params import Params

U = 42
T0 = datetime(2026, 3, 1, 23, 59, 30, tzinfo=UTC)


def _rules(**kw) -> Rules:
    base = points.rules_from(Params(env={}))
    fields = {f: getattr(base, f) for f in base.__slots__}
    fields.update(kw)
    return Rules(**fields)


async def rp(db, user: int = U) -> int:
    return (await db.read(ledger.balance, user_account(user), "RP")).available


async def test_streak_grows_across_utc_midnight_and_pays_more_each_day(db):
    r = _rules(daily_base=10, daily_step=5, daily_max=22)
    first = await db.write(daily.check_in, r, U, T0)
    assert (first.points, first.streak, first.next_in) == (10, 1, 30)
    second = await db.write(daily.check_in, r, U, T0 + timedelta(seconds=31))  # 00:00:01 next day
    assert (second.points, second.streak) == (15, 2)
    third = await db.write(daily.check_in, r, U, T0 + timedelta(days=1, seconds=31))
    assert (third.points, third.streak) == (20, 3)
    fourth = await db.write(daily.check_in, r, U, T0 + timedelta(days=2, seconds=31))
    assert (fourth.points, fourth.streak) == (22, 4)  # capped at rp.daily.max
    assert await rp(db) == 10 + 15 + 20 + 22


async def test_a_second_check_in_the_same_day_moves_nothing(db):
    r = _rules()
    await db.write(daily.check_in, r, U, T0 - timedelta(hours=10))
    with pytest.raises(LoyaltyError) as err:
        await db.write(daily.check_in, r, U, T0)
    assert err.value.reason == "already_checked_in" and err.value.params["seconds"] == 30
    assert await rp(db) == 10


async def test_a_missed_day_resets_the_streak_without_a_freeze(db):
    r = _rules(daily_base=10, daily_step=5)
    await db.write(daily.check_in, r, U, T0)
    await db.write(daily.check_in, r, U, T0 + timedelta(days=1))
    got = await db.write(daily.check_in, r, U, T0 + timedelta(days=3))  # day +2 missed
    assert (got.streak, got.points, got.freezes_used) == (1, 10, 0)


async def test_a_missed_day_uses_a_freeze_and_keeps_the_streak(db):
    r = _rules(daily_base=10, daily_step=5, freeze_price=20)
    await db.write(daily.check_in, r, U, T0)
    await db.write(daily.check_in, r, U, T0 + timedelta(days=1))  # 25 RP now
    assert await db.write(daily.buy_freeze, r, U, key="f1", now=T0 + timedelta(days=1)) == 1
    assert await db.write(daily.buy_freeze, r, U, key="f1", now=T0 + timedelta(days=1)) == 1  # replay
    assert await rp(db) == 5
    got = await db.write(daily.check_in, r, U, T0 + timedelta(days=3))
    assert (got.streak, got.points, got.freezes_used, got.freezes_left) == (3, 20, 1, 0)


async def test_the_job_settles_streaks_with_and_without_freezes(db):
    r = _rules(freeze_price=5)
    for user in (1, 2):
        await db.write(daily.check_in, r, user, T0)
    await db.write(daily.buy_freeze, r, 1, key="f", now=T0)
    day = points.day_of(T0) + 1  # nobody checked in that day
    assert await db.write(daily.settle_streaks, day) == (1, 1)
    assert await db.write(daily.settle_streaks, day) == (0, 0)  # run twice: nothing more
    one, two = await db.read(daily.streak_of, 1), await db.read(daily.streak_of, 2)
    assert (one.streak, one.freezes, one.covered_day) == (1, 0, day)
    assert two.streak == 0
    got = await db.write(daily.check_in, r, 1, T0 + timedelta(days=2))
    assert got.streak == 2


async def test_twenty_taps_at_once_pay_once(db):
    r = _rules()
    results = await asyncio.gather(
        *(db.write(daily.check_in, r, U, T0) for _ in range(20)), return_exceptions=True
    )
    ok = [x for x in results if isinstance(x, daily.CheckIn)]
    refused = [x for x in results if isinstance(x, LoyaltyError) and x.reason == "already_checked_in"]
    assert (len(ok), len(refused)) == (1, 19), results
    assert await rp(db) == 10


async def test_daily_bonus_pays_by_activity_once_even_when_run_again(db):
    r = _rules(tiers=((1, 5), (3, 15)))
    for user, actions in ((1, 1), (2, 3), (3, 7)):
        for _ in range(actions):
            await db.write(points.count_action, user, T0)
    day = points.day_of(T0)
    now = T0 + timedelta(minutes=6)
    last, paid, replayed = await db.write(daily.pay_bonus, r, day, after=0, limit=2, now=now)
    assert (last, paid, replayed) == (2, 2, 0)
    # killed here, run again from the start: the first two are replays, the rest is paid
    last, paid, replayed = await db.write(daily.pay_bonus, r, day, after=0, limit=10, now=now)
    assert (last, paid, replayed) == (3, 1, 2)
    assert await db.write(daily.pay_bonus, r, day, after=3, limit=10, now=now) == (0, 0, 0)
    assert [await rp(db, u) for u in (1, 2, 3)] == [5, 15, 15]
    t = await db.read(ledger.get_transfer, key=f"rp:daily:3:{T0.date().isoformat()}")
    assert t is not None and t.amount == 15


async def test_reminders_go_to_opted_in_live_streaks_only(db):
    from sqlalchemy import select

    from core.platform.notices import notices

    r = _rules()
    for user in (1, 2, 3):
        await db.write(daily.check_in, r, user, T0)
    await db.write(daily.set_reminders, 1, True)
    await db.write(daily.set_reminders, 3, True)
    await db.write(daily.check_in, r, 3, T0 + timedelta(hours=12))  # already checked in tomorrow
    evening = T0 + timedelta(hours=21, seconds=30)  # 21:00 the next day
    assert await db.write(daily.remind, evening) == (1, 1)
    assert await db.write(daily.remind, evening) == (1, 1)  # the key keeps it to one notice
    rows = await db.read(lambda c: c.execute(select(notices.c.chat_id, notices.c.params)).all())
    assert [(row.chat_id, row.params) for row in rows] == [(1, '{"hours": 3, "streak": 1}')]
