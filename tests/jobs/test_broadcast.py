"""Broadcasts against the fake Bot API: exactly once per reachable user, within the budget,
through 429s, 403s and a sender killed mid-way and started again."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from sqlalchemy import insert

from core.identity import users as users_core
from core.ops import broadcasts as bc
from core.platform.budget import SendBudget
from core.platform.params import Params
from core.platform.schema import users, utcnow
from jobs.broadcast import WORKERS, BroadcastSender
from tests.fakes.bot_api import FakeBotAPI

ADMIN = 1
N = int(__import__("os").environ.get("BC_N", "10000"))
RATE = 400  # the test lifts Telegram's 25/s so 10,000 sends take seconds, the window rule is the same


def _seed(conn, ids):
    now = utcnow()
    conn.execute(
        insert(users),
        [dict(id=i, first_name="u", language_code="en", created_at=now, seen_at=now) for i in ids],
    )


def recording(budget: SendBudget, granted: list[float]) -> SendBudget:
    acquire = budget.acquire

    async def timed(*args, **kwargs) -> float:
        at = await acquire(*args, **kwargs)
        granted.append(time.time())
        return at

    budget.acquire = timed  # type: ignore[method-assign]
    return budget


def max_in_any_second(times: list[float]) -> int:
    times, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@pytest.mark.timeout(400)
async def test_ten_thousand_users_429_403_and_a_kill_mid_way(db):
    ids = list(range(10_001, 10_001 + N))
    blocked = set(ids[::97])
    await db.write(_seed, ids)
    async with FakeBotAPI() as api:
        for i in ids:
            api.user(i)._chat().blocked = i in blocked
        bot = api.make_bot()
        try:
            bid = await db.write(bc.create_draft, ADMIN, "<b>Big news</b> for everyone")
            assert await db.write(bc.start, bid, bc.Segment.parse("everyone"), admin_id=ADMIN) == N
            granted: list[float] = []
            first = BroadcastSender(db, bot, Params(env={}), recording(SendBudget(RATE), granted))
            api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", times=2, retry_after=1)
            task = asyncio.create_task(first.run_once())
            await api.wait_until(lambda: len(api.calls) >= N // 3, timeout=120)
            task.cancel()  # the bot dies mid-broadcast
            await asyncio.gather(task, return_exceptions=True)
            killed_at = len(api.calls)
            assert (await db.read(bc.progress, bid)).left > 0

            api.fail_next(
                "sendMessage", 500, "Internal Server Error", times=2
            )  # retried (a third failure would give up)
            await asyncio.sleep(1.2)  # a restart takes longer than this: the new budget starts empty
            second = BroadcastSender(
                db, bot, Params(env={}), recording(SendBudget(RATE), granted)
            )  # a new process
            await second.run_once()
        finally:
            await bot.session.close()

        ok = [c for c in api.calls if c.method == "sendMessage" and c.ok]
        per_chat = Counter(c.chat_id for c in ok)
        assert max(per_chat.values()) == 1  # nobody twice, across the kill
        states = await db.read(bc.recipients, bid)
        in_doubt = [u for u, s in states.items() if s == bc.IN_DOUBT]
        assert len(in_doubt) <= WORKERS  # in flight when the bot died, never sent again
        reachable = set(ids) - blocked
        assert set(per_chat) <= reachable
        assert reachable - set(per_chat) <= set(in_doubt)
        assert {u for u, s in states.items() if s == bc.BLOCKED} == blocked
        assert sum(1 for c in api.calls if c.status == 429) == 2
        assert killed_at < len(api.calls)
        p = await db.read(bc.progress, bid)
        assert (p.state, p.left, p.blocked) == (bc.DONE, 0, len(blocked))
        # In-doubt recipients count as failed even when their message did arrive before the kill.
        assert p.sent == len(set(per_chat) - set(in_doubt)) and p.failed == len(in_doubt)

        # The budget, measured where Telegram would measure it: never above RATE in any second,
        # and nothing at all during a 429's retry_after.
        # The grants of the budget: never above RATE in any second. At the server, a loaded machine's
        # jitter can bunch arrivals by at most the requests in flight (one per worker).
        assert max_in_any_second(granted) <= RATE
        sends = [c.time for c in api.calls if c.method == "sendMessage"]
        assert max_in_any_second(sends) <= RATE + WORKERS
        # Only the sends already in flight (one per worker) may arrive during the wait.
        first_429 = next(c for c in api.calls if c.status == 429)
        during = [c for c in sends if first_429.time < c < first_429.time + 0.9]
        assert len(during) < WORKERS


async def test_blocked_users_are_marked_and_left_out_next_time(db):
    await db.write(_seed, [5, 6])
    async with FakeBotAPI() as api:
        api.user(5)
        api.user(6)._chat().blocked = True
        bot = api.make_bot()
        try:
            bid = await db.write(bc.create_draft, ADMIN, "hi")
            await db.write(bc.start, bid, bc.Segment.parse("everyone"), admin_id=ADMIN)
            assert await BroadcastSender(db, bot, Params(env={}), SendBudget(25)).run_once() == 1
            again = await db.write(bc.create_draft, ADMIN, "again")
            assert await db.write(bc.start, again, bc.Segment.parse("everyone"), admin_id=ADMIN) == 1
        finally:
            await bot.session.close()


async def test_the_job_edits_the_admins_progress_message_and_a_pause_stops_it(tg, db):
    from handlers.admin.broadcast import make_show_progress
    from tests.handlers.conftest import ADMIN as ROOT

    admin = tg.person(ROOT, first_name="Root", username="root")
    await admin.send("/start")
    for uid in (301, 302):
        await tg.person(uid, username=f"u{uid}").send("/start")
    await admin.send("/broadcast <i>hello</i>")
    await admin.tap_button("Everyone")
    await admin.tap_button("Confirm")
    b = await db.read(bc.get_broadcast, 1)
    await admin.tap_button("Pause")
    sender = BroadcastSender(db, tg.bot, Params(env={}), SendBudget(25), show_progress=make_show_progress(db))
    assert await sender.run_once() == 0  # paused: nothing goes out
    await admin.tap_button("Resume")
    before = len(tg.session.sent)
    assert await sender.run_once() == 3
    out = tg.session.sent[before:]
    assert sorted(s.chat_id for s in out if s.method == "sendMessage") == [301, 302, ROOT]
    edits = [s for s in out if s.method == "editMessageText" and s.params["message_id"] == b.progress_message]
    assert "done" in edits[-1].text and "Sent: 3" in edits[-1].text and edits[-1].markup is None
    assert await sender.run_once() == 0  # done: never again


async def test_a_403_on_a_notice_marks_the_user_counted_apart_until_they_write_again(tg, db):
    from aiogram.exceptions import TelegramForbiddenError
    from aiogram.methods import SendMessage

    from core.platform import notices
    from jobs.notify import NoticeSender
    from tests.handlers.conftest import ADMIN as ROOT
    from tests.handlers.harness import texts

    admin = tg.person(ROOT, first_name="Root", username="root")
    await admin.send("/start")
    alice = tg.person(401, username="alice401")
    await alice.send("/start")
    await db.write(notices.enqueue, 401, "text", {"text": "hi"})
    original = tg.session.make_request

    async def refuse_alice(bot, method, timeout=None):
        if isinstance(method, SendMessage) and method.chat_id == 401:
            raise TelegramForbiddenError(method=method, message="Forbidden: bot was blocked by the user")
        return await original(bot, method, timeout)

    tg.session.make_request = refuse_alice
    await NoticeSender(db, tg.bot, Params(env={}), budget=SendBudget(25)).run_once()
    tg.session.make_request = original
    assert "Blocked the bot: 1" in texts(await admin.send("/admin"))
    assert await db.read(bc.count_segment, bc.Segment.parse("everyone")) == 1  # the admin only

    await db.write(users_core.upsert_user, id=401, username="alice401", first_name="A", language_code="en")
    assert "Blocked the bot: 0" in texts(await admin.send("/admin"))
    assert await db.read(bc.count_segment, bc.Segment.parse("everyone")) == 2
