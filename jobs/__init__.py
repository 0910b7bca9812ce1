"""Scheduled work. A job is a plain async function that calls core, like a handler.

``exclusive`` wraps a job so that with several bot instances only the one that
holds the job's lease (a row in the database) runs it. Leases are short (LEASE_SECONDS)
and renewed while a job runs, and held under ``INSTANCE``: bot.py sets it to the
deployment slot's stable name (core.config.with_instance_id), so after a crash the
restarted bot takes its leases back at once, and a dead instance's leases lapse within 30 s.

Jobs never import handlers: the words they send (notices, the ledger alert, the crash views)
are rendered by callables the composition root gives them. bot.py's ``wire_jobs`` sets
``TEXTS`` once; a job also takes its own (``render=``, ``alert=``, ``views=``), e.g. a fake in a test.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.platform import leases
from core.platform.db import Database
from core.platform.params import Params

log = logging.getLogger(__name__)
# This process's name in leases: INSTANCE_ID, else a stand-in until bot.py sets the stable one
# (before the job modules are imported: jobs.crash imports it by name).
INSTANCE = (
    os.environ.get("INSTANCE_ID") or ""
).strip() or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
LEASE_SECONDS = 30  # JOB_LEASE_SECONDS; bot.py sets it from the settings before any job runs

if TYPE_CHECKING:
    from jobs.crash import CrashViews


@dataclass(frozen=True)
class Texts:
    """What jobs send, rendered by handlers and handed over by the composition root."""

    notice: Callable[[str, str, Mapping[str, Any]], str]  # (locale, template, params) -> text
    ledger_alert: Callable[[list[str]], str]  # the problems found -> the admins' alert, in English
    crash: CrashViews
    payout_batch: Callable[[int, str, int], str]  # (batch id, asset, items) -> a manual batch's caption


TEXTS: Texts | None = None  # set by bot.wire_jobs() before any job runs


def texts() -> Texts:
    if TEXTS is None:
        raise RuntimeError("jobs.TEXTS is not set: call bot.wire_jobs() (the composition root) first")
    return TEXTS


def exclusive(db: Database, name: str, ttl_seconds: int | None = None):
    """Run the wrapped job only if this instance holds (or can take) the lease ``name``.

    While the job runs the lease is renewed every ``ttl_seconds / 3``, so a job may run
    longer than the lease (a slow payout batch). If a renewal is refused (another instance
    holds the lease) or none has succeeded for ``2/3`` of the lease, the job is cancelled
    before the lease can lapse, and returns None: a job records each step before its next
    outside call, so being stopped is like a crash it already recovers from, while two
    instances working on one batch at once is not.
    """

    def wrap(job):
        @functools.wraps(job)
        async def run(*args, **kwargs):
            ttl = ttl_seconds or LEASE_SECONDS
            if not await db.write(leases.acquire, name, INSTANCE, ttl):
                log.debug("job %s runs elsewhere", name)
                return None
            task = asyncio.ensure_future(job(*args, **kwargs))
            keeper = asyncio.create_task(_keep_lease(db, name, ttl, task))
            try:
                return await task
            except asyncio.CancelledError:
                if keeper.done() and not keeper.cancelled() and keeper.result() is False:
                    return None  # the lease was lost: stopped on purpose, logged by the keeper
                raise
            finally:
                keeper.cancel()
                await db.write(leases.release, name, INSTANCE)

        run.lease = name  # what tests/jobs/test_exclusive.py checks every job has
        return run

    return wrap


async def _keep_lease(db: Database, name: str, ttl_seconds: int, task: asyncio.Future) -> bool:
    """Renew lease ``name`` while ``task`` runs; cancel the task and return False once it is lost."""
    every = ttl_seconds / 3
    renewed = time.monotonic()
    while not task.done():
        await asyncio.sleep(every)
        try:
            held = await db.write(leases.acquire, name, INSTANCE, ttl_seconds)
        except Exception:
            log.warning("could not renew the %s lease", name, exc_info=True)
            held = time.monotonic() - renewed < ttl_seconds - every  # ours a while yet: try again
        else:
            if held:
                renewed = time.monotonic()
        if not held and not task.done():
            log.error("lost the %s lease: stopping the job (it resumes where it was recorded)", name)
            task.cancel()
            return False
    return True


def build_scheduler(
    settings, db: Database, bot, params, *, announce_proofs=None, show_broadcast_progress=None, budget=None
) -> AsyncIOScheduler:
    """``announce_proofs(roots)`` posts a day's proof of liabilities (bot.py passes the handler's);
    ``budget`` is the bot's one SendBudget (bot.py's, in Redis with REDIS_URL; else one in memory)."""
    from core.platform.budget import SendBudget
    from jobs import ledger_check
    from jobs import offers as offer_holds
    from jobs import social as social_job
    from jobs.broadcast import BroadcastSender
    from jobs.notify import NoticeSender
    from jobs.payout_backends import from_env
    from jobs.payouts import Payouts
    from jobs.trust import Trust

    scheduler = AsyncIOScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    # One send budget for the bot: notices and broadcasts together stay within broadcast.rate.
    if budget is None:
        budget = SendBudget(lambda: params.get("broadcast.rate"), total=lambda: params.get("send.rate"))
    sender = NoticeSender(db, bot, params, budget=budget)
    scheduler.add_job(exclusive(db, "notify")(sender.run_once), "interval", seconds=1)
    broadcasts = BroadcastSender(db, bot, params, budget, show_progress=show_broadcast_progress)
    scheduler.add_job(exclusive(db, "broadcast")(broadcasts.run_once), "interval", seconds=2)
    scheduler.add_job(
        exclusive(db, "ledger_check")(ledger_check.run),
        "interval",
        hours=1,
        args=[db, bot, settings.admin_ids],
    )
    payout_job = Payouts(
        db,
        params,
        lambda name, asset: from_env(
            name, asset, bot=bot, admin_ids=settings.admin_ids, secret_key=settings.secret_key
        ),
        admin_ids=settings.admin_ids,
    )
    scheduler.add_job(
        exclusive(db, "payouts")(payout_job.run_once),
        "interval",
        seconds=params.get("payout.every"),
    )
    from jobs import ads

    scheduler.add_job(
        exclusive(db, "ads")(ads.settle_joins),
        "interval",
        seconds=params.get("ads.join_check_every"),
        args=[db, params, ads.telegram_member(bot)],
    )
    scheduler.add_job(exclusive(db, "offers")(offer_holds.release), "interval", seconds=60, args=[db, params])
    scheduler.add_job(exclusive(db, "social")(social_job.run), "interval", minutes=1, args=[db, params])
    trust = Trust(
        db,
        params,
        lambda name, asset: from_env(
            name, asset, bot=bot, admin_ids=settings.admin_ids, secret_key=settings.secret_key
        ),
        secret_key=settings.secret_key,
        admin_ids=frozenset(settings.admin_ids),
        announce=announce_proofs,
    )
    # The proof is built from balances at 00:10 UTC, after the day's other jobs have settled.
    scheduler.add_job(exclusive(db, "proof")(trust.publish_proofs), "cron", hour=0, minute=10)
    scheduler.add_job(exclusive(db, "hot_wallets")(trust.read_hot_wallets), "interval", minutes=10)
    scheduler.add_job(exclusive(db, "follow_payouts")(trust.follow_payouts), "interval", minutes=1)
    from core.exchange.sources import from_settings
    from jobs.prices import PricePoller

    for source in from_settings(
        settings.price_coingecko_url, settings.price_binance_url, settings.price_coingecko_key
    ):
        poller = PricePoller(db, params, source, admin_ids=settings.admin_ids)
        scheduler.add_job(  # one lease per source: a slow source never delays the other
            exclusive(db, f"prices:{source.name}")(poller.run_once),
            "interval",
            seconds=params.get("prices.every"),  # stored prices stay fresh across a restart
        )
    add_loyalty_jobs(scheduler, db, params)
    return scheduler


def add_loyalty_jobs(scheduler: AsyncIOScheduler, db: Database, params: Params) -> None:
    """The daily bonus and the staking epoch at 00:05 UTC, streak reminders at 21:00 UTC, and
    unstaked DUST released every minute once its cooldown ends; each under its own lease."""
    from jobs.daily import DailyJob
    from jobs.staking import StakingJob

    daily_job, staking_job = DailyJob(db, params), StakingJob(db, params)
    scheduler.add_job(exclusive(db, "daily")(daily_job.run_once), "cron", hour=0, minute=5)
    scheduler.add_job(exclusive(db, "daily_remind")(daily_job.remind_once), "cron", hour=21, minute=0)
    scheduler.add_job(exclusive(db, "staking")(staking_job.distribute), "cron", hour=0, minute=5)
    scheduler.add_job(exclusive(db, "unstakes")(staking_job.release_once), "interval", minutes=1)
