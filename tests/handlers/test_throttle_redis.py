"""With REDIS_URL, the flood limit is shared by every bot instance."""

import os
import uuid

import pytest
from aiogram import Bot

from core.platform.params import Params
from handlers.dispatcher import build_dispatcher
from handlers.middlewares import Throttle
from tests.handlers.harness import BOT_TOKEN, RecordingSession, Telegram

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def redis():
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        pytest.skip(f"needs Redis at {REDIS_URL} (set TEST_REDIS_URL)")
    yield client
    await client.aclose()


async def test_two_instances_share_one_limit(settings, db, redis):
    user_id = int(uuid.uuid4().int % 10**9) + 10**9  # fresh counters on a shared server
    instances = []
    for _ in range(2):
        session = RecordingSession()
        dp = build_dispatcher(
            settings, db, params=Params(env={}), throttle=Throttle(limit=6, window=60, redis=redis)
        )
        instances.append(Telegram(dp, Bot(BOT_TOKEN, session=session), session))
    people = [t.person(user_id) for t in instances]
    for i in range(20):
        await people[i % 2].send("/help")
    sent = [s for t in instances for s in t.session.sent]
    assert len([s for s in sent if "Dustpan commands" in (s.text or "")]) == 6
    assert len([s for s in sent if "Too many taps" in (s.text or "")]) == 1
