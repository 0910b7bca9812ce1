"""Refusals reach the user as translated sentences, whatever the user typed."""

import pytest

from tests.fakes.formatting import parse_html
from tests.handlers.conftest import ADMIN
from tests.handlers.harness import texts


async def test_typed_text_in_a_refusal_is_escaped_for_html(tg):
    reply = texts(await tg.person(ADMIN).send("/set <b>x&y 1"))
    assert reply == "There is no setting called &lt;b&gt;x&amp;y."
    plain, _entities = parse_html(reply)  # what Telegram does under HTML parse mode; raw "<b" fails
    assert plain == "There is no setting called <b>x&y."


async def test_a_database_that_cannot_be_written_gets_a_clear_answer_not_silence(settings, db, tmp_path):
    """The writer cannot open the file: the user is told, within the write timeout, that nothing
    could be saved (the update is not left waiting forever)."""
    import asyncio

    from aiogram import Bot

    from core.platform.db import Database
    from core.platform.params import Params
    from handlers.dispatcher import build_dispatcher
    from handlers.middlewares import Throttle
    from tests.handlers.harness import BOT_TOKEN, RecordingSession, Telegram

    if not db.is_sqlite:
        pytest.skip("the writer thread is SQLite's")
    params = Params(env={})
    await params.refresh(db, force=True)  # settings were read before the file went bad
    bad_path = tmp_path / "bad.db"
    bad_path.write_bytes(b"not a database " * 100)
    bad = Database(f"sqlite+aiosqlite:///{bad_path}", write_timeout=0.3)
    await bad.start()
    try:
        session = RecordingSession()
        bot = Bot(BOT_TOKEN, session=session)
        dp = build_dispatcher(settings, bad, params=params, throttle=Throttle(limit=1000))
        tg = Telegram(dp, bot, session)
        sent = await asyncio.wait_for(tg.person(777).send("/start"), 10)
        assert "cannot save anything right now" in texts(sent)
    finally:
        await asyncio.wait_for(bad.close(), 10)
