"""jobs.exclusive: one instance runs a job; the lease is renewed while the job runs, and a
job whose lease is lost stops before another instance can take over its work."""

import asyncio

from sqlalchemy import select, update

from core.platform import leases
from core.platform.schema import leases as leases_table
from jobs import exclusive


async def test_a_job_longer_than_its_lease_keeps_it(db):
    steps = []

    async def long_job():
        steps.append("start")
        await asyncio.sleep(2.5)  # longer than the 1 s lease
        steps.append("end")
        return "done"

    run = asyncio.create_task(exclusive(db, "payouts", ttl_seconds=1)(long_job)())
    await asyncio.sleep(1.6)
    assert not await db.write(leases.acquire, "payouts", "other-instance", 1)  # still held
    assert await run == "done" and steps == ["start", "end"]
    assert await db.write(leases.acquire, "payouts", "other-instance", 1)  # released at the end


async def test_another_instance_runs_nothing_while_the_lease_is_held(db):
    ran = []

    async def job():
        ran.append(True)

    assert await db.write(leases.acquire, "payouts", "other-instance", 60)
    assert await exclusive(db, "payouts", ttl_seconds=60)(job)() is None
    assert ran == []


async def test_a_job_that_loses_its_lease_is_stopped(db):
    steps = []

    async def job():
        for i in range(40):  # 4 s of work in steps, e.g. one payment each
            steps.append(i)
            await asyncio.sleep(0.1)
        return "finished"

    run = asyncio.create_task(exclusive(db, "payouts", ttl_seconds=1)(job)())
    await asyncio.sleep(0.2)

    def steal(conn):  # e.g. this instance stalled and another one took the lease over
        conn.execute(update(leases_table).where(leases_table.c.name == "payouts").values(holder="thief"))

    await db.write(steal)
    assert await asyncio.wait_for(run, 3) is None
    stopped_at = len(steps)
    assert stopped_at < 10  # stopped within a renewal period (1/3 s), not after 4 s
    await asyncio.sleep(0.3)
    assert len(steps) == stopped_at  # and it stays stopped
    holder = await db.read(
        lambda c: c.execute(select(leases_table.c.holder).where(leases_table.c.name == "payouts")).scalar()
    )
    assert holder == "thief"  # the lease it lost was left alone


async def test_a_restarted_instance_takes_its_own_lease_back_at_once(db):
    """An instance killed mid-job leaves its lease behind. Restarted under the same name (its
    deployment slot), it takes the lease again at once; any other instance waits for it to lapse."""
    from datetime import timedelta

    from core.platform.schema import utcnow

    taken = utcnow()
    assert await db.write(leases.acquire, "payouts", "host:slot0", 30, now=taken)
    # kill -9: no release. The restarted process, seconds later:
    later = taken + timedelta(seconds=5)
    assert not await db.write(leases.acquire, "payouts", "host:slot1", 30, now=later)
    assert await db.write(leases.acquire, "payouts", "host:slot0", 30, now=later)
    (lease,) = await db.read(leases.all_leases)
    assert (lease.holder, lease.since, lease.expires_at) == ("host:slot0", taken, later + timedelta(seconds=30))
    # A dead instance's lease lapses within one lease time: 30 s, not minutes.
    assert await db.write(leases.acquire, "payouts", "host:slot1", 30, now=later + timedelta(seconds=31))
    (lease,) = await db.read(leases.all_leases)
    assert (lease.holder, lease.since) == ("host:slot1", later + timedelta(seconds=31))


async def test_jobs_hold_short_leases_renewed_while_they_run(db):
    import jobs

    held = []

    async def job():
        held.append(await db.read(leases.all_leases))

    await exclusive(db, "notify")(job)()
    (lease,) = held[0]
    assert lease.holder == jobs.INSTANCE and (lease.expires_at - lease.since).total_seconds() <= 60
    (after,) = await db.read(leases.all_leases)
    assert after.holder == jobs.INSTANCE and not after.held(lease.since)  # released, last holder kept


async def test_every_scheduled_job_runs_under_a_lease_of_its_own(settings, db):
    """With several instances each job runs on one at a time: build_scheduler wraps every job,
    the daily RP bonus and the staking rewards included, in ``exclusive`` (the crash runner takes
    its own ``crash`` lease)."""
    from aiogram import Bot

    from core.platform.params import Params
    from jobs import build_scheduler
    from tests.handlers.harness import BOT_TOKEN, RecordingSession

    bot = Bot(BOT_TOKEN, session=RecordingSession())
    scheduler = build_scheduler(settings, db, bot, Params(env={}))
    names = [getattr(job.func, "lease", None) for job in scheduler.get_jobs()]
    assert None not in names, [job.name for job in scheduler.get_jobs()]
    assert len(names) == len(set(names))  # no two jobs share one: a slow job never delays another
    assert {"notify", "broadcast", "payouts", "daily", "daily_remind", "staking", "unstakes"} <= set(names)
