"""Double taps and dropped taps (issue 12, items 1 and 2): "message is not modified" is success,
and every callback query is answered exactly once, whether handled, throttled or failed."""

from __future__ import annotations

import asyncio
from collections import Counter

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties

from core.platform.params import Params
from handlers.dispatcher import build_dispatcher
from handlers.middlewares import Throttle
from tests.handlers.harness import BOT_TOKEN, RecordingSession, Sent, Telegram, texts

FAILURE = "something went wrong"


def answers(sent: list[Sent]) -> list[Sent]:
    return [s for s in sent if s.method == "answerCallbackQuery"]


def answered_ids(sent: list[Sent]) -> Counter:
    return Counter(s.params["callback_query_id"] for s in answers(sent))


async def test_double_tap_on_menu_screens_is_success_answered_once(tg):
    alice = tg.person(501)
    await alice.send("/start")
    for button, data in (("balance", "m:balance"), ("help", "m:help"), ("menu", "m:home")):
        first = await alice.tap(data)
        second = await alice.tap(data, first[0])  # the same tap again on the same message
        for sent in (first, second):
            assert [s.method for s in sent].count("answerCallbackQuery") == 1, (button, sent)
            assert FAILURE not in texts(sent)
            assert not any(s.params.get("show_alert") for s in answers(sent)), button
        assert [s.method for s in second] == ["answerCallbackQuery"]  # the screen is already right


async def test_not_modified_from_telegram_is_success(tg):
    """Another instance (or a lost memory) sends the edit anyway: Telegram's "message is not
    modified" is then success, not "something went wrong"."""
    from handlers.common.taps import QuietEdits

    alice = tg.person(506)
    await alice.send("/start")
    first = await alice.tap("m:balance")
    for m in tg.bot.session.middleware:
        if isinstance(m, QuietEdits):
            m.screens.clear()
    second = await alice.tap("m:balance", first[0])
    assert [s.method for s in second] == ["editMessageText", "answerCallbackQuery"]
    assert FAILURE not in texts(second) and not answers(second)[0].params.get("show_alert")


async def test_limits_one_day_twice_is_not_a_failure(tg):
    bob = tg.person(502)
    await bob.send("/limits")
    first = await bob.tap("lx:1")
    second = await bob.tap("lx:1", first[0])
    assert FAILURE not in texts(first + second) and "Games paused." in str(answers(first)[0].params)
    assert len(answers(first)) == 1 and len(answers(second)) == 1


async def test_a_failed_tap_is_answered_once_with_the_failure(tg, monkeypatch):
    carol = tg.person(503)
    await carol.send("/start")

    async def broken(db, user):
        raise RuntimeError("boom")

    monkeypatch.setattr("handlers.home.wallet.balance_text", broken)
    sent = await carol.tap("m:balance")
    assert len(answers(sent)) == 1
    assert FAILURE in answers(sent)[0].params["text"] and answers(sent)[0].params["show_alert"]


async def test_a_tap_answered_before_a_failure_is_not_answered_again(tg, monkeypatch):
    """A handler that answered its tap and then failed: the failure comes as a message (a
    second answer would never reach the phone), and only one answer is sent."""
    from handlers.common import taps

    dan = tg.person(504)
    await dan.send("/start")

    async def answers_then_fails(db, user):
        tap = taps._tap.get()
        assert tap is not None
        await tg.bot.answer_callback_query(tap.id, "working on it")
        await tg.bot.answer_callback_query(tap.id, "and again")
        raise RuntimeError("boom")

    monkeypatch.setattr("handlers.home.wallet.balance_text", answers_then_fails)
    sent = await dan.tap("m:balance")
    assert [s.params.get("text") for s in answers(sent)] == ["working on it"]
    assert [s.method for s in sent if FAILURE in (s.text or "")] == ["sendMessage"]


async def test_throttled_taps_are_all_answered_once(settings, db):
    """Ten taps at once, one allowed in flight: the dropped ones still get an answer (one polite
    notice, the rest an empty answer), and no tap is answered twice."""
    session = RecordingSession()
    bot = Bot(BOT_TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    params = Params(env={})
    dp = build_dispatcher(settings, db, params=params, throttle=Throttle(limit=1000, in_flight=1))
    tg = Telegram(dp, bot, session)
    eve = tg.person(505)
    await eve.send("/start")
    menu = tg.last_with_buttons(505)
    before = len(session.sent)
    await asyncio.gather(*(eve.tap("m:balance", menu) for _ in range(10)))
    sent = session.sent[before:]
    ids = answered_ids(sent)
    assert len(ids) == 10 and set(ids.values()) == {1}, ids
    notices = [s for s in answers(sent) if "Easy there" in (s.params.get("text") or "")]
    assert len(notices) == 1
    assert FAILURE not in texts(sent)
