"""Scheduled work. A job is a plain async function that calls core, like a handler.

``exclusive`` wraps a job so that with several bot instances only the one that
holds the job's lease (a row in the database) runs it.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import uuid

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core import leases
from core.db import Database

log = logging.getLogger(__name__)
INSTANCE = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def exclusive(db: Database, name: str, ttl_seconds: int = 300):
    """Run the wrapped job only if this instance holds (or can take) the lease ``name``."""

    def wrap(job):
        @functools.wraps(job)
        async def run(*args, **kwargs):
            if not await db.write(leases.acquire, name, INSTANCE, ttl_seconds):
                log.debug("job %s runs elsewhere", name)
                return None
            try:
                return await job(*args, **kwargs)
            finally:
                await db.write(leases.release, name, INSTANCE)

        return run

    return wrap


def build_scheduler(settings, db: Database, bot, params) -> AsyncIOScheduler:
    from jobs import ledger_check
    from jobs.notify import NoticeSender
    from jobs.payout_backends import from_env
    from jobs.payouts import Payouts

    scheduler = AsyncIOScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    sender = NoticeSender(db, bot, params)
    scheduler.add_job(exclusive(db, "notify", ttl_seconds=120)(sender.run_once), "interval", seconds=1)
    scheduler.add_job(
        exclusive(db, "ledger_check")(ledger_check.run),
        "interval",
        hours=1,
        args=[db, bot, settings.admin_ids],
    )
    payout_job = Payouts(
        db, params, lambda name, asset: from_env(name, asset, bot=bot, admin_ids=settings.admin_ids)
    )
    scheduler.add_job(
        exclusive(db, "payouts", ttl_seconds=600)(payout_job.run_once),
        "interval",
        seconds=params.get("payout.every"),
    )
    return scheduler
