"""The daily bonus job: a second run, or a run killed in the middle and started again, pays each user once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.loyalty import daily, points
from core.money import ledger
from core.money.accounts import user_account
from core.platform.params import Params
from jobs.daily import DailyJob

DAY_START = datetime(2026, 3, 1, tzinfo=UTC)
RUN_AT = DAY_START + timedelta(days=1, minutes=5)  # 00:05 UTC the day after


def params() -> Params:
    p = Params(env={})
    p._stored.update({"rp.bonus.tiers": "1:5,3:15"})
    p._loaded_at = 1e18  # no reload from the database in this test
    return p


async def rp(db, user: int) -> int:
    return (await db.read(ledger.balance, user_account(user), "RP")).available


async def test_run_twice_and_resumed_after_a_kill_pays_each_user_once(db):
    for user in range(1, 8):
        for _ in range(user % 4):  # 1, 2, 3, 0, 1, 2, 3 actions
            await db.write(points.count_action, user, DAY_START + timedelta(hours=user))
    await db.write(points.count_action, 99, RUN_AT)  # today's action: not in yesterday's bonus
    day = points.day_of(DAY_START)
    rules = points.rules_from(params())
    # a first run that died after its first chunk (users 1 and 2)
    assert await db.write(daily.pay_bonus, rules, day, after=0, limit=2, now=RUN_AT) == (2, 2, 0)
    job = DailyJob(db, params(), clock=lambda: RUN_AT, chunk=2)
    report = await job.run_once()
    assert (report.day, report.paid, report.replayed) == (day, 4, 0)  # resumed after user 2
    again = await job.run_once()
    assert (again.paid, again.replayed) == (0, 0)
    assert [await rp(db, u) for u in range(1, 8)] == [5, 5, 15, 0, 5, 5, 15]
    assert await rp(db, 99) == 0
    # even without the progress row, the keys pay nobody twice
    from sqlalchemy import delete

    from core.loyalty.tables import daily_progress

    await db.write(lambda c: c.execute(delete(daily_progress)))
    third = await job.run_once()
    assert (third.paid, third.replayed) == (0, 6)
    assert [await rp(db, u) for u in range(1, 8)] == [5, 5, 15, 0, 5, 5, 15]


async def test_the_job_settles_yesterdays_streaks(db):
    r = points.rules_from(params())
    await db.write(daily.check_in, r, 1, DAY_START - timedelta(hours=1))  # checked in the day before only
    report = await DailyJob(db, params(), clock=lambda: RUN_AT).run_once()
    assert (report.frozen, report.broken) == (0, 1)
    assert (await db.read(daily.streak_of, 1)).streak == 0
