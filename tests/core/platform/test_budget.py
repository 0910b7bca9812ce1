"""The bot's one send budget: a sliding window per lane, per chat, paused by a 429; shared by
instances through Redis (two budgets on separate connections behave as one), in memory without."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid

import pytest

from core.platform.budget import SendBudget

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


class FakeTime:
    """A clock that moves only when someone sleeps: the rules, without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1e-6)
        await asyncio.sleep(0)


def memory(rate, total=None, t: FakeTime | None = None) -> tuple[SendBudget, FakeTime]:
    t = t or FakeTime()
    return SendBudget(rate, total=total, clock=t.clock, sleep=t.sleep), t


def most_in_any(times: list[float], window: float) -> int:
    """The largest number of grants in any half-open interval of length ``window``."""
    times, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# ------------------------------------------------------------------ in memory (one instance)


async def test_never_more_than_the_rate_in_any_window():
    budget, _ = memory(10)
    grants = [await budget.acquire() for _ in range(55)]
    assert most_in_any(grants, 1.1) == 10
    assert grants[-1] - grants[0] >= 5 * 1.1  # 55 grants need five full windows after the first


async def test_replies_use_the_headroom_a_broadcast_leaves():
    budget, t = memory(5, total=8)
    start = t.now
    for _ in range(5):
        await budget.acquire()  # a broadcast fills its lane
    assert t.now == start
    for _ in range(3):
        await budget.acquire(reply=True)  # the headroom: no wait
    assert t.now == start
    await budget.acquire(reply=True)  # the whole budget is used: even a reply waits now
    assert t.now == pytest.approx(start + 1.1)


async def test_a_private_chat_gets_one_bulk_message_a_second_a_group_twenty_a_minute():
    budget, t = memory(30)
    first = await budget.acquire(7)
    second = await budget.acquire(7)
    assert second - first >= 1.0
    reply = await budget.acquire(7, reply=True)  # a reply to the user's own update never waits
    assert reply == second
    group = [await budget.acquire(-100) for _ in range(21)]
    assert most_in_any(group, 60.0) == 20 and group[-1] - group[0] >= 60.0


async def test_a_429_pauses_every_lane():
    budget, t = memory(30)
    await budget.hold(3)
    start = t.now
    assert await budget.acquire(reply=True) >= start + 3


# ------------------------------------------------------------------ in Redis (several instances)


@pytest.fixture
async def redis_pair():
    """Two clients on separate connections, as two instances have."""
    from redis.asyncio import Redis

    clients = [Redis.from_url(REDIS_URL, socket_connect_timeout=1) for _ in range(2)]
    try:
        await clients[0].ping()
    except Exception:
        for c in clients:
            await c.aclose()
        pytest.skip(f"needs Redis at {REDIS_URL} (set TEST_REDIS_URL, or start redis-server)")
    key = f"dustpan:send:test:{uuid.uuid4().hex}"
    yield clients, key
    await clients[0].delete(*[k async for k in clients[0].scan_iter(key + "*")] or [key])
    for c in clients:
        await c.aclose()


def shared(clients, key, rate, total=None) -> list[SendBudget]:
    return [SendBudget(rate, total=total, redis=c, key=key) for c in clients]


async def test_two_instances_never_pass_the_rate_together(redis_pair):
    clients, key = redis_pair
    rate, each = 20, 45
    budgets = shared(clients, key, rate)
    grants: list[float] = []

    async def sender(budget: SendBudget, n: int) -> None:
        for _ in range(n):
            grants.append(await budget.acquire())

    # Four senders on each instance, as the broadcast workers and the notices are.
    await asyncio.gather(*(sender(b, each // 3 + (i < each % 3)) for b in budgets for i in range(3)))
    assert len(grants) == 2 * each
    assert most_in_any(grants, 1.1) == rate  # Redis's clock: the grants as the budget made them
    assert max(grants) - min(grants) >= (2 * each // rate - 1) * 1.1


async def test_a_429_on_one_instance_pauses_the_other(redis_pair):
    clients, key = redis_pair
    a, b = shared(clients, key, 30)
    before = await a.acquire()
    await a.hold(0.8)
    after = await b.acquire(reply=True)
    assert after - before >= 0.8


async def test_the_chat_limit_holds_across_instances(redis_pair):
    clients, key = redis_pair
    a, b = shared(clients, key, 30)
    chat = 424242
    first = await a.acquire(chat)
    second = await b.acquire(chat)
    assert second - first >= 1.0
    group = -1001
    grants = [await (a if i % 2 else b).acquire(group) for i in range(20)]
    assert most_in_any(grants, 60.0) == 20  # twenty fit; the 21st would wait a minute
    assert await a.acquire(group, reply=True) - grants[-1] < 1.0  # a reply in the group does not


async def test_replies_keep_their_headroom_across_instances(redis_pair):
    clients, key = redis_pair
    a, b = shared(clients, key, 3, total=5)
    start = await a.acquire()
    for _ in range(2):
        await a.acquire()
    # The bulk lane is full on a; b's replies still go at once, up to the whole budget.
    replies = [await b.acquire(reply=True) for _ in range(2)]
    assert max(replies) - start < 0.5
    late = await b.acquire()  # b's bulk message waits for the window
    assert late - start >= 1.1


async def test_redis_unreachable_falls_back_to_memory_and_says_so_once(caplog):
    from redis.asyncio import Redis

    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    budget = SendBudget(1000, redis=dead, key="dustpan:send:test:dead")
    with caplog.at_level(logging.WARNING, logger="core.platform.budget"):
        for _ in range(5):
            await budget.acquire()
        await budget.hold(0.01)
        await budget.acquire()
    assert not budget.shared
    lines = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(lines) == 1
    await dead.aclose()
