"""Replies, jobs' messages and 429s go through the bot's one send budget (the session middleware):
replies use the headroom a broadcast leaves, a sender that paid is not charged twice, crash edits
draw as bulk, and a 429 on any call pauses everyone."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter

from core.platform.budget import SendBudget, bulk_lane
from core.platform.params import Params
from handlers.common.send_budget import draws, install
from handlers.dispatcher import build_dispatcher
from tests.core.platform.test_budget import FakeTime
from tests.fakes.bot_api import FakeBotAPI
from tests.handlers.harness import BOT_TOKEN, RecordingSession, Telegram


def budget_on(bot: Bot, rate: int, total: int) -> tuple[SendBudget, FakeTime]:
    t = FakeTime()
    budget = SendBudget(rate, total=total, clock=t.clock, sleep=t.sleep)
    install(bot, budget)
    return budget, t


async def test_replies_draw_from_the_budget_and_keep_the_headroom(settings, db):
    session = RecordingSession()
    bot = Bot(BOT_TOKEN, session=session)
    budget, t = budget_on(bot, rate=2, total=3)
    telegram = Telegram(build_dispatcher(settings, db, params=Params(env={})), bot, session)
    for _ in range(2):
        await asyncio.create_task(budget.acquire())  # a broadcast (its own tasks) used its whole lane
    start = t.now
    first = await telegram.person(501).send("/help")
    assert "Dustpan commands" in first[-1].text
    assert t.now == start  # the reply went at once, in the headroom
    second = await telegram.person(502).send("/help")
    assert "Dustpan commands" in second[-1].text
    assert t.now >= start + 1.1  # the whole budget was used: even a reply waited for the window


async def test_a_paid_message_is_not_charged_twice_and_crash_edits_are_bulk():
    async with FakeBotAPI() as api:
        bot = api.make_bot()
        try:
            budget, t = budget_on(bot, rate=1, total=5)
            api.user(7)
            await budget.acquire(7)  # a notice paid for itself, with its chat
            start = t.now
            await bot.send_message(7, "paid")
            assert t.now == start and len(budget._memory.sent) == 1
            await bot.send_message(7, "again")  # the next one to the chat draws (a reply: no chat wait)
            assert len(budget._memory.sent) == 2
            bulk_lane()  # what the crash runner's edit tasks do
            await bot.send_message(7, "bulk")  # waits: the bulk lane (1) and the chat (1 a second)
            assert t.now >= start + 1.0 and budget._memory.sent[-1] == t.now
        finally:
            await bot.session.close()


async def test_a_429_on_any_call_pauses_the_budget():
    async with FakeBotAPI() as api:
        bot = api.make_bot()
        try:
            budget, t = budget_on(bot, rate=30, total=30)
            api.user(8)
            api.fail_next("sendMessage", 429, "Too Many Requests: retry after 5", retry_after=5)
            with pytest.raises(TelegramRetryAfter):
                await bot.send_message(8, "hi")
            start = t.now
            assert await budget.acquire(9, reply=True) >= start + 5
        finally:
            await bot.session.close()


def test_what_counts_as_a_message():
    from aiogram.methods import AnswerCallbackQuery, EditMessageText, GetMe, SendChatAction, SendMessage

    assert draws(SendMessage(chat_id=1, text="x")) and draws(
        EditMessageText(text="x", chat_id=1, message_id=2)
    )
    assert not draws(SendChatAction(chat_id=1, action="typing"))
    assert not draws(AnswerCallbackQuery(callback_query_id="1")) and not draws(GetMe())
